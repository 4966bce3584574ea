package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestAccessDockerWithUsers: docker logs in with IAM users' keys; the
// PowerUser pushes and pulls, the ReadOnly user pulls and cannot push.
func TestAccessDockerWithUsers(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 3*time.Minute)
	pusherCLI := dockerCLI{t: t, config: t.TempDir()}
	readerCLI := dockerCLI{t: t, config: t.TempDir()}
	if out, err := pusherCLI.run(ctx, "", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("the Docker Engine is required for this test and `docker info` failed: %v\n%s", err, out)
	}
	s := startBerth(t)
	const repo = "docker/app"
	createRepo(t, ctx, s.ecr(), repo)
	pusher := s.createUser(t, ctx, userSpec{name: "pusher", managed: []string{powerUserPolicy}})
	reader := s.createUser(t, ctx, userSpec{name: "reader", managed: []string{readOnlyPolicy}})

	nonce := randomHex(t, 8)
	buildDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(buildDir, "hello.txt"), []byte("hello "+nonce+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(buildDir, "Dockerfile"), []byte("FROM scratch\nCOPY hello.txt /hello.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := s.host + "/" + repo + ":v1"
	readerImage := s.host + "/" + repo + ":by-reader"
	label := "berth-e2e=" + nonce
	t.Cleanup(func() {
		removeDockerImages(t, pusherCLI, readerImage, label)
		removeDockerImages(t, pusherCLI, image, label)
	})
	pusherCLI.must(ctx, "", "build", "--force-rm", "--label", label, "-t", image, buildDir)

	pusherCLI.must(ctx, pusher.secret, "login", s.host, "-u", pusher.id, "--password-stdin")
	pushed := pusherCLI.must(ctx, "", "push", image)
	m := regexp.MustCompile(`v1: digest: (sha256:[0-9a-f]{64}) size: \d+`).FindStringSubmatch(pushed)
	if m == nil {
		t.Fatalf("docker push printed no digest:\n%s", pushed)
	}
	desc, err := remote.Head(s.repo(t, repo).Tag("v1"), remoteOpts(ctx)...)
	if err != nil || desc.Digest.String() != m[1] {
		t.Fatalf("berth has %v (%v) under v1, docker pushed %s", desc, err, m[1])
	}

	readerCLI.must(ctx, reader.secret, "login", s.host, "-u", reader.id, "--password-stdin")
	// The reader cannot push, not even a new tag of layers already there.
	readerCLI.must(ctx, "", "tag", image, readerImage)
	out, err := readerCLI.run(ctx, "", "push", readerImage)
	if err == nil {
		t.Errorf("docker push as reader succeeded:\n%s", out)
	} else if !strings.Contains(out, "denied") || !strings.Contains(out, "user/reader is not authorized to perform: ecr:") {
		t.Errorf("docker push as reader failed without AWS's denial:\n%s", out)
	}
	_, err = s.ecr().DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("by-reader")}}})
	wantException[*types.ImageNotFoundException](t, "the tag reader's docker push named", err)

	// Both pull: drop the local copies first so the pull really downloads.
	pusherCLI.must(ctx, "", "rmi", readerImage, image)
	pulled := readerCLI.must(ctx, "", "pull", image)
	if !strings.Contains(pulled, m[1]) {
		t.Errorf("docker pull as reader does not name digest %s:\n%s", m[1], pulled)
	}
	pusherCLI.must(ctx, "", "rmi", image)
	pulled = pusherCLI.must(ctx, "", "pull", image)
	if !strings.Contains(pulled, m[1]) {
		t.Errorf("docker pull as pusher does not name digest %s:\n%s", m[1], pulled)
	}
	pusherCLI.must(ctx, "", "logout", s.host)
	readerCLI.must(ctx, "", "logout", s.host)
}
