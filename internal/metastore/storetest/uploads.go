package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

var uploadCases = []testCase{
	{"CreateGet", testUploadCreateGet},
	{"CompareAndSwap", testUploadCAS},
	{"Delete", testUploadDelete},
	{"Expired", testUploadExpired},
	{"Stats", testUploadStats},
	{"ConcurrentCAS", testUploadConcurrentCAS},
	{"Finish", testUploadFinish},
}

// testUploadFinish: one transaction links the blob and ends the session.
func testUploadFinish(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	u := metastore.Upload{ID: "finish-1", RepositoryID: r.ID, Algorithm: "sha256"}
	noErr(t, "CreateUpload", s.CreateUpload(ctx, u))
	d := dg("finished blob")
	noErr(t, "FinishUpload", s.FinishUpload(ctx, u.ID, r.ID, d, 13, nil))
	size, err := s.BlobSize(ctx, r.ID, d)
	noErr(t, "BlobSize", err)
	if size != 13 {
		t.Fatalf("BlobSize = %d, want 13", size)
	}
	wantErr(t, "GetUpload(finished)", firstErr(s.GetUpload(ctx, r.ID, u.ID)), metastore.ErrNotFound)
	// Finishing again (a retried request) links again and is not an error.
	noErr(t, "FinishUpload(again)", s.FinishUpload(ctx, u.ID, r.ID, d, 13, nil))
	// A size that disagrees with the recorded blob changes nothing.
	if err := s.FinishUpload(ctx, "finish-2", r.ID, d, 14, nil); err == nil {
		t.Fatal("FinishUpload with a conflicting size succeeded")
	}
	wantErr(t, "FinishUpload(missing repo)", s.FinishUpload(ctx, "finish-3", 424242, dg("x"), 1, nil), metastore.ErrNotFound)
}

func testUploadCreateGet(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	u := metastore.Upload{
		ID: "0b7c5f0e-uuid", RepositoryID: r.ID, Offset: 42, HashState: []byte{0, 1, 2, 0},
		Algorithm: "sha256", StoreState: []byte(`{"part":1}`), CreatedAt: time1, UpdatedAt: time2,
	}
	noErr(t, "CreateUpload", s.CreateUpload(ctx, u))
	got, err := s.GetUpload(ctx, r.ID, u.ID)
	noErr(t, "GetUpload", err)
	wantUpload(t, got, u)
	wantTime(t, "CreatedAt", got.CreatedAt, time1)
	wantTime(t, "UpdatedAt", got.UpdatedAt, time2)

	wantErr(t, "CreateUpload(dup)", s.CreateUpload(ctx, u), metastore.ErrAlreadyExists)
	wantErr(t, "GetUpload(other repo)", firstErr(s.GetUpload(ctx, other.ID, u.ID)), metastore.ErrNotFound)
	wantErr(t, "GetUpload(missing)", firstErr(s.GetUpload(ctx, r.ID, "nope")), metastore.ErrNotFound)
	orphan := metastore.Upload{ID: "orphan", RepositoryID: 424242, Algorithm: "sha256"}
	wantErr(t, "CreateUpload(missing repo)", s.CreateUpload(ctx, orphan), metastore.ErrNotFound)

	fresh := metastore.Upload{ID: "fresh", RepositoryID: r.ID, Algorithm: "sha512"}
	noErr(t, "CreateUpload(fresh)", s.CreateUpload(ctx, fresh))
	got, err = s.GetUpload(ctx, r.ID, "fresh")
	noErr(t, "GetUpload(fresh)", err)
	wantRecent(t, "defaulted CreatedAt", got.CreatedAt)
	wantRecent(t, "defaulted UpdatedAt", got.UpdatedAt)
	if got.Offset != 0 || len(got.HashState) != 0 || len(got.StoreState) != 0 || got.Algorithm != "sha512" {
		t.Errorf("fresh upload = %+v", got)
	}
}

func wantUpload(t *testing.T, got, want metastore.Upload) {
	t.Helper()
	if got.ID != want.ID || got.RepositoryID != want.RepositoryID || got.Offset != want.Offset ||
		got.Algorithm != want.Algorithm || !bytes.Equal(got.HashState, want.HashState) ||
		!bytes.Equal(got.StoreState, want.StoreState) {
		t.Errorf("upload = %+v\nwant     %+v", got, want)
	}
}

func testUploadCAS(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	u := metastore.Upload{ID: "u", RepositoryID: r.ID, Algorithm: "sha256", CreatedAt: time1, UpdatedAt: time1}
	noErr(t, "CreateUpload", s.CreateUpload(ctx, u))

	next := u
	next.Offset, next.HashState, next.StoreState = 100, []byte("h100"), []byte("s100")
	noErr(t, "UpdateUpload(0->100)", s.UpdateUpload(ctx, next, 0))
	got, err := s.GetUpload(ctx, r.ID, "u")
	noErr(t, "GetUpload", err)
	wantUpload(t, got, next)
	wantTime(t, "CreatedAt after update", got.CreatedAt, time1)
	if !got.UpdatedAt.After(time1) {
		t.Errorf("UpdatedAt = %v, want refreshed by the update", got.UpdatedAt)
	}

	stale := u
	stale.Offset, stale.HashState = 50, []byte("h50")
	wantErr(t, "UpdateUpload(stale prev)", s.UpdateUpload(ctx, stale, 0), metastore.ErrConflict)
	if got, _ := s.GetUpload(ctx, r.ID, "u"); got.Offset != 100 || string(got.HashState) != "h100" {
		t.Errorf("conflicting update wrote %+v", got)
	}
	wrongRepo := next
	wrongRepo.RepositoryID = other.ID
	wantErr(t, "UpdateUpload(other repo)", s.UpdateUpload(ctx, wrongRepo, 100), metastore.ErrNotFound)
	gone := next
	gone.ID = "gone"
	wantErr(t, "UpdateUpload(missing)", s.UpdateUpload(ctx, gone, 0), metastore.ErrNotFound)
	// A no-op chunk (same offset) is still a valid swap.
	noErr(t, "UpdateUpload(100->100)", s.UpdateUpload(ctx, next, 100))
}

func testUploadDelete(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	noErr(t, "CreateUpload", s.CreateUpload(ctx, metastore.Upload{ID: "u", RepositoryID: r.ID, Algorithm: "sha256"}))
	noErr(t, "DeleteUpload", s.DeleteUpload(ctx, "u"))
	wantErr(t, "GetUpload(deleted)", firstErr(s.GetUpload(ctx, r.ID, "u")), metastore.ErrNotFound)
	noErr(t, "DeleteUpload(again)", s.DeleteUpload(ctx, "u"))
	noErr(t, "DeleteUpload(never existed)", s.DeleteUpload(ctx, "never"))
	wantErr(t, "UpdateUpload(deleted)", s.UpdateUpload(ctx, metastore.Upload{ID: "u", RepositoryID: r.ID, Offset: 1}, 0), metastore.ErrNotFound)
}

func testUploadExpired(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	// Created newest first so insertion order is not the answer.
	for i := 4; i >= 0; i-- {
		at := base.Add(time.Duration(i) * time.Hour)
		u := metastore.Upload{ID: fmt.Sprintf("u%d", i), RepositoryID: r.ID, Algorithm: "sha256", CreatedAt: at, UpdatedAt: at}
		noErr(t, "CreateUpload", s.CreateUpload(ctx, u))
	}
	ids := func(before time.Time, limit int) string {
		t.Helper()
		us, err := s.ExpiredUploads(ctx, before, limit)
		noErr(t, "ExpiredUploads", err)
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		return fmt.Sprint(out) // compare as text
	}
	for _, c := range []struct {
		before time.Time
		limit  int
		want   string
	}{
		{base.Add(3 * time.Hour), 10, "[u0 u1 u2]"},      // strictly before
		{base.Add(3*time.Hour + 1), 10, "[u0 u1 u2 u3]"}, // nanosecond precision
		{base.Add(10 * time.Hour), 2, "[u0 u1]"},
		{base, 10, "[]"},
	} {
		if got := ids(c.before, c.limit); got != c.want {
			t.Errorf("ExpiredUploads(%v, %d) = %s, want %s", c.before, c.limit, got, c.want)
		}
	}
	if _, err := s.ExpiredUploads(ctx, base, 0); err == nil {
		t.Error("ExpiredUploads(limit 0) succeeded, want an error")
	}
	// An update makes a session fresh again.
	u1, err := s.GetUpload(ctx, r.ID, "u1")
	noErr(t, "GetUpload", err)
	u1.Offset = 7
	noErr(t, "UpdateUpload", s.UpdateUpload(ctx, u1, 0))
	if got := ids(base.Add(10*time.Hour), 10); got != "[u0 u2 u3 u4]" {
		t.Errorf("after refreshing u1: %s", got)
	}
}

// testUploadConcurrentCAS races updaters on the same offset: exactly one
// wins each round, the others see ErrConflict, and no update is lost.
func testUploadConcurrentCAS(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	noErr(t, "CreateUpload", s.CreateUpload(ctx, metastore.Upload{ID: "u", RepositoryID: r.ID, Algorithm: "sha256"}))
	const rounds, racers = 10, 8
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, racers)
		for i := range racers {
			wg.Go(func() {
				u := metastore.Upload{ID: "u", RepositoryID: r.ID, Offset: int64(round + 1), HashState: []byte{byte(i)}}
				errs[i] = s.UpdateUpload(ctx, u, int64(round))
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, metastore.ErrConflict):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d updaters won, want exactly 1", round, won)
		}
	}
	got, err := s.GetUpload(ctx, r.ID, "u")
	noErr(t, "GetUpload", err)
	if got.Offset != rounds {
		t.Errorf("offset = %d, want %d", got.Offset, rounds)
	}
}

func testUploadStats(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	stats := func() metastore.UploadStats {
		t.Helper()
		st, err := s.UploadStats(ctx)
		noErr(t, "UploadStats", err)
		return st
	}
	if got := stats(); got != (metastore.UploadStats{}) {
		t.Fatalf("UploadStats of an empty store = %+v, want zeros", got)
	}
	a := mustRepo(t, s, "111111111111", "app")
	b := mustRepo(t, s, "222222222222", "app")
	noErr(t, "CreateUpload", s.CreateUpload(ctx, metastore.Upload{ID: "u1", RepositoryID: a.ID, Algorithm: "sha256"}))
	noErr(t, "CreateUpload", s.CreateUpload(ctx, metastore.Upload{ID: "u2", RepositoryID: b.ID, Algorithm: "sha256"}))
	u1, err := s.GetUpload(ctx, a.ID, "u1")
	noErr(t, "GetUpload", err)
	u1.Offset = 5 << 20
	noErr(t, "UpdateUpload", s.UpdateUpload(ctx, u1, 0))
	if got, want := stats(), (metastore.UploadStats{Open: 2, Bytes: 5 << 20}); got != want {
		t.Errorf("UploadStats = %+v, want %+v (every account's sessions)", got, want)
	}
	noErr(t, "DeleteUpload", s.DeleteUpload(ctx, "u1"))
	if got, want := stats(), (metastore.UploadStats{Open: 1}); got != want {
		t.Errorf("UploadStats after a delete = %+v, want %+v", got, want)
	}
}
