package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
)

// eventStore opens a store with opts and an account and repository.
func eventStore(t *testing.T, opts Options) (*Store, int64) {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.CreateAccount(t.Context(), metastore.Account{ID: "111111111111"}); err != nil {
		t.Fatal(err)
	}
	r := metastore.Repository{AccountID: "111111111111", Name: "team/app"}
	if err := s.CreateRepository(t.Context(), &r); err != nil {
		t.Fatal(err)
	}
	return s, r.ID
}

func putTagged(t *testing.T, s *Store, repoID int64, tag string) digest.Digest {
	t.Helper()
	body := []byte(`{"schemaVersion":2,"tag":"` + tag + `"}`)
	m := metastore.Manifest{RepositoryID: repoID, Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Size: int64(len(body)), Body: body}
	if err := s.PutManifest(t.Context(), m, nil, []string{tag}, metastore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return m.Digest
}

// TestEmitHelper: emit keeps every field and the detail object; OnEvents
// runs once after a committed write that emitted, never for a write that
// failed after emitting (its event is rolled back too).
func TestEmitHelper(t *testing.T) {
	var woken atomic.Int32
	s, repoID := eventStore(t, Options{OnEvents: func() { woken.Add(1) }})
	ctx := t.Context()
	at := time.Date(2025, 10, 10, 19, 13, 5, 0, time.UTC)
	ev := metastore.Event{AccountID: "111111111111", Repository: "team/app", DetailType: metastore.DetailTypeImageAction,
		ActionType: metastore.ActionUpdateStorageClass, Digest: digest.FromString("x"), ManifestMediaType: "m", ArtifactMediaType: "a",
		Time: at, Detail: json.RawMessage(`{"target-storage-class":"ARCHIVE"}`)}
	err := s.write(ctx, "archive", func(ctx context.Context, tx *sql.Tx) error {
		acct, name, err := s.repositoryOf(ctx, tx, repoID)
		if err != nil || acct != ev.AccountID || name != ev.Repository {
			t.Errorf("repositoryOf = %s, %s, %v", acct, name, err)
		}
		return s.emit(ctx, tx, ev)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := woken.Load(); n != 1 {
		t.Errorf("OnEvents ran %d times after one emitting write", n)
	}
	failed := errors.New("later step failed")
	err = s.write(ctx, "failing", func(ctx context.Context, tx *sql.Tx) error {
		if err := s.emit(ctx, tx, ev); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("failing write = %v", err)
	}
	if err := s.write(ctx, "bad", func(ctx context.Context, tx *sql.Tx) error {
		return s.emit(ctx, tx, metastore.Event{AccountID: "111111111111", Repository: "r", DetailType: "x", Detail: json.RawMessage(`[1]`)})
	}); err == nil {
		t.Error("emit accepted a detail that is not an object")
	}
	if err := s.DeleteTag(ctx, repoID, "missing"); !errors.Is(err, metastore.ErrNotFound) {
		t.Errorf("DeleteTag of a missing tag = %v", err)
	}
	evs, err := s.ListEvents(ctx, 0, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("ListEvents = %+v, %v; want the one committed event", evs, err)
	}
	got := evs[0]
	if got.ID == "" || got.Result != metastore.ResultSuccess || !got.Time.Equal(at) || got.ActionType != ev.ActionType ||
		got.Digest != ev.Digest || got.ManifestMediaType != "m" || got.ArtifactMediaType != "a" ||
		string(got.Detail) != `{"target-storage-class":"ARCHIVE"}` {
		t.Errorf("event = %+v", got)
	}
	if n := woken.Load(); n != 1 {
		t.Errorf("OnEvents ran %d times, want 1 (failed writes do not wake)", n)
	}
	putTagged(t, s, repoID, "v1")
	if n := woken.Load(); n != 2 {
		t.Errorf("OnEvents after a push: %d runs, want 2", n)
	}
}

// TestNoOutbox: with the outbox off no change writes an event.
func TestNoOutbox(t *testing.T) {
	var woken atomic.Int32
	s, repoID := eventStore(t, Options{NoOutbox: true, OnEvents: func() { woken.Add(1) }})
	ctx := t.Context()
	d := putTagged(t, s, repoID, "v1")
	putTagged(t, s, repoID, "v2")
	if err := s.DeleteTag(ctx, repoID, "v2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTag(ctx, repoID, "v2"); !errors.Is(err, metastore.ErrNotFound) {
		t.Errorf("DeleteTag twice = %v", err)
	}
	if err := s.DeleteManifest(ctx, repoID, d); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.ListEvents(ctx, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("events with the outbox off: %+v, %v", evs, err)
	}
	if woken.Load() != 0 {
		t.Error("OnEvents ran with the outbox off")
	}
}

// TestRequeueOrphans: pending deliveries whose stream lost its queue entry
// (two dispatchers racing during a claim hand-over) are queued again by
// MaintainEvents.
func TestRequeueOrphans(t *testing.T) {
	s, repoID := eventStore(t, Options{})
	ctx := t.Context()
	k := metastore.EventSink{AccountID: "111111111111", Name: "k", Type: metastore.SinkWebhook, URL: "http://x",
		Timeout: time.Second, RetryFor: time.Hour}
	if err := s.CreateEventSink(ctx, &k); err != nil {
		t.Fatal(err)
	}
	putTagged(t, s, repoID, "v1")
	if _, err := s.RouteEvents(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.exec(ctx, "DELETE FROM event_queue"); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueEventStreams(ctx, time.Now(), 10); len(due) != 0 {
		t.Fatalf("due without a queue entry: %+v", due)
	}
	if _, err := s.MaintainEvents(ctx, time.Now().Add(-time.Hour), 10); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueEventStreams(ctx, time.Now(), 10)
	if err != nil || len(due) != 1 || due[0].SinkID != k.ID {
		t.Fatalf("after MaintainEvents: %+v, %v", due, err)
	}
}

// TestRetentionBySeq: MaintainEvents deletes exactly the routed events that
// happened before the cutoff, found by binary search over seq.
func TestRetentionBySeq(t *testing.T) {
	var now atomic.Int64
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s, repoID := eventStore(t, Options{Clock: func() time.Time { return time.Unix(0, now.Load()) }})
	ctx := t.Context()
	for i := range 37 { // one event a minute, with gaps the search must step over
		now.Store(t0.Add(time.Duration(i) * time.Minute).UnixNano())
		putTagged(t, s, repoID, fmt.Sprintf("t%02d", i))
	}
	if _, err := s.RouteEvents(ctx, 100); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cutoff time.Duration
		want   int // events deleted by this call
	}{{-time.Minute, 0}, {0, 0}, {90 * time.Second, 2}, {10 * time.Minute, 8}, {10 * time.Minute, 0}, {time.Hour, 27}} {
		n, err := s.MaintainEvents(ctx, t0.Add(c.cutoff), 100)
		if err != nil || n != c.want {
			t.Fatalf("MaintainEvents(t0%+v) = %d, %v; want %d", c.cutoff, n, err, c.want)
		}
	}
	if evs, _ := s.ListEvents(ctx, 0, 100); len(evs) != 0 {
		t.Errorf("%d events left", len(evs))
	}
}

// TestWriterJournalsInMemory: the writer keeps its statement journal (one
// page copy per page a write changes) in memory, not in temporary files.
func TestWriterJournalsInMemory(t *testing.T) {
	s, _ := eventStore(t, Options{})
	var mode int
	if err := s.writer.QueryRowContext(t.Context(), "PRAGMA temp_store").Scan(&mode); err != nil || mode != 2 {
		t.Errorf("writer temp_store = %d, %v; want 2 (MEMORY)", mode, err)
	}
}
