package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// TestECRAWSCLI runs test/cli/aws_cli_test.sh (the AWS CLI with the
// Docker CLI) against a fresh Berth. The AWS CLI and a Docker daemon are
// required: their absence fails the test.
func TestECRAWSCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("the AWS CLI (aws) is required for this test and is not on PATH: %v", err)
	}
	ctx := testContext(t, 4*time.Minute)
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Fatalf("the Docker Engine is required for this test and `docker info` failed: %v\n%s", err, out)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	s := startBerth(t)

	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "test", "cli", "aws_cli_test.sh"))
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "DOCKER_CONFIG=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "BERTH_ENDPOINT="+s.url(""), "AWS_ACCESS_KEY_ID="+rootKeyID,
		"AWS_SECRET_ACCESS_KEY="+rootSecret, "AWS_DEFAULT_REGION="+ecrRegion)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("aws_cli_test.sh:\n%s", out.String())
	if err != nil {
		t.Fatalf("aws_cli_test.sh failed: %v", err)
	}
	if !strings.Contains(out.String(), "aws_cli_test.sh: PASS") {
		t.Fatalf("aws_cli_test.sh exited 0 without reporting PASS")
	}
	// The script cleans up after itself: its repository is gone.
	repos, err := s.ecr().DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range repos.Repositories {
		t.Errorf("repository %s left behind by the script", aws.ToString(r.RepositoryName))
	}
}
