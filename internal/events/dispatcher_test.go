package events

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
)

const acct = "111122223333"

// fixture is a real SQLite store with an account and helpers to make events.
type fixture struct {
	t     *testing.T
	store *sqlstore.Store
	repos map[string]int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.CreateAccount(t.Context(), metastore.Account{ID: acct}); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, store: s, repos: map[string]int64{}}
}

// push puts a new manifest with tags into repo (created on first use) and
// returns its digest.
func (f *fixture) push(repo string, tags ...string) digest.Digest {
	f.t.Helper()
	id, ok := f.repos[repo]
	if !ok {
		r := metastore.Repository{AccountID: acct, Name: repo}
		if err := f.store.CreateRepository(f.t.Context(), &r); err != nil {
			f.t.Fatal(err)
		}
		id, f.repos[repo] = r.ID, r.ID
	}
	body := fmt.Appendf(nil, `{"schemaVersion":2,"repo":%q,"tags":%q,"t":%d}`, repo, tags, time.Now().UnixNano())
	m := metastore.Manifest{RepositoryID: id, Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Size: int64(len(body)), Body: body}
	if err := f.store.PutManifest(f.t.Context(), m, nil, tags, metastore.PutOptions{}); err != nil {
		f.t.Fatal(err)
	}
	return m.Digest
}

func (f *fixture) sink(k metastore.EventSink) metastore.EventSink {
	f.t.Helper()
	k.AccountID = acct
	if k.Type == "" {
		k.Type = metastore.SinkWebhook
	}
	if k.Timeout == 0 {
		k.Timeout = 5 * time.Second
	}
	if k.RetryFor == 0 {
		k.RetryFor = time.Hour
	}
	if err := f.store.CreateEventSink(f.t.Context(), &k); err != nil {
		f.t.Fatal(err)
	}
	return k
}

// run starts a dispatcher with fast polling and backoff until the test ends.
func (f *fixture) run(o Options) *Dispatcher {
	f.t.Helper()
	o.Store, o.Renderer = f.store, Renderer{Region: "eu-west-1"}
	if o.Poll == 0 {
		o.Poll = 20 * time.Millisecond
	}
	if o.MinBackoff == 0 {
		o.MinBackoff, o.MaxBackoff = 40*time.Millisecond, 200*time.Millisecond
	}
	d, err := New(o)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-done })
	return d
}

// received is one request a receiver saw.
type received struct {
	body    []byte
	header  http.Header
	attempt int
	at      time.Time
}

// receiver is a webhook endpoint answering with status(ev) and recording
// every request.
type receiver struct {
	mu     sync.Mutex
	got    []received
	status func(ev map[string]any, attempt int) int
	srv    *httptest.Server
}

func newReceiver(t *testing.T, status func(ev map[string]any, attempt int) int) *receiver {
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body is not JSON: %s", body)
		}
		attempt, _ := strconv.Atoi(req.Header.Get(HeaderAttempt))
		r.mu.Lock()
		r.got = append(r.got, received{body: body, header: req.Header.Clone(), attempt: attempt, at: time.Now()})
		r.mu.Unlock()
		code := http.StatusNoContent
		if r.status != nil {
			code = r.status(ev, attempt)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// detail returns a delivered event's detail field.
func detail(t *testing.T, body []byte, key string) string {
	t.Helper()
	var ev struct {
		Detail map[string]any `json:"detail"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	s, _ := ev.Detail[key].(string)
	return s
}

// TestDispatcherWebhook delivers a push/delete sequence of two repositories
// to a signing webhook: every event once, signed, rendered exactly as the
// outbox row says, in order per repository.
func TestDispatcherWebhook(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rcv := newReceiver(t, nil)
	secret := []byte("topsecret")
	f.sink(metastore.EventSink{Name: "hook", URL: rcv.srv.URL, SecretCiphertext: []byte("sealed")})
	f.run(Options{OpenSecret: func(k metastore.EventSink) ([]byte, error) {
		if string(k.SecretCiphertext) != "sealed" {
			return nil, fmt.Errorf("unexpected ciphertext")
		}
		return secret, nil
	}})
	var want []string // "repo tag action" in order
	for i := range 10 {
		for _, repo := range []string{"team/a", "team/b"} {
			tag := fmt.Sprintf("v%d", i)
			f.push(repo, tag)
			want = append(want, repo+" "+tag+" PUSH")
		}
	}
	if err := f.store.DeleteTag(t.Context(), f.repos["team/a"], "v3"); err != nil {
		t.Fatal(err)
	}
	want = append(want, "team/a v3 DELETE")
	waitFor(t, "every event", func() bool { return len(rcv.requests()) >= len(want) })
	time.Sleep(100 * time.Millisecond) // nothing more may come
	reqs := rcv.requests()
	outbox, err := f.store.ListEvents(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != len(want) || len(outbox) != len(want) {
		t.Fatalf("received %d requests, outbox has %d events, want %d", len(reqs), len(outbox), len(want))
	}
	byID := map[string]metastore.Event{}
	for _, e := range outbox {
		byID[e.ID] = e
	}
	perRepo := map[string][]string{}
	for _, r := range reqs {
		ts, sig := r.header.Get(HeaderTimestamp), r.header.Get(HeaderSignature)
		if !Verify(secret, ts, r.body, sig) {
			t.Errorf("bad signature %q over timestamp %q", sig, ts)
		}
		if n, _ := strconv.ParseInt(ts, 10, 64); time.Since(time.Unix(n, 0)).Abs() > time.Minute {
			t.Errorf("timestamp %s is not now", ts)
		}
		ev, ok := byID[r.header.Get(HeaderEventID)]
		if !ok {
			t.Fatalf("request for unknown event %q", r.header.Get(HeaderEventID))
		}
		exact, _ := Renderer{Region: "eu-west-1"}.Render(ev)
		if string(exact) != string(r.body) {
			t.Errorf("body\n got %s\nwant %s", r.body, exact)
		}
		if r.attempt != 1 || r.header.Get("Content-Type") != "application/json" ||
			r.header.Get(HeaderDetailType) != "ECR Image Action" {
			t.Errorf("headers %v", r.header)
		}
		repo := detail(t, r.body, "repository-name")
		perRepo[repo] = append(perRepo[repo], repo+" "+detail(t, r.body, "image-tag")+" "+detail(t, r.body, "action-type"))
	}
	for _, repo := range []string{"team/a", "team/b"} {
		var w []string
		for _, x := range want {
			if x[:6] == repo {
				w = append(w, x)
			}
		}
		if !slices.Equal(perRepo[repo], w) {
			t.Errorf("%s delivered in order\n%v\nwant\n%v", repo, perRepo[repo], w)
		}
	}
	st, _ := f.store.EventStats(t.Context())
	if st.Pending != 0 || st.Unrouted != 0 || st.Dead != 0 {
		t.Errorf("backlog after delivery: %+v", st)
	}
}

// TestDispatcherRetriesInOrder: a repository whose first event keeps
// failing waits with growing delays while another repository's events are
// delivered; then its events arrive in order.
func TestDispatcherRetriesInOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rcv := newReceiver(t, func(ev map[string]any, attempt int) int {
		d := ev["detail"].(map[string]any)
		if d["repository-name"] == "slow" && d["image-tag"] == "s1" && attempt <= 3 {
			return []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusRequestTimeout}[attempt-1]
		}
		return http.StatusOK
	})
	f.sink(metastore.EventSink{Name: "hook", URL: rcv.srv.URL})
	f.push("slow", "s1")
	f.push("slow", "s2")
	f.push("fast", "f1")
	f.push("fast", "f2")
	f.run(Options{})
	waitFor(t, "s2 delivered", func() bool {
		for _, r := range rcv.requests() {
			if detail(t, r.body, "image-tag") == "s2" {
				return true
			}
		}
		return false
	})
	var slow []received
	var order []string
	for _, r := range rcv.requests() {
		tag := detail(t, r.body, "image-tag")
		order = append(order, fmt.Sprintf("%s#%d", tag, r.attempt))
		if tag[0] == 's' {
			slow = append(slow, r)
		}
	}
	wantSlow := []string{"s1#1", "s1#2", "s1#3", "s1#4", "s2#1"}
	var gotSlow []string
	for _, r := range slow {
		gotSlow = append(gotSlow, fmt.Sprintf("%s#%d", detail(t, r.body, "image-tag"), r.attempt))
	}
	if !slices.Equal(gotSlow, wantSlow) {
		t.Fatalf("slow repository: %v, want %v (all: %v)", gotSlow, wantSlow, order)
	}
	// The fast repository did not wait for the slow one's retries.
	if i := slices.Index(order, "f2#1"); i < 0 || i > slices.Index(order, "s1#3") {
		t.Errorf("fast repository waited behind the slow one: %v", order)
	}
	// Backoff: at least half the nominal 40ms, 80ms, 160ms between attempts.
	for i, min := range []time.Duration{20, 40, 80} {
		if gap := slow[i+1].at.Sub(slow[i].at); gap < min*time.Millisecond {
			t.Errorf("retry %d came after %s, want >= %dms", i+1, gap, min)
		}
	}
}

// TestDispatcherDeadLetters: a refusal dead-letters at once, a failure that
// persists after MaxAttempts too; the stream proceeds; the operator's retry
// delivers them once the receiver accepts.
func TestDispatcherDeadLetters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var mu sync.Mutex
	healthy := false
	rcv := newReceiver(t, func(ev map[string]any, attempt int) int {
		mu.Lock()
		defer mu.Unlock()
		d := ev["detail"].(map[string]any)
		switch {
		case healthy:
			return http.StatusAccepted
		case d["image-tag"] == "bad":
			return http.StatusBadRequest
		case d["image-tag"] == "flaky":
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	f.sink(metastore.EventSink{Name: "hook", URL: rcv.srv.URL, MaxAttempts: 3})
	f.push("r", "bad")
	f.push("r", "flaky")
	f.push("r", "good")
	f.run(Options{})
	waitFor(t, "good delivered", func() bool {
		for _, r := range rcv.requests() {
			if detail(t, r.body, "image-tag") == "good" {
				return true
			}
		}
		return false
	})
	var attempts []string
	for _, r := range rcv.requests() {
		attempts = append(attempts, fmt.Sprintf("%s#%d", detail(t, r.body, "image-tag"), r.attempt))
	}
	if want := []string{"bad#1", "flaky#1", "flaky#2", "flaky#3", "good#1"}; !slices.Equal(attempts, want) {
		t.Fatalf("attempts %v, want %v", attempts, want)
	}
	dead, err := f.store.ListDeadLetters(t.Context(), acct, "hook", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 2 || dead[0].Event.Tag != "bad" || dead[0].Attempts != 1 || dead[0].LastError != "HTTP 400" ||
		dead[1].Event.Tag != "flaky" || dead[1].Attempts != 3 || dead[1].LastError != "HTTP 502 (attempt 3 of 3)" {
		t.Fatalf("dead letters: %+v", dead)
	}
	mu.Lock()
	healthy = true
	mu.Unlock()
	if n, err := f.store.RetryDeadLetters(t.Context(), acct, "hook", nil); err != nil || n != 2 {
		t.Fatalf("RetryDeadLetters = %d, %v", n, err)
	}
	waitFor(t, "re-driven events", func() bool { return len(rcv.requests()) == 7 })
	reqs := rcv.requests()
	if a, b := detail(t, reqs[5].body, "image-tag"), detail(t, reqs[6].body, "image-tag"); a != "bad" || b != "flaky" {
		t.Errorf("re-driven in order: %s, %s", a, b)
	}
	if dl, _ := f.store.ListDeadLetters(t.Context(), acct, "", 0, 10); len(dl) != 0 {
		t.Errorf("dead letters left: %+v", dl)
	}
}

// TestDispatcherRetryFor dead-letters an event still failing RetryFor
// after its first attempt, whatever the attempt count.
func TestDispatcherRetryFor(t *testing.T) {
	t.Parallel()
	d, err := New(Options{Store: newFixture(t).store, Renderer: Renderer{Region: "us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	k := metastore.EventSink{Name: "k", Type: metastore.SinkWebhook, RetryFor: time.Hour}
	dl := metastore.EventDelivery{Attempts: 5, FirstAttemptAt: time.Now().Add(-59 * time.Minute)}
	if f := d.failure(k, dl, &retryError{msg: "HTTP 500"}); f.Dead || f.RetryAt.Before(time.Now()) {
		t.Errorf("within RetryFor: %+v", f)
	}
	dl.FirstAttemptAt = time.Now().Add(-61 * time.Minute)
	if f := d.failure(k, dl, &retryError{msg: "HTTP 500"}); !f.Dead {
		t.Errorf("past RetryFor: %+v", f)
	}
	// Retry-After lengthens the backoff.
	dl.FirstAttemptAt = time.Now()
	if f := d.failure(k, dl, &retryError{msg: "HTTP 429", after: 10 * time.Minute}); f.RetryAt.Before(time.Now().Add(9 * time.Minute)) {
		t.Errorf("Retry-After ignored: %+v", f)
	}
	for n, max := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 30: 5 * time.Minute} {
		if b := d.backoff(n); b < max/2 || b > max {
			t.Errorf("backoff(%d) = %s, want in [%s, %s]", n, b, max/2, max)
		}
	}
}
