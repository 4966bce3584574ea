package storetest

import (
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
)

var eventCases = []testCase{
	{"PushWritesEvents", testEventsPush},
	{"FailedChangesWriteNoEvent", testEventsFailedChanges},
	{"DeleteWritesEvents", testEventsDelete},
	{"OutliveRepository", testEventsOutliveRepository},
	{"Sinks", testEventSinks},
	{"RouteByFilter", testEventsRoute},
	{"DeliverInOrder", testEventsDeliver},
	{"DeadLetters", testEventsDeadLetters},
	{"Maintain", testEventsMaintain},
	{"StorageClassEvents", testStorageClassEvents},
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// allEvents returns the whole outbox.
func allEvents(t *testing.T, s metastore.Store) []metastore.Event {
	t.Helper()
	evs, err := s.ListEvents(ctxOf(t), 0, 1000)
	noErr(t, "ListEvents", err)
	return evs
}

// eventFacts is what a test compares: the event without id, seq and time.
type eventFacts struct {
	Account, Repo, DetailType, Action, Result string
	Digest                                    digest.Digest
	Tag, MediaType, ArtifactType              string
}

func factsOf(evs []metastore.Event) []eventFacts {
	out := make([]eventFacts, len(evs))
	for i, e := range evs {
		out[i] = eventFacts{e.AccountID, e.Repository, e.DetailType, e.ActionType, e.Result, e.Digest, e.Tag,
			e.ManifestMediaType, e.ArtifactMediaType}
	}
	return out
}

func wantEvents(t *testing.T, what string, got []metastore.Event, want []eventFacts) {
	t.Helper()
	if g := factsOf(got); !slices.Equal(g, want) {
		t.Fatalf("%s: events\n got %+v\nwant %+v", what, g, want)
	}
}

func imageAction(acct, repo, action string, d digest.Digest, tag, mediaType string) eventFacts {
	return eventFacts{acct, repo, metastore.DetailTypeImageAction, action, metastore.ResultSuccess, d, tag, mediaType, ""}
}

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

func testEventsPush(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "team/app")
	img := newImage(t, s, r.ID, "push", 1)
	img.m.ArtifactType = "application/vnd.example+json"
	before := time.Now().Add(-time.Second)
	noErr(t, "PutManifest", s.PutManifest(ctx, img.m, img.refs, []string{"v1", "latest"}, metastore.PutOptions{}))
	evs := allEvents(t, s)
	push := func(tag string) eventFacts {
		f := imageAction("111111111111", "team/app", metastore.ActionPush, img.m.Digest, tag, ociManifest)
		f.ArtifactType = "application/vnd.example+json"
		return f
	}
	wantEvents(t, "push with two tags", evs, []eventFacts{push("v1"), push("latest")})
	for i, e := range evs {
		if !uuidRE.MatchString(e.ID) || (i > 0 && (e.ID == evs[i-1].ID || e.Seq <= evs[i-1].Seq)) {
			t.Errorf("event %d: id %q seq %d: want distinct UUIDs and increasing seq", i, e.ID, e.Seq)
		}
		if e.Time.Before(before) || e.Time.After(time.Now().Add(time.Second)) || e.Time.Location() != time.UTC {
			t.Errorf("event %d: time %v, want now in UTC", i, e.Time)
		}
	}
	// By digest only: one untagged event; a re-push is a push again.
	noErr(t, "PutManifest by digest", s.PutManifest(ctx, img.m, img.refs, nil, metastore.PutOptions{}))
	after, err := s.ListEvents(ctx, evs[1].Seq, 10)
	noErr(t, "ListEvents after", err)
	wantEvents(t, "push by digest", after, []eventFacts{push("")})
	if page, err := s.ListEvents(ctx, 0, 2); err != nil || len(page) != 2 || page[0].Seq != evs[0].Seq {
		t.Errorf("ListEvents limit 2 = %d events, %v", len(page), err)
	}
	if _, err := s.ListEvents(ctx, 0, 0); err == nil {
		t.Error("ListEvents with limit 0 succeeded")
	}
}

func testEventsFailedChanges(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "team/app")
	img := newImage(t, s, r.ID, "base", 1)
	missing := img
	missing.refs = append(slices.Clone(img.refs), metastore.Reference{Kind: metastore.RefBlob, Digest: dg("absent")})
	var mre *metastore.MissingReferenceError
	if err := s.PutManifest(ctx, missing.m, missing.refs, []string{"x"}, metastore.PutOptions{}); !errors.As(err, &mre) {
		t.Fatalf("PutManifest with a missing blob = %v", err)
	}
	noErr(t, "PutManifest", s.PutManifest(ctx, img.m, img.refs, []string{"v1"}, metastore.PutOptions{}))
	immutable := metastore.PutOptions{Immutable: func(string) bool { return true }}
	if err := s.PutManifest(ctx, img.m, img.refs, []string{"v1"}, immutable); !errors.Is(err, metastore.ErrTagExists) {
		t.Fatalf("PutManifest over an immutable tag = %v", err)
	}
	other := img.m
	other.RepositoryID = r.ID + 1000
	if err := s.PutManifest(ctx, other, nil, []string{"v1"}, metastore.PutOptions{}); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("PutManifest into a missing repository = %v", err)
	}
	idx := newIndex(r.ID, "idx", img.m.Digest)
	noErr(t, "PutManifest index", s.PutManifest(ctx, idx.m, idx.refs, nil, metastore.PutOptions{}))
	if err := s.DeleteManifest(ctx, r.ID, img.m.Digest); !errors.Is(err, metastore.ErrReferenced) {
		t.Fatalf("DeleteManifest of an index child = %v", err)
	}
	if err := s.DeleteManifest(ctx, r.ID, dg("nothing")); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("DeleteManifest of a missing manifest = %v", err)
	}
	if err := s.DeleteTag(ctx, r.ID, "nope"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("DeleteTag of a missing tag = %v", err)
	}
	wantEvents(t, "only the successful pushes", allEvents(t, s), []eventFacts{
		imageAction("111111111111", "team/app", metastore.ActionPush, img.m.Digest, "v1", ociManifest),
		imageAction("111111111111", "team/app", metastore.ActionPush, idx.m.Digest, "", "application/vnd.oci.image.index.v1+json"),
	})
}

func testEventsDelete(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "team/app")
	a := newImage(t, s, r.ID, "a", 1)
	b := newImage(t, s, r.ID, "b", 1)
	noErr(t, "PutManifest a", s.PutManifest(ctx, a.m, a.refs, []string{"v2", "v1", "v3"}, metastore.PutOptions{}))
	noErr(t, "PutManifest b", s.PutManifest(ctx, b.m, b.refs, nil, metastore.PutOptions{}))
	start := allEvents(t, s)
	noErr(t, "DeleteTag v3", s.DeleteTag(ctx, r.ID, "v3"))
	noErr(t, "DeleteManifest a", s.DeleteManifest(ctx, r.ID, a.m.Digest))
	noErr(t, "DeleteManifest b", s.DeleteManifest(ctx, r.ID, b.m.Digest))
	evs, err := s.ListEvents(ctx, start[len(start)-1].Seq, 100)
	noErr(t, "ListEvents", err)
	del := func(d digest.Digest, tag string) eventFacts {
		return imageAction("111111111111", "team/app", metastore.ActionDelete, d, tag, ociManifest)
	}
	// The image's remaining tags in byte order, then an untagged image.
	wantEvents(t, "deletes", evs, []eventFacts{del(a.m.Digest, "v3"), del(a.m.Digest, "v1"), del(a.m.Digest, "v2"),
		del(b.m.Digest, "")})
}

func testEventsOutliveRepository(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "gone/soon")
	img := newImage(t, s, r.ID, "img", 1)
	noErr(t, "PutManifest", s.PutManifest(ctx, img.m, img.refs, []string{"v1"}, metastore.PutOptions{}))
	noErr(t, "DeleteRepository", s.DeleteRepository(ctx, r.ID, true))
	r2 := mustRepo(t, s, "111111111111", "gone/soon")
	img2 := newImage(t, s, r2.ID, "img2", 1)
	noErr(t, "PutManifest again", s.PutManifest(ctx, img2.m, img2.refs, nil, metastore.PutOptions{}))
	wantEvents(t, "after a repository delete", allEvents(t, s), []eventFacts{
		imageAction("111111111111", "gone/soon", metastore.ActionPush, img.m.Digest, "v1", ociManifest),
		imageAction("111111111111", "gone/soon", metastore.ActionPush, img2.m.Digest, "", ociManifest),
	})
}

func webhookSink(acct, name string) metastore.EventSink {
	return metastore.EventSink{AccountID: acct, Name: name, Type: metastore.SinkWebhook, URL: "https://hooks.example/" + name,
		Timeout: 10 * time.Second, RetryFor: time.Hour}
}

func mustSink(t *testing.T, s metastore.Store, k metastore.EventSink) metastore.EventSink {
	t.Helper()
	noErr(t, "CreateEventSink "+k.Name, s.CreateEventSink(ctxOf(t), &k))
	return k
}

func testEventSinks(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, "111111111111")
	mustAccount(t, s, "222222222222")
	k := webhookSink("111111111111", "deploy")
	k.SecretCiphertext = []byte{1, 2, 3}
	k.DetailTypes = []string{metastore.DetailTypeImageAction, metastore.DetailTypeImageScan}
	k.RepositoryPrefix = "team/"
	k.MaxAttempts = 7
	k.CreatedAt = time1
	k = mustSink(t, s, k)
	if k.ID == 0 {
		t.Fatal("CreateEventSink assigned no ID")
	}
	n := mustSink(t, s, metastore.EventSink{AccountID: "111111111111", Name: "bus", Type: metastore.SinkNATS,
		URL: "nats://127.0.0.1:4222", Subject: "registry.events", Timeout: time.Second, RetryFor: time.Minute})
	mustSink(t, s, webhookSink("222222222222", "deploy")) // names are per account
	dup := webhookSink("111111111111", "deploy")
	if err := s.CreateEventSink(ctx, &dup); !errors.Is(err, metastore.ErrAlreadyExists) {
		t.Errorf("duplicate sink = %v, want ErrAlreadyExists", err)
	}
	orphan := webhookSink("999999999999", "x")
	if err := s.CreateEventSink(ctx, &orphan); !errors.Is(err, metastore.ErrNotFound) {
		t.Errorf("sink of a missing account = %v, want ErrNotFound", err)
	}
	got, err := s.ListEventSinks(ctx, "111111111111")
	noErr(t, "ListEventSinks", err)
	k.CreatedAt = time1.UTC()
	if len(got) != 2 || got[0].Name != "bus" || got[1].Name != "deploy" {
		t.Fatalf("ListEventSinks = %+v", got)
	}
	if n.CreatedAt.IsZero() || got[0].Subject != "registry.events" || got[0].SecretCiphertext != nil {
		t.Errorf("NATS sink = %+v", got[0])
	}
	gk := got[1]
	if gk.ID != k.ID || !slices.Equal(gk.DetailTypes, k.DetailTypes) || gk.RepositoryPrefix != "team/" ||
		!slices.Equal(gk.SecretCiphertext, []byte{1, 2, 3}) || gk.MaxAttempts != 7 || gk.Timeout != 10*time.Second ||
		gk.RetryFor != time.Hour || !gk.CreatedAt.Equal(time1) || gk.URL != k.URL {
		t.Errorf("sink round trip:\n got %+v\nwant %+v", gk, k)
	}
	if all, err := s.ListEventSinks(ctx, ""); err != nil || len(all) != 3 {
		t.Errorf("ListEventSinks(all) = %d sinks, %v", len(all), err)
	}
	noErr(t, "DeleteEventSink", s.DeleteEventSink(ctx, "111111111111", "deploy"))
	if err := s.DeleteEventSink(ctx, "111111111111", "deploy"); !errors.Is(err, metastore.ErrNotFound) {
		t.Errorf("DeleteEventSink twice = %v", err)
	}
	if rest, _ := s.ListEventSinks(ctx, ""); len(rest) != 2 {
		t.Errorf("after delete: %+v", rest)
	}
}

// pushTagged puts a fresh image with tags into repo and returns its digest.
func pushTagged(t *testing.T, s metastore.Store, repoID int64, name string, tags ...string) digest.Digest {
	t.Helper()
	img := newImage(t, s, repoID, name, 0)
	noErr(t, "PutManifest "+name, s.PutManifest(ctxOf(t), img.m, img.refs, tags, metastore.PutOptions{}))
	return img.m.Digest
}

// pendingTags returns the tags of a stream's pending deliveries, in order.
func pendingTags(t *testing.T, s metastore.Store, sinkID, streamID int64) []string {
	t.Helper()
	ds, err := s.PendingDeliveries(ctxOf(t), sinkID, streamID, 100)
	noErr(t, "PendingDeliveries", err)
	var out []string
	for _, d := range ds {
		out = append(out, d.Event.Tag)
	}
	return out
}

// dueStreams returns the due streams of sink, by stream id.
func dueStreams(t *testing.T, s metastore.Store, sinkID int64, now time.Time) []metastore.EventStream {
	t.Helper()
	all, err := s.DueEventStreams(ctxOf(t), now, 100)
	noErr(t, "DueEventStreams", err)
	var out []metastore.EventStream
	for _, st := range all {
		if st.SinkID == sinkID {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b metastore.EventStream) int { return int(a.StreamID - b.StreamID) })
	return out
}

func testEventsRoute(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	app := mustRepo(t, s, "111111111111", "team/app")
	web := mustRepo(t, s, "111111111111", "web")
	foreign := mustRepo(t, s, "222222222222", "team/app")
	all := mustSink(t, s, webhookSink("111111111111", "all"))
	team := webhookSink("111111111111", "team")
	team.RepositoryPrefix = "team/"
	team = mustSink(t, s, team)
	scans := webhookSink("111111111111", "scans")
	scans.DetailTypes = []string{metastore.DetailTypeImageScan}
	scans = mustSink(t, s, scans)

	pushTagged(t, s, app.ID, "a1", "a1")
	pushTagged(t, s, web.ID, "w1", "w1")
	pushTagged(t, s, foreign.ID, "f1", "f1")
	pushTagged(t, s, app.ID, "a2", "a2")
	n, err := s.RouteEvents(ctx, 100)
	noErr(t, "RouteEvents", err)
	if n != 4 {
		t.Fatalf("RouteEvents = %d, want 4", n)
	}
	if n, err := s.RouteEvents(ctx, 100); err != nil || n != 0 {
		t.Fatalf("RouteEvents again = %d, %v; want 0", n, err)
	}
	later := time.Now().Add(time.Minute)
	if due := dueStreams(t, s, all.ID, later); len(due) != 2 {
		t.Fatalf("sink all: due streams %+v, want team/app and web", due)
	}
	teamDue := dueStreams(t, s, team.ID, later)
	if len(teamDue) != 1 {
		t.Fatalf("sink team: due streams %+v, want team/app only", teamDue)
	}
	if got := pendingTags(t, s, team.ID, teamDue[0].StreamID); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("sink team: pending %v", got)
	}
	if due := dueStreams(t, s, scans.ID, later); len(due) != 0 {
		t.Errorf("sink scans (detail-type filter): due %+v", due)
	}
	// A sink receives only what happens after its creation.
	late := mustSink(t, s, webhookSink("111111111111", "late"))
	pushTagged(t, s, web.ID, "w2", "w2")
	if _, err := s.RouteEvents(ctx, 100); err != nil {
		t.Fatal(err)
	}
	lateDue := dueStreams(t, s, late.ID, later)
	if len(lateDue) != 1 || !slices.Equal(pendingTags(t, s, late.ID, lateDue[0].StreamID), []string{"w2"}) {
		t.Errorf("sink created later: due %+v", lateDue)
	}
	st, err := s.EventStats(ctx)
	noErr(t, "EventStats", err)
	// all: a1 a2 w1 w2; team: a1 a2; late: w2.
	if st.Unrouted != 0 || st.Pending != 7 || st.Dead != 0 || st.OldestPending.IsZero() {
		t.Errorf("EventStats = %+v", st)
	}
}

func testEventsDeliver(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "team/app")
	k := mustSink(t, s, webhookSink("111111111111", "hook"))
	for _, tag := range []string{"t1", "t2", "t3", "t4"} {
		pushTagged(t, s, r.ID, tag, tag)
	}
	st, err := s.EventStats(ctx)
	noErr(t, "EventStats", err)
	if st.Unrouted != 4 || st.OldestPending.IsZero() {
		t.Errorf("EventStats before routing = %+v", st)
	}
	if _, err := s.RouteEvents(ctx, 2); err != nil { // in two batches
		t.Fatal(err)
	}
	if _, err := s.RouteEvents(ctx, 2); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	due := dueStreams(t, s, k.ID, now)
	if len(due) != 1 {
		t.Fatalf("due = %+v", due)
	}
	stream := due[0].StreamID
	head, err := s.PendingDeliveries(ctx, k.ID, stream, 2)
	noErr(t, "PendingDeliveries", err)
	if len(head) != 2 || head[0].Event.Tag != "t1" || head[0].SinkName != "hook" || head[0].State != metastore.DeliveryPending ||
		head[0].Attempts != 0 || !head[0].FirstAttemptAt.IsZero() {
		t.Fatalf("head = %+v", head)
	}
	// t1 delivered, t2 fails: the stream waits until the retry time.
	retry := now.Add(time.Hour)
	noErr(t, "RecordDeliveries", s.RecordDeliveries(ctx, metastore.DeliveryRecord{SinkID: k.ID, StreamID: stream,
		Delivered: []int64{head[0].Event.Seq},
		Failed:    &metastore.DeliveryFailure{Seq: head[1].Event.Seq, At: now, Error: "HTTP 503", RetryAt: retry}}))
	if got := pendingTags(t, s, k.ID, stream); !slices.Equal(got, []string{"t2", "t3", "t4"}) {
		t.Fatalf("pending after one delivery = %v", got)
	}
	if d := dueStreams(t, s, k.ID, now.Add(time.Minute)); len(d) != 0 {
		t.Fatalf("a stream in backoff is due: %+v", d)
	}
	d := dueStreams(t, s, k.ID, retry)
	if len(d) != 1 || !d[0].RetryAt.Equal(retry.UTC()) {
		t.Fatalf("due at the retry time = %+v", d)
	}
	h, _ := s.PendingDeliveries(ctx, k.ID, stream, 1)
	if h[0].Attempts != 1 || h[0].LastError != "HTTP 503" || !h[0].FirstAttemptAt.Equal(now.UTC()) {
		t.Errorf("failed head = %+v", h[0])
	}
	// A second failure keeps the first attempt's time.
	noErr(t, "RecordDeliveries", s.RecordDeliveries(ctx, metastore.DeliveryRecord{SinkID: k.ID, StreamID: stream,
		Failed: &metastore.DeliveryFailure{Seq: h[0].Event.Seq, At: now.Add(time.Second), Error: "timeout", RetryAt: now}}))
	h, _ = s.PendingDeliveries(ctx, k.ID, stream, 1)
	if h[0].Attempts != 2 || h[0].LastError != "timeout" || !h[0].FirstAttemptAt.Equal(now.UTC()) ||
		!h[0].LastAttemptAt.Equal(now.Add(time.Second).UTC()) {
		t.Errorf("twice failed head = %+v", h[0])
	}
	// Delivering the rest empties the queue; repeating a record is harmless.
	rest, _ := s.PendingDeliveries(ctx, k.ID, stream, 10)
	var seqs []int64
	for _, x := range rest {
		seqs = append(seqs, x.Event.Seq)
	}
	rec := metastore.DeliveryRecord{SinkID: k.ID, StreamID: stream, Delivered: seqs}
	noErr(t, "RecordDeliveries", s.RecordDeliveries(ctx, rec))
	noErr(t, "RecordDeliveries again", s.RecordDeliveries(ctx, rec))
	if d := dueStreams(t, s, k.ID, now.Add(time.Hour)); len(d) != 0 {
		t.Errorf("drained stream still queued: %+v", d)
	}
	st, _ = s.EventStats(ctx)
	if st.Pending != 0 || st.Unrouted != 0 || !st.OldestPending.IsZero() {
		t.Errorf("EventStats after delivery = %+v", st)
	}
}

func testEventsDeadLetters(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "team/app")
	k := mustSink(t, s, webhookSink("111111111111", "hook"))
	other := mustSink(t, s, webhookSink("111111111111", "other"))
	pushTagged(t, s, r.ID, "d1", "d1")
	pushTagged(t, s, r.ID, "d2", "d2")
	if _, err := s.RouteEvents(ctx, 10); err != nil {
		t.Fatal(err)
	}
	stream := dueStreams(t, s, k.ID, time.Now())[0].StreamID
	head, _ := s.PendingDeliveries(ctx, k.ID, stream, 1)
	now := time.Now()
	noErr(t, "RecordDeliveries dead", s.RecordDeliveries(ctx, metastore.DeliveryRecord{SinkID: k.ID, StreamID: stream,
		Failed: &metastore.DeliveryFailure{Seq: head[0].Event.Seq, At: now, Error: "HTTP 400", Dead: true}}))
	// The dead letter no longer blocks its stream: d2 is next, at once.
	if got := pendingTags(t, s, k.ID, stream); !slices.Equal(got, []string{"d2"}) {
		t.Fatalf("pending after a dead letter = %v", got)
	}
	if d := dueStreams(t, s, k.ID, now); len(d) != 1 {
		t.Fatalf("stream not due after a dead letter: %+v", d)
	}
	dead, err := s.ListDeadLetters(ctx, "111111111111", "", 0, 10)
	noErr(t, "ListDeadLetters", err)
	if len(dead) != 1 || dead[0].Event.Tag != "d1" || dead[0].SinkName != "hook" || dead[0].State != metastore.DeliveryDead ||
		dead[0].Attempts != 1 || dead[0].LastError != "HTTP 400" || !dead[0].DeadAt.Equal(now.UTC()) {
		t.Fatalf("dead letters = %+v", dead)
	}
	if d, _ := s.ListDeadLetters(ctx, "111111111111", "other", 0, 10); len(d) != 0 {
		t.Errorf("dead letters of another sink: %+v", d)
	}
	if d, _ := s.ListDeadLetters(ctx, "111111111111", "", dead[0].Event.Seq, 10); len(d) != 0 {
		t.Errorf("dead letters after the last: %+v", d)
	}
	if st, _ := s.EventStats(ctx); st.Dead != 1 {
		t.Errorf("EventStats.Dead = %d", st.Dead)
	}
	// Retry by event id: pending again, with fresh attempts, ahead of d2.
	if n, err := s.RetryDeadLetters(ctx, "111111111111", "hook", []string{"no-such-id"}); err != nil || n != 0 {
		t.Errorf("RetryDeadLetters(unknown id) = %d, %v", n, err)
	}
	n, err := s.RetryDeadLetters(ctx, "111111111111", "hook", []string{dead[0].Event.ID})
	if err != nil || n != 1 {
		t.Fatalf("RetryDeadLetters = %d, %v", n, err)
	}
	again, _ := s.PendingDeliveries(ctx, k.ID, stream, 10)
	if len(again) != 2 || again[0].Event.Tag != "d1" || again[0].Attempts != 0 || !again[0].FirstAttemptAt.IsZero() {
		t.Fatalf("after retry: %+v", again)
	}
	// Dead-letter both, discard all of the account's.
	for _, dl := range again {
		noErr(t, "RecordDeliveries", s.RecordDeliveries(ctx, metastore.DeliveryRecord{SinkID: k.ID, StreamID: stream,
			Failed: &metastore.DeliveryFailure{Seq: dl.Event.Seq, At: now, Error: "gone", Dead: true}}))
	}
	if d := dueStreams(t, s, k.ID, now.Add(time.Hour)); len(d) != 0 {
		t.Errorf("a stream with only dead letters is queued: %+v", d)
	}
	if n, err := s.DiscardDeadLetters(ctx, "222222222222", "", nil); err != nil || n != 0 {
		t.Errorf("DiscardDeadLetters of another account = %d, %v", n, err)
	}
	if n, err := s.DiscardDeadLetters(ctx, "111111111111", "", nil); err != nil || n != 2 {
		t.Errorf("DiscardDeadLetters(all) = %d, %v", n, err)
	}
	if d, _ := s.ListDeadLetters(ctx, "111111111111", "", 0, 10); len(d) != 0 {
		t.Errorf("dead letters after discard: %+v", d)
	}
	// The other sink's deliveries are untouched; deleting the sink removes them.
	if got := pendingTags(t, s, other.ID, stream); len(got) != 2 {
		t.Errorf("other sink pending = %v", got)
	}
	noErr(t, "DeleteEventSink", s.DeleteEventSink(ctx, "111111111111", "other"))
	if st, _ := s.EventStats(ctx); st.Pending != 0 || st.Dead != 0 {
		t.Errorf("EventStats after deleting the sink = %+v", st)
	}
}

func testEventsMaintain(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "team/app")
	k := mustSink(t, s, webhookSink("111111111111", "hook"))
	pushTagged(t, s, r.ID, "m1", "m1")
	pushTagged(t, s, r.ID, "m2", "m2")
	future := time.Now().Add(time.Hour)
	// Unrouted events are never pruned.
	if n, err := s.MaintainEvents(ctx, future, 100); err != nil || n != 0 {
		t.Fatalf("MaintainEvents before routing = %d, %v", n, err)
	}
	if _, err := s.RouteEvents(ctx, 10); err != nil {
		t.Fatal(err)
	}
	stream := dueStreams(t, s, k.ID, time.Now())[0].StreamID
	head, _ := s.PendingDeliveries(ctx, k.ID, stream, 1)
	noErr(t, "RecordDeliveries", s.RecordDeliveries(ctx, metastore.DeliveryRecord{SinkID: k.ID, StreamID: stream,
		Delivered: []int64{head[0].Event.Seq}}))
	if n, err := s.MaintainEvents(ctx, time.Now().Add(-time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("MaintainEvents within retention = %d, %v", n, err)
	}
	// m1 is delivered and old enough; m2 is still pending.
	if n, err := s.MaintainEvents(ctx, future, 100); err != nil || n != 1 {
		t.Fatalf("MaintainEvents = %d, %v; want 1", n, err)
	}
	left := allEvents(t, s)
	if len(left) != 1 || left[0].Tag != "m2" {
		t.Fatalf("outbox after pruning = %+v", factsOf(left))
	}
	if got := pendingTags(t, s, k.ID, stream); !slices.Equal(got, []string{"m2"}) {
		t.Errorf("pending after pruning = %v", got)
	}
}
