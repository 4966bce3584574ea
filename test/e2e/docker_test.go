package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// dockerCLI runs the docker client with its own config directory, so the
// test's login never touches the user's.
type dockerCLI struct {
	t      *testing.T
	config string
}

func (d dockerCLI) run(ctx context.Context, stdin string, args ...string) (string, error) {
	d.t.Helper()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+d.config, "DOCKER_BUILDKIT=0")
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	d.t.Logf("docker %s:\n%s", strings.Join(args, " "), strings.TrimSpace(out.String()))
	return out.String(), err
}

func (d dockerCLI) must(ctx context.Context, stdin string, args ...string) string {
	d.t.Helper()
	out, err := d.run(ctx, stdin, args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestDockerPushPullRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 3*time.Minute)
	docker := dockerCLI{t: t, config: t.TempDir()}
	if out, err := docker.run(ctx, "", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("the Docker Engine is required for this test and `docker info` failed: %v\n%s", err, out)
	}
	s := startBerth(t, withCreateOnPush())

	nonce := randomHex(t, 8)
	line := "hello from berth e2e " + nonce
	buildDir := t.TempDir()
	buildHello(t, ctx, buildDir, line)
	dockerfile := "FROM scratch\nCOPY hello /hello\nENTRYPOINT [\"/hello\"]\n"
	if err := os.WriteFile(filepath.Join(buildDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}

	repoName := "e2e/hello-" + nonce
	image := s.host + "/" + repoName + ":v1"
	label := "berth-e2e=" + nonce
	t.Cleanup(func() { removeDockerImages(t, docker, image, label) })

	docker.must(ctx, "", "build", "--force-rm", "--label", label, "-t", image, buildDir)
	if out, err := docker.run(ctx, "wrong-secret-0123456789", "login", s.host, "-u", rootKeyID, "--password-stdin"); err == nil {
		t.Errorf("docker login with a wrong secret succeeded:\n%s", out)
	}
	docker.must(ctx, rootSecret, "login", s.host, "-u", rootKeyID, "--password-stdin")
	pushed := docker.must(ctx, "", "push", image)
	m := regexp.MustCompile(`v1: digest: (sha256:[0-9a-f]{64}) size: \d+`).FindStringSubmatch(pushed)
	if m == nil {
		t.Fatalf("docker push printed no digest:\n%s", pushed)
	}

	// What docker pushed is a valid image in Berth under that digest.
	ref := s.repo(t, repoName).Tag("v1")
	desc, err := remote.Head(ref, remoteOpts(ctx)...)
	if err != nil {
		t.Fatalf("head pushed image: %v", err)
	}
	if desc.Digest.String() != m[1] {
		t.Errorf("berth has %s under v1, docker pushed %s", desc.Digest, m[1])
	}
	pulled, err := remote.Image(ref, remoteOpts(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	verifyImage(t, ctx, ref, pulled)

	docker.must(ctx, "", "rmi", image)
	if out, err := docker.run(ctx, "", "image", "inspect", image); err == nil {
		t.Fatalf("image still present after docker rmi:\n%s", out)
	}
	pulledOut := docker.must(ctx, "", "pull", image)
	if !strings.Contains(pulledOut, m[1]) {
		t.Errorf("docker pull output does not name digest %s:\n%s", m[1], pulledOut)
	}
	out := docker.must(ctx, "", "run", "--rm", "--pull=never", "--network=none", image)
	if strings.TrimSpace(out) != line {
		t.Errorf("docker run printed %q, want %q", strings.TrimSpace(out), line)
	}
	docker.must(ctx, "", "logout", s.host)
}

// buildHello compiles a static program printing line into dir/hello.
func buildHello(t *testing.T, ctx context.Context, dir, line string) {
	t.Helper()
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(" + `"` + line + `"` + ") }\n"
	srcDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(srcDir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srcDir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "hello"), ".")
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hello: %v\n%s", err, out)
	}
}

// removeDockerImages deletes the test's image and anything built with its
// label, whatever state the test stopped in.
func removeDockerImages(t *testing.T, docker dockerCLI, image, label string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = docker.run(ctx, "", "rmi", "-f", image)
	out, err := docker.run(ctx, "", "image", "ls", "-q", "--filter", "label="+label)
	if err != nil {
		return
	}
	if ids := strings.Fields(out); len(ids) > 0 {
		_, _ = docker.run(ctx, "", append([]string{"rmi", "-f"}, ids...)...)
	}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
