package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/testenv"
)

// openStore opens a real SQLite store and returns it with its file path.
func openStore(t *testing.T) (*sqlstore.Store, string) { return openStoreTB(t) }

func openStoreTB(t testing.TB) (*sqlstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// rawDB opens the store's file as an attacker with SQL access would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

var alice = auth.Principal{Type: auth.TypeIAMUser, AccountID: "123456789012", UserName: "alice", AccessKeyID: "AKIAALICE"}

// newRecorder records into s; its writer flushes every 10 ms.
func newRecorder(t *testing.T, s metastore.AuditStore, reg prometheus.Registerer) *audit.Recorder {
	t.Helper()
	var m *audit.Metrics
	if reg != nil {
		var err error
		if m, err = audit.NewMetrics(reg); err != nil {
			t.Fatal(err)
		}
	}
	r, err := audit.New(audit.Options{Store: s, Region: "us-east-1", Metrics: m, FlushInterval: 10 * time.Millisecond,
		RequestID: func(context.Context) string { return "req-1" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// serve runs one request through the recorder's middleware with a handler
// that describes its call on the note.
func serve(t *testing.T, r *audit.Recorder, describe func(n *audit.Note)) {
	t.Helper()
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		describe(audit.NoteFrom(req.Context()))
		w.WriteHeader(http.StatusOK)
	}))
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req = req.WithContext(auth.WithRequestInfo(req.Context(), auth.RequestInfo{SourceIP: "192.0.2.7", UserAgent: "aws-sdk-go-v2/1.0"}))
	h.ServeHTTP(httptest.NewRecorder(), req)
}

func records(t *testing.T, s metastore.AuditStore) []audit.Record {
	t.Helper()
	es, err := s.ScanAudit(context.Background(), metastore.AuditFilter{}, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]audit.Record, len(es))
	for i, e := range es {
		if err := json.Unmarshal(e.Body, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestMiddlewareRecordsCalls(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	reg := prometheus.NewRegistry()
	r := newRecorder(t, s, reg)
	serve(t, r, func(n *audit.Note) {
		n.Call(audit.SourceECR, "CreateRepository", false)
		n.Principal(alice)
		n.RequestJSON([]byte(`{"repositoryName":"web"}`))
		n.Resource(audit.RepositoryARN("us-east-1", "123456789012", "web"), "123456789012", audit.ResourceTypeRepository)
		n.ResponseJSON([]byte(`{"repository":{"repositoryName":"web"}}`))
	})
	serve(t, r, func(n *audit.Note) {
		n.Call(audit.SourceECR, "GetAuthorizationToken", true)
		n.AuthFailed("AWS4-HMAC-SHA256 Credential=AKIABAD/20261206/us-east-1/ecr/aws4_request")
		n.Fail("UnrecognizedClientException", "The security token included in the request is invalid.", true)
	})
	serve(t, r, func(n *audit.Note) { // a /v2 HEAD that succeeded: not recorded
		n.Call(audit.SourceECR, "BatchCheckLayerAvailability", true)
		n.OnlyIfDenied()
		n.Principal(alice)
	})
	serve(t, r, func(n *audit.Note) {}) // no call named: not recorded
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := records(t, s)
	if len(got) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(got), got)
	}
	c := got[0]
	if c.EventName != "CreateRepository" || c.EventVersion != "1.08" || c.EventType != "AwsApiCall" ||
		c.UserIdentity.Type != "IAMUser" || c.UserIdentity.ARN != "arn:aws:iam::123456789012:user/alice" ||
		c.UserIdentity.AccessKeyID != "AKIAALICE" || c.SourceIPAddress != "192.0.2.7" || c.UserAgent != "aws-sdk-go-v2/1.0" ||
		c.RequestID != "req-1" || len(c.EventID) != 36 || c.RecipientAccountID != "123456789012" ||
		string(c.RequestParameters) != `{"repositoryName":"web"}` || c.ReadOnly || c.AWSRegion != "us-east-1" ||
		len(c.Resources) != 1 || c.Resources[0].Type != "AWS::ECR::Repository" {
		t.Errorf("CreateRepository record %+v", c)
	}
	d := got[1]
	if d.ErrorCode != "UnrecognizedClientException" || d.UserIdentity.Type != "Anonymous" ||
		d.UserIdentity.AccessKeyID != "AKIABAD" || string(d.ResponseElements) != "null" || !d.ReadOnly {
		t.Errorf("failed call record %+v", d)
	}
	if n := counterValue(t, reg, "berth_audit_records_written_total"); n != 2 {
		t.Errorf("records written metric = %v, want 2", n)
	}
}

// counterValue gathers a counter's value from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// appendN records n PutImage calls through the middleware and closes r.
func appendN(t *testing.T, s *sqlstore.Store, r *audit.Recorder, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		serve(t, r, func(n *audit.Note) {
			n.Call(audit.SourceECR, "PutImage", false)
			n.Principal(alice)
			n.RequestJSON([]byte(`{"repositoryName":"web","imageTag":"v` + string(rune('a'+i)) + `"}`))
		})
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, s metastore.AuditStore) audit.VerifyResult {
	t.Helper()
	res, err := audit.Verify(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		sql         string
		wantSeq     int64
		wantProblem string
	}{
		{"record field changed", `UPDATE audit_records SET record = replace(record, '"va"', '"vz"') WHERE seq = 1`, 1, audit.ProblemChanged},
		{"lookup column changed", `UPDATE audit_records SET user_name = 'mallory' WHERE seq = 3`, 3, audit.ProblemChanged},
		{"hash recomputed without the chain", `UPDATE audit_records SET prev_hash = hash WHERE seq = 2`, 2, audit.ProblemChanged},
		{"middle record removed", `DELETE FROM audit_records WHERE seq = 2`, 2, audit.ProblemRemoved},
		{"last record removed", `DELETE FROM audit_records WHERE seq = 4`, 4, audit.ProblemRemoved},
		{"first record removed", `DELETE FROM audit_records WHERE seq = 1`, 1, audit.ProblemRemoved},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, path := openStore(t)
			appendN(t, s, newRecorder(t, s, nil), 4)
			if res := verify(t, s); !res.OK || res.Records != 4 {
				t.Fatalf("untampered chain: %+v", res)
			}
			if _, err := rawDB(t, path).Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			res := verify(t, s)
			if res.OK || res.BadSeq != tc.wantSeq || res.Problem != tc.wantProblem {
				t.Errorf("after %s: %+v, want bad seq %d %s", tc.sql, res, tc.wantSeq, tc.wantProblem)
			}
		})
	}
}

func TestVerifyAfterRetention(t *testing.T) {
	t.Parallel()
	s, path := openStore(t)
	appendN(t, s, newRecorder(t, s, nil), 5)
	n, err := s.DeleteAuditBefore(context.Background(), time.Now().Add(time.Hour), 3)
	if err != nil || n != 3 {
		t.Fatalf("DeleteAuditBefore = %d, %v", n, err)
	}
	if res := verify(t, s); !res.OK || res.Records != 2 || res.AnchorSeq != 3 {
		t.Fatalf("after retention: %+v", res)
	}
	if _, err := rawDB(t, path).Exec(`DELETE FROM audit_records WHERE seq = 4`); err != nil {
		t.Fatal(err)
	}
	if res := verify(t, s); res.OK || res.BadSeq != 4 || res.Problem != audit.ProblemRemoved {
		t.Errorf("first record after the anchor removed: %+v", res)
	}
}

func TestLookupAndExport(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	appendN(t, s, newRecorder(t, s, nil), 3)
	ctx := context.Background()
	out, err := audit.Lookup(ctx, s, audit.LookupInput{MaxResults: 2, Filter: metastore.AuditFilter{Principal: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 2 || out.NextToken == "" || out.Events[0].Seq != 3 || out.Events[0].Username != "alice" ||
		out.Events[0].EventName != "PutImage" || !json.Valid([]byte(out.Events[0].CloudTrailEvent)) {
		t.Fatalf("page 1: %+v", out)
	}
	out2, err := audit.Lookup(ctx, s, audit.LookupInput{MaxResults: 2, NextToken: out.NextToken,
		Filter: metastore.AuditFilter{Principal: "alice"}})
	if err != nil || len(out2.Events) != 1 || out2.Events[0].Seq != 1 || out2.NextToken != "" {
		t.Fatalf("page 2: %+v, %v", out2, err)
	}
	for _, bad := range []audit.LookupInput{{MaxResults: 1001}, {MaxResults: -1}, {NextToken: "!!"}} {
		if _, err := audit.Lookup(ctx, s, bad); err == nil {
			t.Errorf("Lookup(%+v) succeeded", bad)
		}
	}
	var buf bytes.Buffer
	n, err := audit.Export(ctx, s, metastore.AuditFilter{}, &buf)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if err != nil || n != 3 || len(lines) != 3 || !strings.Contains(lines[0], `"imageTag":"va"`) {
		t.Fatalf("Export = %d, %v:\n%s", n, err, buf.String())
	}
}

// blockingStore holds appends until released, to fill the writer's queue.
type blockingStore struct {
	metastore.AuditStore
	release chan struct{}
}

func (b blockingStore) AppendAudit(ctx context.Context, es []metastore.AuditEntry) error {
	<-b.release
	return b.AuditStore.AppendAudit(ctx, es)
}

func TestWriterBackpressureAndFlushOnClose(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	bs := blockingStore{AuditStore: s, release: make(chan struct{})}
	r, err := audit.New(audit.Options{Store: bs, Region: "us-east-1", QueueSize: 2, BatchSize: 1, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendNoClose(t, r, 5) // 1 held by the writer, 2 queued, the 4th waits for room
	}()
	select {
	case <-done:
		t.Fatal("requests did not wait for room in a full queue")
	case <-time.After(200 * time.Millisecond):
	}
	close(bs.release)
	<-done
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(records(t, s)); got != 5 {
		t.Errorf("%d records written, want 5 (none dropped, all flushed at close)", got)
	}
}

func appendNoClose(t *testing.T, r *audit.Recorder, n int) {
	for i := 0; i < n; i++ {
		serve(t, r, func(n *audit.Note) { n.Call(audit.SourceECR, "PutImage", false); n.Principal(alice) })
	}
}

// TestRecordOfAGoneClientIsKept: a client that hung up before its call was
// recorded (docker closes blob downloads early) still gets its record when
// the queue has room; only waiting for room is abandoned with the client.
func TestRecordOfAGoneClientIsKept(t *testing.T) {
	t.Parallel()
	s, _ := openStore(t)
	r, err := audit.New(audit.Options{Store: s, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		audit.NoteFrom(req.Context()).Call(audit.SourceECR, "GetDownloadUrlForLayer", true)
		w.WriteHeader(http.StatusOK)
	}))
	for range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // gone before the handler returned
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(records(t, s)); got != 50 {
		t.Errorf("%d records of 50 calls whose clients had gone, want 50", got)
	}
}

// TestUncheckedRequestTextIsStoredSafely: an unauthenticated caller picks
// the event name (an IAM Action, an X-Amz-Target), the key id and the
// repository of a /v2 path. Invalid UTF-8, NUL bytes and huge values must
// neither stop the batch from being written (PostgreSQL refuses NUL in
// text and over-long index entries) nor make verify see the record as
// changed (the lookup columns must say what the JSON body says).
func TestUncheckedRequestTextIsStoredSafely(t *testing.T) {
	t.Parallel()
	sqlite, _ := openStore(t)
	pg, err := sqlstore.OpenPostgres(context.Background(), testenv.PostgresDatabase(t), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close() })
	for name, s := range map[string]*sqlstore.Store{"sqlite": sqlite, "postgres": pg} {
		t.Run(name, func(t *testing.T) {
			r := newRecorder(t, s, nil)
			huge := strings.Repeat("é", 5000) // 10,000 bytes, cut inside no rune
			serve(t, r, func(n *audit.Note) {
				n.Call(audit.SourceIAM, "\xffCreate\x00User"+huge, false)
				n.AuthFailed("AWS4-HMAC-SHA256 Credential=AKIA\xfe\x00BAD/20261206/us-east-1/iam/aws4_request")
				n.Resource(audit.RepositoryARN("us-east-1", "123456789012", "web\xff\x00"+huge), "123456789012", audit.ResourceTypeRepository)
				n.Fail("InvalidClientTokenId", "The security token included in the request is invalid.", true)
			})
			if err := r.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := records(t, s)
			if len(got) != 1 {
				t.Fatalf("%d records, want 1", len(got))
			}
			c := got[0]
			if !strings.HasPrefix(c.EventName, "\uFFFDCreate\uFFFDUser") || len(c.EventName) > 256 || !utf8.ValidString(c.EventName) ||
				len(c.Resources) != 1 || len(c.Resources[0].ARN) > 1024 || !utf8.ValidString(c.Resources[0].ARN) ||
				strings.Contains(c.UserIdentity.AccessKeyID, "\x00") {
				t.Errorf("record columns not bounded and made valid: event %q, key %q, resources %+v", c.EventName, c.UserIdentity.AccessKeyID, c.Resources)
			}
			if res := verify(t, s); !res.OK || res.Records != 1 {
				t.Errorf("verify of a record made from bad bytes: %+v", res)
			}
		})
	}
}

// chainRace runs during once, right after Verify has read the chain: what
// a server appending records, or a retention run, does meanwhile.
type chainRace struct {
	*sqlstore.Store
	during func()
	once   sync.Once
}

func (c *chainRace) AuditChain(ctx context.Context) (metastore.AuditChain, error) {
	ch, err := c.Store.AuditChain(ctx)
	c.once.Do(c.during)
	return ch, err
}

// TestVerifyWhileTheServerRuns: records appended and records deleted by
// retention while verify runs are not reported as tampering, and a record
// removed by hand still is.
func TestVerifyWhileTheServerRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name    string
		during  func(t *testing.T, s *sqlstore.Store)
		records int64
	}{
		{"appends", func(t *testing.T, s *sqlstore.Store) { appendN(t, s, newRecorder(t, s, nil), 3) }, 5},
		{"retention", func(t *testing.T, s *sqlstore.Store) {
			if _, err := s.DeleteAuditBefore(ctx, time.Now().Add(time.Hour), 2); err != nil {
				t.Error(err)
			}
		}, 3},
		{"retention of every record", func(t *testing.T, s *sqlstore.Store) {
			if _, err := s.DeleteAuditBefore(ctx, time.Now().Add(time.Hour), 5); err != nil {
				t.Error(err)
			}
		}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, path := openStore(t)
			appendN(t, s, newRecorder(t, s, nil), 5)
			race := &chainRace{Store: s, during: func() { tc.during(t, s) }}
			if res := verify(t, race); !res.OK || res.Records != tc.records {
				t.Errorf("verify racing %s: %+v, want OK with %d records checked", tc.name, res, tc.records)
			}
			if tc.records == 0 {
				return
			}
			if _, err := rawDB(t, path).Exec(`DELETE FROM audit_records WHERE seq = (SELECT max(seq) FROM audit_records)`); err != nil {
				t.Fatal(err)
			}
			if res := verify(t, s); res.OK || res.Problem != audit.ProblemRemoved {
				t.Errorf("verify after the last record was removed: %+v", res)
			}
		})
	}
}
