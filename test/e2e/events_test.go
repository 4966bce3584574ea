package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nats-io/nats.go"

	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/testenv"
)

// hookSecret signs the test webhooks.
const hookSecret = "e2e-webhook-secret"

// hookReceiver is a webhook endpoint whose answer the test switches.
type hookReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	status    int           // the answer to every request
	delivered []hookRequest // requests answered 2xx, in arrival order
	attempts  int           // every request
}

type hookRequest struct {
	id   string
	body []byte
}

func newHookReceiver(t *testing.T, status int) *hookReceiver {
	h := &hookReceiver{t: t, status: status}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, sig := r.Header.Get(events.HeaderTimestamp), r.Header.Get(events.HeaderSignature)
		if !events.Verify([]byte(hookSecret), ts, body, sig) {
			t.Errorf("webhook signature %q does not verify (timestamp %q)", sig, ts)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.attempts++
		if h.status < 300 {
			h.delivered = append(h.delivered, hookRequest{id: r.Header.Get(events.HeaderEventID), body: body})
		}
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) setStatus(code int) {
	h.mu.Lock()
	h.status = code
	h.mu.Unlock()
}

func (h *hookReceiver) counts() (delivered, attempts int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.delivered), h.attempts
}

func (h *hookReceiver) bodies() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.delivered)
}

// eventsAdmin runs `berth admin events args…` on s's data directory.
func eventsAdmin(t *testing.T, s *server, args ...string) string {
	t.Helper()
	out, err := exec.Command(berthBin, append(append([]string{"admin", "events"}, args...), "--data-dir", s.dataDir)...).CombinedOutput()
	if err != nil {
		t.Fatalf("berth admin events %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// wantEvent is an ECR Image Action of the default account's team/app.
type wantEvent struct {
	action, digest, tag string
}

// payload is the complete EventBridge event expected, id and time aside.
func (w wantEvent) payload() map[string]any {
	detail := map[string]any{"result": "SUCCESS", "repository-name": "team/app", "image-digest": w.digest,
		"action-type": w.action}
	if w.tag != "" {
		detail["image-tag"] = w.tag
	}
	return map[string]any{"version": "0", "detail-type": "ECR Image Action", "source": "aws.ecr",
		"account": defaultAccount, "region": "us-east-1", "resources": []any{}, "detail": detail}
}

// checkPayloads compares delivered events with want, in order: every field
// exactly, the id a UUID (and the header's), the time within the test.
func checkPayloads(t *testing.T, got []hookRequest, want []wantEvent, since time.Time) {
	t.Helper()
	if len(got) != len(want) {
		var s []string
		for _, g := range got {
			s = append(s, string(g.body))
		}
		t.Fatalf("received %d events, want %d:\n%s", len(got), len(want), strings.Join(s, "\n"))
	}
	for i, g := range got {
		var ev map[string]any
		if err := json.Unmarshal(g.body, &ev); err != nil {
			t.Fatalf("event %d is not JSON: %s", i, g.body)
		}
		id, _ := ev["id"].(string)
		when, err := time.Parse(time.RFC3339, fmt.Sprint(ev["time"]))
		if !uuidPattern.MatchString(id) || (g.id != "" && g.id != id) {
			t.Errorf("event %d: id %q (header %q)", i, id, g.id)
		}
		if err != nil || when.Before(since.Truncate(time.Second)) || when.After(time.Now()) || !strings.HasSuffix(fmt.Sprint(ev["time"]), "Z") {
			t.Errorf("event %d: time %v", i, ev["time"])
		}
		delete(ev, "id")
		delete(ev, "time")
		if w := want[i].payload(); !reflect.DeepEqual(ev, w) {
			t.Errorf("event %d:\n got %v\nwant %v", i, ev, w)
		}
	}
}

// eventSequence pushes and deletes in team/app through /v2 and the ECR API:
// push v1, tag it v2, push another image by digest only, delete tag v2 over
// /v2, BatchDeleteImage both images by digest. It returns the events ECR
// users expect, in order.
func eventSequence(t *testing.T, ctx context.Context, s *server) []wantEvent {
	t.Helper()
	c := s.ecr()
	createRepo(t, ctx, c, "team/app")
	img, err := random.Image(600, 2)
	if err != nil {
		t.Fatal(err)
	}
	d1 := s.pushImage(t, ctx, "team/app", "v1", img)
	if err := remote.Tag(s.repo(t, "team/app").Tag("v2"), img, remoteOpts(ctx)...); err != nil {
		t.Fatalf("tag v2: %v", err)
	}
	img2, err := random.Image(300, 1)
	if err != nil {
		t.Fatal(err)
	}
	d2 := mustDigest(t, img2).String()
	if err := remote.Write(s.repo(t, "team/app").Digest(d2), img2, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push by digest: %v", err)
	}
	if r := s.do(t, http.MethodDelete, "/v2/team/app/manifests/v2", nil, nil); r.Status != http.StatusAccepted {
		t.Fatalf("DELETE tag v2: %d %s", r.Status, r.Body)
	}
	for _, d := range []string{d1, d2} {
		out, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("team/app"),
			ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(d)}}})
		if err != nil || len(out.Failures) > 0 {
			t.Fatalf("BatchDeleteImage %s: %v %+v", d, err, out)
		}
	}
	return []wantEvent{
		{"PUSH", d1, "v1"}, {"PUSH", d1, "v2"}, {"PUSH", d2, ""},
		{"DELETE", d1, "v2"}, {"DELETE", d1, "v1"}, {"DELETE", d2, ""},
	}
}

// TestEventsWebhookAndNATS: a signed webhook and a NATS subscriber receive
// every event of a push / tag delete / image delete sequence, exactly.
func TestEventsWebhookAndNATS(t *testing.T) {
	t.Parallel()
	natsURL := testenv.NATSURL(t)
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msgs := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe("berth.e2e.events", msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	hook := newHookReceiver(t, http.StatusNoContent)
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	eventsAdmin(t, s, "sink", "create", "--name", "deploy", "--type", "webhook", "--url", hook.srv.URL+"/hook",
		"--secret", hookSecret, "--detail-type", "ECR Image Action", "--repository-prefix", "team/")
	eventsAdmin(t, s, "sink", "create", "--name", "bus", "--type", "nats", "--url", natsURL, "--subject", "berth.e2e.events")
	list := eventsAdmin(t, s, "sink", "list")
	if !strings.Contains(list, "deploy") || !strings.Contains(list, "berth.e2e.events") || strings.Contains(list, hookSecret) {
		t.Errorf("sink list:\n%s", list)
	}
	since := time.Now()
	want := eventSequence(t, ctx, s)
	waitUntil(t, 10*time.Second, "webhook deliveries", func() bool { n, _ := hook.counts(); return n >= len(want) })
	var fromNATS []hookRequest
	for range want {
		select {
		case m := <-msgs:
			fromNATS = append(fromNATS, hookRequest{id: m.Header.Get(events.HeaderNATSMsgID), body: m.Data})
		case <-time.After(10 * time.Second):
			t.Fatalf("NATS subscriber got %d events, want %d", len(fromNATS), len(want))
		}
	}
	time.Sleep(300 * time.Millisecond) // nothing more comes
	got := hook.bodies()
	checkPayloads(t, got, want, since)
	checkPayloads(t, fromNATS, want, since)
	for i := range min(len(got), len(fromNATS)) {
		if string(got[i].body) != string(fromNATS[i].body) {
			t.Errorf("event %d differs between the webhook and NATS:\n%s\n%s", i, got[i].body, fromNATS[i].body)
		}
	}
	// A repository outside the webhook's prefix reaches NATS only.
	createRepo(t, ctx, s.ecr(), "other")
	img, _ := random.Image(100, 1)
	s.pushImage(t, ctx, "other", "x", img)
	select {
	case m := <-msgs:
		if !strings.Contains(string(m.Data), `"repository-name":"other"`) {
			t.Errorf("NATS got %s", m.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("NATS did not get the push to other")
	}
	time.Sleep(300 * time.Millisecond)
	if n, _ := hook.counts(); n != len(want) {
		t.Errorf("the webhook's repository prefix let %d events through, want %d", n, len(want))
	}
}

// TestEventsSurviveSIGKILL: pushes acknowledged while the receiver is
// down are delivered after berth is killed and restarted; none is lost.
func TestEventsSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t, http.StatusServiceUnavailable)
	s := startBerth(t)
	ctx := testContext(t, 3*time.Minute)
	eventsAdmin(t, s, "sink", "create", "--name", "deploy", "--type", "webhook", "--url", hook.srv.URL,
		"--secret", hookSecret)
	since := time.Now()
	want := eventSequence(t, ctx, s)
	// The dispatcher has the events and is failing to deliver them.
	waitUntil(t, 10*time.Second, "a failed attempt", func() bool { _, n := hook.counts(); return n > 0 })
	s.kill()
	hook.setStatus(http.StatusOK)
	s.startAgain()
	// The dead node's claim lapses (15s), then backoff: well under 90s.
	waitUntil(t, 90*time.Second, "every event after the restart", func() bool { n, _ := hook.counts(); return n >= len(want) })
	time.Sleep(300 * time.Millisecond)
	checkPayloads(t, hook.bodies(), want, since)
	if out := eventsAdmin(t, s, "status"); !regexp.MustCompile(`pending deliveries:\s+0\n`).MatchString(out) {
		t.Errorf("status after delivery:\n%s", out)
	}
}

// TestEventsDeadLetters: a receiver refusing events dead-letters them at
// once; the operator lists them, and retries them once it accepts.
func TestEventsDeadLetters(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t, http.StatusBadRequest)
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	eventsAdmin(t, s, "sink", "create", "--name", "deploy", "--type", "webhook", "--url", hook.srv.URL,
		"--secret", hookSecret)
	since := time.Now()
	want := eventSequence(t, ctx, s)
	var dead string
	waitUntil(t, 15*time.Second, "dead letters", func() bool {
		dead = eventsAdmin(t, s, "dead-letters", "list")
		return strings.Count(dead, "HTTP 400") == len(want)
	})
	if _, n := hook.counts(); n != len(want) {
		t.Errorf("%d attempts for %d refused events: a 400 must not be retried", n, len(want))
	}
	if !strings.Contains(dead, "team/app") || !strings.Contains(dead, "deploy") {
		t.Errorf("dead-letters list:\n%s", dead)
	}
	if out := eventsAdmin(t, s, "status"); !regexp.MustCompile(`dead letters:\s+6\n`).MatchString(out) {
		t.Errorf("status:\n%s", out)
	}
	hook.setStatus(http.StatusOK)
	if out := eventsAdmin(t, s, "dead-letters", "retry", "--sink", "deploy"); !strings.Contains(out, "6 dead letters requeued") {
		t.Errorf("retry: %s", out)
	}
	waitUntil(t, 15*time.Second, "re-driven events", func() bool { n, _ := hook.counts(); return n >= len(want) })
	time.Sleep(300 * time.Millisecond)
	checkPayloads(t, hook.bodies(), want, since)
	if out := eventsAdmin(t, s, "dead-letters", "list"); strings.Contains(out, "team/app") {
		t.Errorf("dead letters left after the retry:\n%s", out)
	}
}

// TestEventsOff: with --events=false nothing is written or delivered.
func TestEventsOff(t *testing.T) {
	t.Parallel()
	hook := newHookReceiver(t, http.StatusOK)
	s := startBerth(t, withFlags("--events=false"))
	ctx := testContext(t, time.Minute)
	eventsAdmin(t, s, "sink", "create", "--name", "deploy", "--type", "webhook", "--url", hook.srv.URL)
	createRepo(t, ctx, s.ecr(), "team/app")
	img, _ := random.Image(100, 1)
	s.pushImage(t, ctx, "team/app", "v1", img)
	time.Sleep(2 * time.Second)
	if _, n := hook.counts(); n != 0 {
		t.Errorf("%d webhook requests with events off", n)
	}
	if out := eventsAdmin(t, s, "status"); !regexp.MustCompile(`unrouted events:\s+0\npending deliveries:\s+0\n`).MatchString(out) {
		t.Errorf("status with events off:\n%s", out)
	}
}

// waitUntil polls cond every 100ms until it holds or within passes.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
