package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-registry/berth/internal/testenv"
)

// pullBound is the longest one pull may take, outage or not: a request
// that waits longer counts as hung.
const pullBound = 15 * time.Second

// pullOutcome is one pull of the loop.
type pullOutcome struct {
	at   time.Time
	took time.Duration
	err  error // nil, or the first failure
}

// unavailable reports whether a pull failed as an outage must: 503 with
// the OCI code UNAVAILABLE.
func (o pullOutcome) unavailable() bool {
	var te *transport.Error
	return errors.As(o.err, &te) && te.StatusCode == http.StatusServiceUnavailable &&
		len(te.Errors) > 0 && te.Errors[0].Code == "UNAVAILABLE"
}

// pullLoop pulls ref whole (manifest, config, every layer) over and over
// with go-containerregistry, retries off, until stopped.
type pullLoop struct {
	mu       sync.Mutex
	outcomes []pullOutcome
	stop     chan struct{}
	done     chan struct{}
}

func startPullLoop(ctx context.Context, ref name.Reference) *pullLoop {
	l := &pullLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			pctx, cancel := context.WithTimeout(ctx, pullBound)
			err := pullWhole(pctx, ref)
			cancel()
			l.mu.Lock()
			l.outcomes = append(l.outcomes, pullOutcome{at: start, took: time.Since(start), err: err})
			l.mu.Unlock()
		}
	}()
	return l
}

func pullWhole(ctx context.Context, ref name.Reference) error {
	img, err := remote.Image(ref, remoteOpts(ctx)...)
	if err != nil {
		return err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// since returns the outcomes of pulls started at or after t.
func (l *pullLoop) since(t time.Time) []pullOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.IndexFunc(l.outcomes, func(o pullOutcome) bool { return !o.at.Before(t) })
	if i < 0 {
		return nil
	}
	return slices.Clone(l.outcomes[i:])
}

// waitFor polls the outcomes since t until ok holds, or fails after within.
func (l *pullLoop) waitFor(t *testing.T, since time.Time, within time.Duration, what string, ok func([]pullOutcome) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok(l.since(since)) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within %s; pulls since: %s", what, within, summarize(l.since(since)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *pullLoop) halt() []pullOutcome {
	close(l.stop)
	<-l.done
	return l.since(time.Time{})
}

func summarize(os []pullOutcome) string {
	var b strings.Builder
	for _, o := range os[max(0, len(os)-10):] {
		fmt.Fprintf(&b, "\n  %s took %s: %v", o.at.Format("15:04:05.000"), o.took.Round(time.Millisecond), o.err)
	}
	return fmt.Sprintf("%d pulls, last ones:%s", len(os), b.String())
}

func count(os []pullOutcome, f func(pullOutcome) bool) int {
	n := 0
	for _, o := range os {
		if f(o) {
			n++
		}
	}
	return n
}

// lastSucceeded reports whether the last n outcomes all succeeded.
func lastSucceeded(n int) func([]pullOutcome) bool {
	return func(os []pullOutcome) bool {
		return len(os) >= n && count(os[len(os)-n:], func(o pullOutcome) bool { return o.err == nil }) == n
	}
}

// TestPostgresOutage runs berth on PostgreSQL, pushes and pulls with a
// real client, and restarts the database while a loop of pulls runs:
// during the outage every failure is a 503 UNAVAILABLE (never a 500, never
// a hang), the ECR and IAM APIs answer their own 503 errors, and the
// service comes back by itself without restarting berth.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := testenv.StartCluster(t, testenv.ClusterOptions{})
	dsn := pg.Server().NewDatabase(t)
	s := startBerth(t, withFlags("--database", dsn, "--db-max-conns", "8"))
	ctx := testContext(t, 5*time.Minute)
	if _, err := s.ecr().CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")}); err != nil {
		t.Fatal(err)
	}
	img := randomImage(t, 4096, 3)
	ref := s.repo(t, "team/app").Tag("v1")
	if err := remote.Write(ref, img, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push: %v", err)
	}
	verifyImage(t, ctx, ref, img)

	loop := startPullLoop(ctx, ref)
	start := time.Now()
	loop.waitFor(t, start, 30*time.Second, "pulls before the outage", lastSucceeded(3))

	// A restart as an operator does it (fast shutdown, start again).
	restarted := time.Now()
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	loop.waitFor(t, restarted, 30*time.Second, "pulls succeeding after a restart", lastSucceeded(5))

	// A longer outage, to see each API answer it.
	down := time.Now()
	pg.Stop()
	loop.waitFor(t, down, 30*time.Second, "503s while the database is down", func(os []pullOutcome) bool {
		return count(os, pullOutcome.unavailable) >= 3
	})
	checkOutageAnswers(t, ctx, s)
	up := time.Now()
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	loop.waitFor(t, up, 30*time.Second, "pulls succeeding after the database is back", lastSucceeded(5))
	all := loop.halt()

	for _, o := range all {
		if o.err != nil && !o.unavailable() {
			t.Errorf("pull at %s failed with %v, want only 503 UNAVAILABLE", o.at.Format("15:04:05.000"), o.err)
		}
		if o.took >= pullBound {
			t.Errorf("pull at %s took %s: hung", o.at.Format("15:04:05.000"), o.took)
		}
	}
	t.Logf("%d pulls: %d failed with 503 during the outages", len(all), count(all, pullOutcome.unavailable))

	// Writes work again too, on the same node.
	img2 := randomImage(t, 2048, 2)
	ref2 := s.repo(t, "team/app").Tag("v2")
	if err := remote.Write(ref2, img2, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push after the outage: %v", err)
	}
	verifyImage(t, ctx, ref2, img2)
	if r := s.rawAs(t, http.MethodGet, "/readyz", "", "", "", nil); r.Status != http.StatusOK {
		t.Errorf("/readyz after the outage: %d", r.Status)
	}
	if u, _ := url.Parse(dsn); strings.Contains(s.logs.String(), func() string { p, _ := u.User.Password(); return p }()) {
		t.Error("berth logged the database password")
	}
}

// checkOutageAnswers checks each front end's answer while the database is
// down: /v2 with Retry-After, the ECR API through the AWS SDK, IAM, and
// /readyz.
func checkOutageAnswers(t *testing.T, ctx context.Context, s *server) {
	t.Helper()
	r := s.rawAs(t, http.MethodGet, "/v2/team/app/tags/list", rootKeyID, rootSecret, "", nil)
	var body struct {
		Errors []struct{ Code, Message string }
	}
	_ = json.Unmarshal(r.Body, &body)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" ||
		len(body.Errors) != 1 || body.Errors[0].Code != "UNAVAILABLE" {
		t.Errorf("/v2 tags/list while down: %d Retry-After=%q %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if strings.Contains(string(r.Body), "127.0.0.1") {
		t.Errorf("/v2 error names the database: %s", r.Body)
	}

	_, err := s.ecr().DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	wantAWSError(t, "ECR DescribeRepositories", err, "ServiceUnavailableException")
	_, err = s.iam(accessKey{rootKeyID, rootSecret}).ListUsers(ctx, &iam.ListUsersInput{})
	wantAWSError(t, "IAM ListUsers", err, "ServiceUnavailable")

	if r := s.rawAs(t, http.MethodGet, "/readyz", "", "", "", nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/readyz while down: %d, want 503", r.Status)
	}
}

// wantAWSError checks an AWS SDK error is code with HTTP status 503.
func wantAWSError(t *testing.T, what string, err error, code string) {
	t.Helper()
	var api smithy.APIError
	var resp *awshttp.ResponseError
	if !errors.As(err, &api) || api.ErrorCode() != code || !errors.As(err, &resp) ||
		resp.HTTPStatusCode() != http.StatusServiceUnavailable {
		t.Errorf("%s while down: %v, want %s with status 503", what, err, code)
	}
}

// TestMigratePostgres: `berth migrate` applies the schema to an empty
// PostgreSQL database once even when run three times at once, says so, and
// never shows the password; a node started with --migrate=false refuses
// the database before and serves it after.
func TestMigratePostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDatabase(t)
	u, _ := url.Parse(dsn)
	password, _ := u.User.Password()
	dir := t.TempDir()
	ctx := testContext(t, 3*time.Minute)
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, berthBin, args...)
		cmd.Env = append(berthEnv(), testSecretsKeyEnv)
		out, err := cmd.CombinedOutput()
		if strings.Contains(string(out), password) {
			t.Errorf("berth %v printed the database password:\n%s", args, out)
		}
		return string(out), err
	}

	out, err := run("serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--database", dsn, "--migrate=false")
	if err == nil || !strings.Contains(out, "berth migrate") || !strings.Contains(out, "0001_init") {
		t.Fatalf("serve --migrate=false on an empty database: %v\n%s", err, out)
	}

	outs := make([]string, 3)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() {
			var err error
			if outs[i], err = run("migrate", "--data-dir", dir, "--database", dsn); err != nil {
				t.Errorf("berth migrate: %v\n%s", err, outs[i])
			}
		})
	}
	wg.Wait()
	applied := regexp.MustCompile(`(?m)^applied (\S+)$`).FindAllStringSubmatch(strings.Join(outs, "\n"), -1)
	var names []string
	for _, m := range applied {
		names = append(names, m[1])
	}
	slices.Sort(names)
	want := postgresMigrations(t)
	if !slices.Equal(names, want) {
		t.Errorf("three concurrent runs applied %v, want each of %v once:\n%s", names, want, strings.Join(outs, "\n"))
	}
	if out, err := run("migrate", "--database", dsn); err != nil || !strings.Contains(out, "is up to date") ||
		strings.Contains(out, "applied ") {
		t.Errorf("berth migrate again: %v\n%s", err, out)
	}

	s := startBerth(t, withFlags("--database", dsn, "--migrate=false"))
	img := randomImage(t, 512, 1)
	ref := s.repo(t, "app").Tag("v1")
	if _, err := s.ecr().CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push: %v", err)
	}
	verifyImage(t, ctx, ref, img)
	// Operator commands reach the same database.
	if out, err := run("admin", "account", "list", "--database", dsn); err != nil || !strings.Contains(out, defaultAccount) {
		t.Errorf("berth admin account list: %v\n%s", err, out)
	}
}

// postgresMigrations names the PostgreSQL migrations in the source tree,
// in order: what a migration of an empty database must apply.
func postgresMigrations(t *testing.T) []string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "internal/metastore/sqlstore/migrations/postgres/*.sql"))
	if err != nil || len(files) < 5 {
		t.Fatalf("PostgreSQL migrations in the source tree: %v, %v", files, err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".sql"))
	}
	slices.Sort(names)
	return names
}
