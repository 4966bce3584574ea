package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/testenv"
)

// clusterJobs are the scheduled jobs whose runs TestCluster checks, each
// with the setting that makes it run every few seconds. A job added to
// the registry is checked by adding its line. The runs
// must be periodic: TestCluster triggers no job (such as by putting a
// lifecycle policy), which would rightly start a run before its period.
var clusterJobs = []struct {
	name  string
	every time.Duration
	env   string
}{
	{"gc", 2 * time.Second, "BERTH_GC_INTERVAL=2s"},
	{"upload-expiry", 3 * time.Second, "BERTH_UPLOAD_EXPIRY=30s"}, // checked every expiry/10
	{"lifecycle", 2 * time.Second, "BERTH_LIFECYCLE_INTERVAL=2s"},
}

// Files of the production layout the cluster tests start nodes from.
const (
	unitFile = "deploy/systemd/berth@.service"
	envFile  = "deploy/systemd/berth.env"
)

// cluster is berth nodes started as deploy/systemd describes, sharing one
// PostgreSQL database and one MinIO bucket.
type cluster struct {
	nodes   []*server
	dsn     string
	metrics []string // each node's metrics address
	s3      *testenv.S3
	bucket  string
}

// clusterOptions vary a test cluster.
type clusterOptions struct {
	dsn string
	// instanceEnv are a node's own variables, as in
	// /etc/berth/berth-<instance>.env (instance = index+1).
	instanceEnv map[int][]string
	// extraEnv are test settings for every node (faster schedules).
	extraEnv []string
	// wrap runs each node under this command (a tracer).
	wrap []string
}

// startCluster starts n nodes at once, each with the unit's ExecStart and
// the variables of the environment file, given test values.
func startCluster(t *testing.T, n int, o clusterOptions) *cluster {
	t.Helper()
	m := testenv.MinIO(t)
	bucket := m.Bucket(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tpl := readEnvFile(t, filepath.Join(root, envFile))
	c := &cluster{dsn: o.dsn, s3: m, bucket: bucket}
	for i := range n {
		instance := fmt.Sprint(i + 1)
		c.metrics = append(c.metrics, "127.0.0.1:"+freePort(t))
		values := map[string]string{
			"BERTH_METRICS_ADDR":           c.metrics[i],
			"BERTH_DATABASE":               o.dsn,
			"BERTH_SECRETS_KEY":            strings.TrimPrefix(testSecretsKeyEnv, "BERTH_SECRETS_KEY="),
			"BERTH_BLOB_STORE":             "s3://" + bucket + "/berth",
			"BERTH_S3_ENDPOINT":            strings.Replace(m.Endpoint, "127.0.0.1", "localhost", 1),
			"BERTH_S3_ACCESS_KEY_ID":       m.AccessKey,
			"BERTH_S3_SECRET_ACCESS_KEY":   m.SecretKey,
			"BERTH_ROOT_ACCESS_KEY_ID":     rootKeyID,
			"BERTH_ROOT_SECRET_ACCESS_KEY": rootSecret,
			// The harness gives each node its port; clients reach each
			// node by its own address instead of a load balancer's name.
			"BERTH_ADDR":          "",
			"BERTH_REGISTRY_HOST": "",
		}
		env := clusterEnv(t, tpl, values)
		env = append(env, o.extraEnv...)
		env = append(env, o.instanceEnv[i]...)
		c.nodes = append(c.nodes, newServer(t, withEnv(env...), withExecStart(unitExecStart(t, root, instance)),
			func(so *serverOptions) { so.wrap = o.wrap }))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range c.nodes {
		wg.Go(func() { errs[i] = s.startOnFreePort() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start node %d: %v\n%s", i+1, err, c.nodes[i].logs.String())
		}
	}
	return c
}

func withExecStart(args []string) option { return func(o *serverOptions) { o.execStart = args } }

// unitExecStart returns the unit's ExecStart arguments after the binary,
// with the instance and host specifiers expanded as systemd does.
func unitExecStart(t *testing.T, root, instance string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, unitFile))
	if err != nil {
		t.Fatal(err)
	}
	var exec []string
	var envFiles []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			exec = strings.Fields(v)
		}
		if v, ok := strings.CutPrefix(line, "EnvironmentFile="); ok {
			envFiles = append(envFiles, v)
		}
	}
	if len(exec) < 2 || filepath.Base(exec[0]) != "berth" || exec[1] != "serve" {
		t.Fatalf("%s: ExecStart %q does not run berth serve", unitFile, exec)
	}
	if !slices.Equal(envFiles, []string{"/etc/berth/berth.env", "-/etc/berth/berth-%i.env"}) {
		t.Fatalf("%s: EnvironmentFile lines %q; the test gives nodes berth.env and an instance file", unitFile, envFiles)
	}
	args := exec[1:]
	for i, a := range args {
		a = strings.ReplaceAll(a, "%i", instance)
		a = strings.ReplaceAll(a, "%H", "testhost")
		if strings.Contains(a, "%") {
			t.Fatalf("%s: ExecStart argument %q has a specifier the test does not expand", unitFile, a)
		}
		args[i] = a
	}
	return args
}

// readEnvFile reads KEY=VALUE lines as systemd's EnvironmentFile does
// (without quotes or continuation lines, which berth.env does not use).
func readEnvFile(t *testing.T, path string) [][2]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "BERTH_") || strings.ContainsAny(v, `"'\`) {
			t.Fatalf("%s: line %q is not a plain BERTH_KEY=value", path, line)
		}
		out = append(out, [2]string{k, v})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// clusterEnv gives each variable of the template its test value; "" drops
// it. Any other variable must be usable as written (no CHANGE-ME, no
// example host), so that template and test cannot drift apart.
func clusterEnv(t *testing.T, tpl [][2]string, values map[string]string) []string {
	t.Helper()
	var env []string
	for _, kv := range tpl {
		k, v := kv[0], kv[1]
		if tv, ok := values[k]; ok {
			if tv != "" {
				env = append(env, k+"="+tv)
			}
			continue
		}
		if strings.Contains(v, "CHANGE-ME") || strings.Contains(v, "example.com") {
			t.Fatalf("%s sets %s=%s: give it a test value in startCluster", envFile, k, v)
		}
		env = append(env, k+"="+v)
	}
	return env
}

// TestCluster runs three nodes as the production layout describes, on one
// PostgreSQL database and one MinIO bucket, and uses them as one registry:
// a password minted on one node works on the others, an image's layers go
// through different nodes and its manifest through a third, one chunked
// upload moves across all three, pulls work from any node (redirected to
// MinIO, and streamed by a node configured so), a node killed in the
// middle of a PATCH leaves an upload another node finishes, and the
// scheduled jobs run once per period in the whole cluster.
func TestCluster(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 8*time.Minute)
	var extra []string
	for _, j := range clusterJobs {
		extra = append(extra, j.env)
	}
	c := startCluster(t, 3, clusterOptions{dsn: testenv.PostgresDatabase(t), extraEnv: extra,
		// As /etc/berth/berth-3.env would: node 3 streams blobs itself.
		instanceEnv: map[int][]string{2: {"BERTH_S3_REDIRECT=false"}}})
	started := time.Now()
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	for i, s := range c.nodes {
		if r := s.rawAs(t, http.MethodGet, "/readyz", "", "", "", nil); r.Status != http.StatusOK {
			t.Fatalf("node %d /readyz: %d %s", i+1, r.Status, r.Body)
		}
	}
	if _, err := n1.ecr().CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("cluster/app")}); err != nil {
		t.Fatal(err)
	}
	checkPasswordAcrossNodes(t, ctx, c)

	img := randomImage(t, 512<<10, 3)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers { // through nodes 1 and 2 in turn
		if err := remote.WriteLayer(c.nodes[i%2].repo(t, "cluster/app"), l, remoteOpts(ctx)...); err != nil {
			t.Fatalf("push layer %d through node %d: %v", i, i%2+1, err)
		}
	}
	// Node 3 finds the layers present, uploads the config and puts the
	// manifest.
	if err := remote.Write(n3.repo(t, "cluster/app").Tag("v1"), img, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push the manifest through node 3: %v", err)
	}
	if ups := len(uploadPOSTs(n3)); ups != 1 {
		t.Errorf("node 3 started %d uploads, want 1 (the config; the layers were pushed through other nodes)", ups)
	}
	verifyImage(t, ctx, n2.repo(t, "cluster/app").Tag("v1"), img) // redirected to MinIO
	verifyImage(t, ctx, n1.repo(t, "cluster/app").Tag("v1"), img)
	verifyImage(t, ctx, n3.repo(t, "cluster/app").Tag("v1"), img) // streamed by node 3
	if got := blobGETStatuses(n2); got[http.StatusTemporaryRedirect] < 4 || got[http.StatusOK] > 0 {
		t.Errorf("node 2 answered blob GETs %v; want redirects only", got)
	}
	if got := blobGETStatuses(n3); got[http.StatusOK] < 4 || got[http.StatusTemporaryRedirect] > 0 {
		t.Errorf("node 3 (BERTH_S3_REDIRECT=false) answered blob GETs %v; want bytes only", got)
	}

	chunkedAcrossNodes(t, c)
	checkJobsRanOnce(t, ctx, c, started)
	killMidPatch(t, ctx, c)

	// The killed node comes back and serves the same registry.
	n1.startAgain()
	verifyImage(t, ctx, n1.repo(t, "cluster/app").Tag("v1"), img)
}

// checkPasswordAcrossNodes: a registry password minted by one node (signed
// with the shared keys) is accepted by every node.
func checkPasswordAcrossNodes(t *testing.T, ctx context.Context, c *cluster) {
	t.Helper()
	out, err := c.nodes[1].ecr().GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil || len(out.AuthorizationData) != 1 {
		t.Fatalf("GetAuthorizationToken on node 2: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	user, pass, ok := strings.Cut(string(raw), ":")
	if err != nil || !ok || user != "AWS" {
		t.Fatalf("authorization token %q: %v", raw, err)
	}
	for i, s := range c.nodes {
		if r := s.rawAs(t, http.MethodGet, "/v2/cluster/app/tags/list", user, pass, "", nil); r.Status != http.StatusOK {
			t.Errorf("node %d refused node 2's registry password: %d %s", i+1, r.Status, r.Body)
		}
	}
}

// chunkedAcrossNodes begins an upload on node 1, appends on node 1 and
// node 2, completes it on node 3, and reads the blob back from node 2.
func chunkedAcrossNodes(t *testing.T, c *cluster) {
	t.Helper()
	content := randomBytes(11<<20 + 12345)
	d := digest.FromBytes(content)
	r := c.nodes[0].do(t, http.MethodPost, "/v2/cluster/app/blobs/uploads/", nil, nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST upload on node 1: %d %s", r.Status, r.Body)
	}
	loc := r.Header.Get("Location")
	cuts := []int{0, 6 << 20, 9 << 20, len(content)} // node 1: 6 MiB, node 2: 3 MiB, node 3: the rest
	for i := range 2 {
		chunk := content[cuts[i]:cuts[i+1]]
		r = c.nodes[i].do(t, http.MethodPatch, loc, bytes.NewReader(chunk), map[string]string{
			"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", cuts[i], cuts[i+1]-1)})
		if r.Status != http.StatusAccepted || r.Header.Get("Range") != fmt.Sprintf("0-%d", cuts[i+1]-1) {
			t.Fatalf("PATCH on node %d: %d Range %q %s", i+1, r.Status, r.Header.Get("Range"), r.Body)
		}
		loc = r.Header.Get("Location")
	}
	r = c.nodes[2].do(t, http.MethodPut, loc+"?digest="+d.String(), bytes.NewReader(content[cuts[2]:]), map[string]string{
		"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", cuts[2], len(content)-1)})
	if r.Status != http.StatusCreated || r.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("PUT on node 3: %d %s", r.Status, r.Body)
	}
	wantBlob(t, c.nodes[1], "cluster/app", d, content)
}

// killMidPatch kills node 1 with SIGKILL while it receives a streamed
// PATCH, then asks node 2 where the upload stands (Range), sends the rest
// from there through node 2 and completes on node 3: the blob must be
// exactly the content.
func killMidPatch(t *testing.T, ctx context.Context, c *cluster) {
	t.Helper()
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	content := randomBytes(64 << 20)
	d := digest.FromBytes(content)
	r := n1.do(t, http.MethodPost, "/v2/cluster/app/blobs/uploads/", nil, nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST upload: %d %s", r.Status, r.Body)
	}
	loc := r.Header.Get("Location")
	const first = 6 << 20 // committed before the crash: the offset is never ambiguous
	r = n1.do(t, http.MethodPatch, loc, bytes.NewReader(content[:first]), map[string]string{
		"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("0-%d", first-1)})
	if r.Status != http.StatusAccepted {
		t.Fatalf("first PATCH: %d %s", r.Status, r.Body)
	}

	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, n1.url(loc), pr)
	req.SetBasicAuth(rootKeyID, rootSecret)
	req.Header.Set("Content-Type", "application/octet-stream")
	patchDone := make(chan error, 1)
	go func() {
		resp, err := rawClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the PATCH ended with %s", resp.Status)
		}
		patchDone <- err
	}()
	const sentBeforeKill = 24 << 20
	for off := first; off < first+sentBeforeKill; off += 1 << 20 {
		if _, err := pw.Write(content[off : off+1<<20]); err != nil {
			t.Fatalf("stream the PATCH body: %v", err)
		}
	}
	n1.kill()
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-patchDone; err == nil {
		t.Fatal("the PATCH to the killed node succeeded")
	}

	r = n2.do(t, http.MethodGet, loc, nil, nil)
	var end int
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "0-%d", &end); r.Status != http.StatusNoContent || err != nil {
		t.Fatalf("upload status on node 2 after the crash: %d Range %q %s", r.Status, r.Header.Get("Range"), r.Body)
	}
	offset := end + 1
	if offset < first || offset > first+sentBeforeKill {
		t.Fatalf("node 2 says %d bytes were received; %d were committed before the crash and %d more sent", offset, first, sentBeforeKill)
	}
	t.Logf("after SIGKILL mid-PATCH: %d of %d streamed bytes were committed; resuming at %d on node 2", offset-first, sentBeforeKill, offset)
	r = n2.do(t, http.MethodPatch, loc, bytes.NewReader(content[offset:]), map[string]string{
		"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", offset, len(content)-1)})
	if r.Status != http.StatusAccepted {
		t.Fatalf("PATCH the rest on node 2: %d %s", r.Status, r.Body)
	}
	r = n3.do(t, http.MethodPut, r.Header.Get("Location")+"?digest="+d.String(), nil, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("complete on node 3: %d %s", r.Status, r.Body)
	}
	wantBlob(t, n3, "cluster/app", d, content)

	// Nothing of the finished uploads stays in the bucket; the killed
	// node's unfinished multipart upload is swept after the upload expiry.
	prefix := "berth/uploads/"
	objs, err := c.s3.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &c.bucket, Prefix: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs.Contents {
		t.Errorf("object %s of a finished upload is still in the bucket", aws.ToString(o.Key))
	}
	mps, err := c.s3.ListMultipartUploads(ctx, c.bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("multipart uploads left by the killed node, for the sweep: %d", len(mps))
}

// wantBlob GETs a blob through s (following a redirect) and compares it.
func wantBlob(t *testing.T, s *server, repo string, d digest.Digest, want []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url("/v2/"+repo+"/blobs/"+d.String()), nil)
	req.SetBasicAuth(rootKeyID, rootSecret)
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatalf("GET blob %s: %v", d, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("GET blob %s: %s, %d bytes (%v); want the %d bytes uploaded", d, resp.Status, len(got), err, len(want))
	}
}

// jobRun is a line of `berth admin jobs runs --json`.
type jobRun struct {
	Job        string    `json:"job"`
	Holder     string    `json:"holder"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	Result     string    `json:"result"`
}

// jobState is a line of `berth admin jobs --json`.
type jobState struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Runs  int64  `json:"runs"`
}

// admin runs `berth admin` on the cluster's database and decodes its JSON.
func (c *cluster) admin(t *testing.T, out any, args ...string) {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"admin"}, args...)...)
	cmd.Env = append(berthEnv(), "BERTH_DATABASE="+c.dsn)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("berth admin %v: %v\n%s", args, err, stderr.String())
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("berth admin %v: %v\n%s", args, err, b)
	}
}

// checkJobsRanOnce waits for several runs of each scheduled job, then
// checks from the run history that no two runs of a job overlapped, that
// runs were at least a period apart (so three nodes did not each run the
// job), and that the nodes' metrics add up to the runs recorded.
func checkJobsRanOnce(t *testing.T, ctx context.Context, c *cluster, since time.Time) {
	t.Helper()
	const wantRuns = 5
	for _, j := range clusterJobs {
		deadline := time.Now().Add(wantRuns*j.every + 30*time.Second)
		var runs []jobRun
		for {
			c.admin(t, &runs, "jobs", "runs", "--job", j.name, "--limit", "100", "--json")
			if len(runs) >= wantRuns || time.Now().After(deadline) {
				break
			}
			time.Sleep(j.every)
		}
		if len(runs) < wantRuns {
			t.Fatalf("job %s ran %d times in the %s since the nodes started, want %d", j.name, len(runs), time.Since(since), wantRuns)
		}
		slices.Reverse(runs) // oldest first
		holders := map[string]int{}
		for i, r := range runs {
			holders[nodeOf(r.Holder)]++
			if r.Result != "ok" {
				t.Errorf("job %s run %d on %s: %s", j.name, i, r.Holder, r.Result)
			}
			if i == 0 {
				continue
			}
			prev := runs[i-1]
			if r.StartedAt.Before(prev.FinishedAt) {
				t.Errorf("job %s: a run on %s started at %s while one on %s ran until %s", j.name, r.Holder,
					r.StartedAt.Format(time.RFC3339Nano), prev.Holder, prev.FinishedAt.Format(time.RFC3339Nano))
			}
			if gap := r.StartedAt.Sub(prev.StartedAt); gap < j.every {
				t.Errorf("job %s: runs %s apart (on %s, then %s), want at least its period %s", j.name, gap,
					prev.Holder, r.Holder, j.every)
			}
		}
		window := time.Since(runs[0].StartedAt)
		if max := int(window/j.every) + 1; len(runs) > max {
			t.Errorf("job %s ran %d times in %s, want at most %d (once per %s)", j.name, len(runs), window, max, j.every)
		}
		t.Logf("job %s: %d runs in %s, by node: %v", j.name, len(runs), window.Round(time.Second), holders)

		// Metrics of all nodes, before and after reading the store: one
		// run at most may be counted by its node and not yet recorded.
		before := c.jobRunsMetric(t, j.name)
		var states []jobState
		c.admin(t, &states, "jobs", "--json")
		after := c.jobRunsMetric(t, j.name)
		i := slices.IndexFunc(states, func(s jobState) bool { return s.Name == j.name })
		if i < 0 {
			t.Fatalf("berth admin jobs lists no %s: %+v", j.name, states)
		}
		if recorded := states[i].Runs; recorded < before-1 || recorded > after {
			t.Errorf("job %s: %d runs recorded, nodes counted %d then %d", j.name, recorded, before, after)
		}
	}
}

// nodeOf is the node name of a claim holder (<node>/<process id>).
func nodeOf(holder string) string { n, _, _ := strings.Cut(holder, "/"); return n }

// jobRunsMetric sums berth_job_runs_total of job over the nodes.
func (c *cluster) jobRunsMetric(t *testing.T, job string) int64 {
	t.Helper()
	var n int64
	for _, addr := range c.metrics {
		f := scrape(t, "http://"+addr+"/metrics")["berth_job_runs_total"]
		if f == nil {
			continue // no run on that node yet
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "job" && l.GetValue() == job {
					n += int64(m.GetCounter().GetValue())
				}
			}
		}
	}
	return n
}

// accessLine is the part of a JSON access-log line the cluster tests read.
type accessLine struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

func accessLines(s *server) []accessLine {
	var out []accessLine
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var a accessLine
		if json.Unmarshal([]byte(line), &a) == nil && a.Method != "" {
			out = append(out, a)
		}
	}
	return out
}

var blobGETPath = regexp.MustCompile(`^/v2/.+/blobs/sha256:[0-9a-f]{64}$`)

// blobGETStatuses counts a node's answers to blob GETs by status, once its
// log has settled (settledCounts).
func blobGETStatuses(s *server) map[int]int {
	return settledCounts(func() map[int]int {
		out := map[int]int{}
		for _, a := range accessLines(s) {
			if a.Method == http.MethodGet && blobGETPath.MatchString(a.Path) {
				out[a.Status]++
			}
		}
		return out
	})
}

// uploadPOSTs counts a node's upload starts.
func uploadPOSTs(s *server) []accessLine {
	var out []accessLine
	for _, a := range accessLines(s) {
		if a.Method == http.MethodPost && strings.HasSuffix(a.Path, "/blobs/uploads/") {
			out = append(out, a)
		}
	}
	return out
}

// randomBytes returns n bytes that do not compress.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)}).Read(b)
	return b
}
