package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/testenv"
)

// TestClusterBootstrap starts three nodes at once on an empty PostgreSQL
// database without a configured root key: exactly one generates, prints
// and saves the root key, and the key works on every node. A node with
// another secrets key, or none, refuses to start and says why; one given
// the key in a file (base64) joins.
func TestClusterBootstrap(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 3*time.Minute)
	dsn := testenv.PostgresDatabase(t)
	nodes := make([]*server, 3)
	for i := range nodes {
		nodes[i] = newServer(t, withFlags("--database", dsn, "--node-name", fmt.Sprintf("boot-%d", i+1)),
			func(o *serverOptions) { o.noRootKey = true })
	}
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, s := range nodes {
		wg.Go(func() { errs[i] = s.startOnFreePort() })
	}
	wg.Wait()
	var creds []string
	printed := 0
	for i, s := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v\n%s", i+1, errs[i], s.logs.String())
		}
		if strings.Contains(s.logs.String(), "Berth created account") {
			printed++
		}
		if b, err := os.ReadFile(filepath.Join(s.dataDir, "root-credentials")); err == nil {
			creds = append(creds, string(b))
		}
	}
	if printed != 1 || len(creds) != 1 {
		t.Fatalf("%d nodes printed a new root key and %d saved one; want exactly one", printed, len(creds))
	}
	id := regexp.MustCompile(`aws_access_key_id = (\S+)`).FindStringSubmatch(creds[0])
	secret := regexp.MustCompile(`aws_secret_access_key = (\S+)`).FindStringSubmatch(creds[0])
	if id == nil || secret == nil {
		t.Fatalf("root-credentials: %q", creds[0])
	}
	for i, s := range nodes {
		if _, err := s.ecrAs(accessKey{id[1], secret[1]}).DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{}); err != nil {
			t.Errorf("node %d refused the generated root key: %v", i+1, err)
		}
	}
	// Request log lines name their node (the line follows the answer).
	for i, s := range nodes {
		line := regexp.MustCompile(fmt.Sprintf(`msg=request node=boot-%d .*route=DescribeRepositories`, i+1))
		waitUntil(t, 5*time.Second, fmt.Sprintf("node %d's request line with its name", i+1), func() bool {
			return line.MatchString(s.logs.String())
		})
	}

	refused := func(what string, env []string, want string, args ...string) string {
		t.Helper()
		args = append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database", dsn}, args...)
		cmd := exec.CommandContext(ctx, berthBin, args...)
		cmd.Env = append(berthEnv(), env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("node with %s: %v, want a refusal saying %q:\n%s", what, err, want, out)
		}
		if strings.Contains(string(out), strings.TrimPrefix(testSecretsKeyEnv, "BERTH_SECRETS_KEY=")) {
			t.Errorf("node with %s printed the secrets key", what)
		}
		return string(out)
	}
	other := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	// The stored root key does not open; in an account without one, the
	// check value the first node stored does not.
	refused("another secrets key", []string{"BERTH_SECRETS_KEY=" + other}, "cannot open the stored root access key")
	if out := refused("another secrets key and account", []string{"BERTH_SECRETS_KEY=" + other},
		"not the key this database was set up with", "--account-id", "111111111111"); strings.Contains(out, "root access key") {
		t.Errorf("refused for the root key, not the check value:\n%s", out)
	}
	refused("no secrets key", nil, "every node must be given the same secrets key")
	refused("a short secrets key", []string{"BERTH_SECRETS_KEY=c2hvcnQ="}, "want base64 of 32 bytes")

	keyFile := filepath.Join(t.TempDir(), "secrets.key")
	if err := os.WriteFile(keyFile, []byte(strings.TrimPrefix(testSecretsKeyEnv, "BERTH_SECRETS_KEY=")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startBerth(t, withFlags("--database", dsn, "--secrets-key-file", keyFile))
	if _, err := s.ecrAs(accessKey{id[1], secret[1]}).DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{}); err != nil {
		t.Errorf("a node given the key in a file refused the root key: %v", err)
	}
}

// TestClusterPostgresOutage restarts, then stops and starts, the one
// PostgreSQL of three nodes while each node serves a loop of pulls: while
// the database is down every failure on every node is a clean 503
// UNAVAILABLE (never a 500, never a hang), and every node serves again by
// itself once it is back.
func TestClusterPostgresOutage(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 5*time.Minute)
	pg := testenv.StartCluster(t, testenv.ClusterOptions{})
	c := startCluster(t, 3, clusterOptions{dsn: pg.Server().NewDatabase(t)})
	if _, err := c.nodes[0].ecr().CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")}); err != nil {
		t.Fatal(err)
	}
	img := randomImage(t, 4096, 2)
	if err := remote.Write(c.nodes[1].repo(t, "team/app").Tag("v1"), img, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push: %v", err)
	}
	loops := make([]*pullLoop, len(c.nodes))
	for i, s := range c.nodes {
		loops[i] = startPullLoop(ctx, s.repo(t, "team/app").Tag("v1"))
	}
	waitAll := func(since time.Time, what string, ok func([]pullOutcome) bool) {
		t.Helper()
		for i, l := range loops {
			l.waitFor(t, since, 30*time.Second, fmt.Sprintf("node %d: %s", i+1, what), ok)
		}
	}
	waitAll(time.Now(), "pulls before the outage", lastSucceeded(3))

	restarted := time.Now()
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitAll(restarted, "pulls succeeding after a restart", lastSucceeded(5))

	down := time.Now()
	pg.Stop()
	waitAll(down, "503s while the database is down", func(os []pullOutcome) bool { return count(os, pullOutcome.unavailable) >= 3 })
	for i, s := range c.nodes {
		if r := s.rawAs(t, http.MethodGet, "/readyz", "", "", "", nil); r.Status != http.StatusServiceUnavailable {
			t.Errorf("node %d /readyz while the database is down: %d, want 503", i+1, r.Status)
		}
	}
	up := time.Now()
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitAll(up, "pulls succeeding after the database is back", lastSucceeded(5))

	for i, l := range loops {
		all := l.halt()
		for _, o := range all {
			if o.err != nil && !o.unavailable() {
				t.Errorf("node %d: pull at %s failed with %v, want only 503 UNAVAILABLE", i+1, o.at.Format("15:04:05.000"), o.err)
			}
			if o.took >= pullBound {
				t.Errorf("node %d: pull at %s took %s: hung", i+1, o.at.Format("15:04:05.000"), o.took)
			}
		}
		t.Logf("node %d: %d pulls, %d failed with 503 during the outages", i+1, len(all), count(all, pullOutcome.unavailable))
	}
	// Writes work again, through another node than the one that pushed.
	img2 := randomImage(t, 2048, 1)
	if err := remote.Write(c.nodes[2].repo(t, "team/app").Tag("v2"), img2, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push after the outage: %v", err)
	}
	verifyImage(t, ctx, c.nodes[0].repo(t, "team/app").Tag("v2"), img2)
}
