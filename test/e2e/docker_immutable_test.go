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

// TestDockerImmutableTag: in an IMMUTABLE repository, docker pushes a new
// tag, and a second push of that tag with another image is refused with a
// message naming the tag; the tag keeps its first image, and a new tag
// still pushes.
func TestDockerImmutableTag(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 3*time.Minute)
	docker := dockerCLI{t: t, config: t.TempDir()}
	if out, err := docker.run(ctx, "", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("the Docker Engine is required for this test and `docker info` failed: %v\n%s", err, out)
	}
	s := startBerth(t)
	nonce := randomHex(t, 8)
	repoName := "e2e/immutable-" + nonce
	if _, err := s.ecr().CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repoName),
		ImageTagMutability: types.ImageTagMutabilityImmutable}); err != nil {
		t.Fatal(err)
	}
	label := "berth-e2e=" + nonce
	image, other := s.host+"/"+repoName+":v1", s.host+"/"+repoName+":v2"
	t.Cleanup(func() { removeDockerImages(t, docker, image, label); removeDockerImages(t, docker, other, label) })
	build := func(content string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "content"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY content /content\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		docker.must(ctx, "", "build", "--force-rm", "--label", label, "-t", image, dir)
	}
	docker.must(ctx, rootSecret, "login", s.host, "-u", rootKeyID, "--password-stdin")

	build("first " + nonce)
	pushed := docker.must(ctx, "", "push", image)
	m := regexp.MustCompile(`v1: digest: (sha256:[0-9a-f]{64})`).FindStringSubmatch(pushed)
	if m == nil {
		t.Fatalf("docker push printed no digest:\n%s", pushed)
	}

	build("second " + nonce)
	out, err := docker.run(ctx, "", "push", image)
	if err == nil {
		t.Fatalf("a second push of immutable tag v1 with another image succeeded:\n%s", out)
	}
	if !strings.Contains(out, "v1") || !strings.Contains(strings.ToLower(out), "immutable") {
		t.Errorf("docker push refused without naming the immutable tag:\n%s", out)
	}
	desc, err := remote.Head(s.repo(t, repoName).Tag("v1"), remoteOpts(ctx)...)
	if err != nil || desc.Digest.String() != m[1] {
		t.Errorf("v1 is %v (%v), want the first image %s", desc, err, m[1])
	}

	docker.must(ctx, "", "tag", image, other)
	docker.must(ctx, "", "push", other)
	docker.must(ctx, "", "logout", s.host)
}
