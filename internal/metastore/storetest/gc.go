package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

// Garbage collection's store side (metastore.GCStore): listings, the
// re-checked removals, marks, and the races between them and pushes, each
// as a deterministic interleaving, plus one randomized race.
var gcCases = []testCase{
	{"StatAndRefreshLink", testGCStatAndRefreshLink},
	{"CollectableLinks", testGCCollectableLinks},
	{"ManifestPutVsLinkSweep", testGCManifestPutVsLinkSweep},
	{"RefreshVsLinkSweep", testGCRefreshVsLinkSweep},
	{"CollectableBlobs", testGCCollectableBlobs},
	{"LinkVsMark", testGCLinkVsMark},
	{"StaleMarkTakeover", testGCStaleMarkTakeover},
	{"LinkAsksStored", testGCLinkAsksStored},
	{"Orphans", testGCOrphans},
	{"Limits", testGCLimits},
	{"RaceUploadsAndCollection", testGCRaceUploadsAndCollection},
}

// future and past are cutoffs after and before everything a test does.
func future() time.Time { return time.Now().Add(time.Hour) }
func past() time.Time   { return time.Now().Add(-time.Hour) }

// everything collects whatever is unreferenced; nothing is stale.
func everything() metastore.GCCutoffs {
	return metastore.GCCutoffs{Before: future(), StaleMark: past()}
}

// stored answers like a blob store that holds exactly the digests in set.
func stored(set ...digest.Digest) metastore.BlobStored {
	return func(_ context.Context, d digest.Digest) (bool, error) { return slices.Contains(set, d), nil }
}

func linkKeys(links []metastore.BlobLink) []string {
	out := []string{}
	for _, l := range links {
		out = append(out, fmt.Sprintf("%d/%s", l.RepositoryID, l.Digest))
	}
	return out
}

func blobDigests(blobs []metastore.CollectableBlob) []digest.Digest {
	out := []digest.Digest{}
	for _, b := range blobs {
		out = append(out, b.Digest)
	}
	return out
}

func collectableBlobs(t *testing.T, s metastore.Store, c metastore.GCCutoffs) []digest.Digest {
	t.Helper()
	got, err := s.CollectableBlobs(ctxOf(t), c, "", 1000)
	noErr(t, "CollectableBlobs", err)
	return blobDigests(got)
}

func testGCStatAndRefreshLink(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	d := dg("layer")
	wantErr(t, "StatBlobLink(missing)", firstErr(s.StatBlobLink(ctx, r.ID, d)), metastore.ErrNotFound)
	wantErr(t, "RefreshBlobLink(missing)", s.RefreshBlobLink(ctx, r.ID, d), metastore.ErrNotFound)
	mustLink(t, s, r.ID, d, 321)
	l, err := s.StatBlobLink(ctx, r.ID, d)
	noErr(t, "StatBlobLink", err)
	if l.RepositoryID != r.ID || l.Digest != d || l.Size != 321 {
		t.Fatalf("StatBlobLink = %+v", l)
	}
	wantRecent(t, "LinkedAt", l.LinkedAt)
	time.Sleep(2 * time.Millisecond)
	noErr(t, "RefreshBlobLink", s.RefreshBlobLink(ctx, r.ID, d))
	l2, err := s.StatBlobLink(ctx, r.ID, d)
	noErr(t, "StatBlobLink(refreshed)", err)
	if !l2.LinkedAt.After(l.LinkedAt) {
		t.Errorf("LinkedAt after a refresh = %v, want after %v", l2.LinkedAt, l.LinkedAt)
	}
	noErr(t, "UnlinkBlob", s.UnlinkBlob(ctx, r.ID, d))
	wantErr(t, "RefreshBlobLink(unlinked)", s.RefreshBlobLink(ctx, r.ID, d), metastore.ErrNotFound)
}

// testGCCollectableLinks: unreferenced links asserted before the cutoff,
// paged in (repository, digest) order; referenced ones never.
func testGCCollectableLinks(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	a := mustRepo(t, s, "111111111111", "a")
	b := mustRepo(t, s, "111111111111", "b")
	img := newImage(t, s, a.ID, "img", 1) // config + 1 layer, referenced
	mustPut(t, s, img, "v1")
	loose := dg("loose")
	mustLink(t, s, a.ID, loose, 5)
	mustLink(t, s, b.ID, loose, 5)
	mustLink(t, s, b.ID, img.refs[0].Digest, 100) // referenced in a, not in b

	all, err := s.CollectableLinks(ctx, future(), metastore.BlobLink{}, 1000)
	noErr(t, "CollectableLinks", err)
	want := []metastore.BlobLink{{RepositoryID: a.ID, Digest: loose}, {RepositoryID: b.ID, Digest: loose},
		{RepositoryID: b.ID, Digest: img.refs[0].Digest}}
	slices.SortFunc(want, func(x, y metastore.BlobLink) int {
		if x.RepositoryID != y.RepositoryID {
			return int(x.RepositoryID - y.RepositoryID)
		}
		return compareStrings(string(x.Digest), string(y.Digest))
	})
	if got := linkKeys(all); !slices.Equal(got, linkKeys(want)) {
		t.Fatalf("CollectableLinks = %v, want %v", got, linkKeys(want))
	}
	for _, l := range all {
		if l.Size == 0 || l.LinkedAt.IsZero() {
			t.Errorf("link %+v lacks its size or time", l)
		}
	}
	var paged []metastore.BlobLink
	after := metastore.BlobLink{}
	for range 10 {
		page, err := s.CollectableLinks(ctx, future(), after, 1)
		noErr(t, "CollectableLinks(page)", err)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(linkKeys(paged), linkKeys(want)) {
		t.Errorf("paged = %v, want %v", linkKeys(paged), linkKeys(want))
	}
	if none, _ := s.CollectableLinks(ctx, past(), metastore.BlobLink{}, 1000); len(none) != 0 {
		t.Errorf("links asserted after the cutoff listed: %v", linkKeys(none))
	}

	removed, err := s.RemoveLinks(ctx, all, future())
	noErr(t, "RemoveLinks", err)
	if !slices.Equal(linkKeys(removed), linkKeys(want)) {
		t.Errorf("RemoveLinks removed %v, want %v", linkKeys(removed), linkKeys(want))
	}
	wantErr(t, "BlobSize(removed link)", firstErr(s.BlobSize(ctx, b.ID, loose)), metastore.ErrNotFound)
	noErr(t, "BlobSize(referenced link stays)", firstErr(s.BlobSize(ctx, a.ID, img.refs[0].Digest)))
	if again, _ := s.RemoveLinks(ctx, all, future()); len(again) != 0 {
		t.Errorf("removing again removed %v", linkKeys(again))
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// testGCManifestPutVsLinkSweep: a sweep listed a link, then a manifest
// referencing it committed: the removal re-checks and keeps it. The other
// order: the link goes first and the manifest put fails cleanly.
func testGCManifestPutVsLinkSweep(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "first", 1)
	listed, err := s.CollectableLinks(ctx, future(), metastore.BlobLink{}, 1000)
	noErr(t, "CollectableLinks", err)
	if len(listed) != 2 {
		t.Fatalf("listed %v, want the image's 2 blobs", linkKeys(listed))
	}
	mustPut(t, s, img, "v1") // commits between the sweep's listing and its removal
	removed, err := s.RemoveLinks(ctx, listed, future())
	noErr(t, "RemoveLinks", err)
	if len(removed) != 0 {
		t.Fatalf("RemoveLinks removed %v, which a committed manifest references", linkKeys(removed))
	}

	late := newImage(t, s, r.ID, "second", 1)
	listed, err = s.CollectableLinks(ctx, future(), metastore.BlobLink{}, 1000)
	noErr(t, "CollectableLinks", err)
	if removed, err := s.RemoveLinks(ctx, listed, future()); err != nil || len(removed) != 2 {
		t.Fatalf("RemoveLinks = %v, %v; want the second image's 2 blobs", linkKeys(removed), err)
	}
	err = s.PutManifest(ctx, late.m, late.refs, []string{"v2"}, metastore.PutOptions{})
	var missing *metastore.MissingReferenceError
	if !errors.As(err, &missing) || missing.Kind != metastore.RefBlob {
		t.Fatalf("PutManifest after its blobs' links were swept: %v, want a missing blob", err)
	}
	wantErr(t, "ResolveTag(v2)", firstErr(s.ResolveTag(ctx, r.ID, "v2")), metastore.ErrNotFound)
}

// testGCRefreshVsLinkSweep: a refresh (an existence check) that commits
// between the listing and the removal keeps the link.
func testGCRefreshVsLinkSweep(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	d := dg("checked")
	mustLink(t, s, r.ID, d, 9)
	time.Sleep(2 * time.Millisecond)
	cutoff := time.Now()
	listed, err := s.CollectableLinks(ctx, cutoff, metastore.BlobLink{}, 1000)
	noErr(t, "CollectableLinks", err)
	if len(listed) != 1 {
		t.Fatalf("listed %v", linkKeys(listed))
	}
	time.Sleep(2 * time.Millisecond)
	noErr(t, "RefreshBlobLink", s.RefreshBlobLink(ctx, r.ID, d))
	if removed, err := s.RemoveLinks(ctx, listed, cutoff); err != nil || len(removed) != 0 {
		t.Fatalf("RemoveLinks after a refresh = %v, %v; want nothing removed", linkKeys(removed), err)
	}
	noErr(t, "BlobSize(refreshed)", firstErr(s.BlobSize(ctx, r.ID, d)))
}

// testGCCollectableBlobs: what a pass would delete (also counting links it
// would first remove), what marking takes (no link at all), and the
// removal of marked records.
func testGCCollectableBlobs(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "kept", 0) // its config is referenced
	mustPut(t, s, img, "v1")
	unlinked, loose := dg("unlinked"), dg("loose")
	mustLink(t, s, r.ID, unlinked, 7)
	noErr(t, "UnlinkBlob", s.UnlinkBlob(ctx, r.ID, unlinked))
	mustLink(t, s, r.ID, loose, 8)

	want := []digest.Digest{unlinked, loose}
	slices.Sort(want)
	if got := collectableBlobs(t, s, everything()); !slices.Equal(got, want) {
		t.Fatalf("CollectableBlobs = %v, want %v (unlinked, and linked only by a collectable link)", got, want)
	}
	if got := collectableBlobs(t, s, metastore.GCCutoffs{Before: past(), StaleMark: past()}); len(got) != 0 {
		t.Errorf("blobs recorded after the cutoff listed: %v", got)
	}
	if page, _ := s.CollectableBlobs(ctx, everything(), want[0], 1000); !slices.Equal(blobDigests(page), want[1:]) {
		t.Errorf("page after %s = %v", want[0], blobDigests(page))
	}

	marked, err := s.MarkBlobsDeleting(ctx, []digest.Digest{unlinked, loose, img.refs[0].Digest}, everything())
	noErr(t, "MarkBlobsDeleting", err)
	if len(marked) != 1 || marked[0].Digest != unlinked || marked[0].Size != 7 || marked[0].DeletingAt.IsZero() {
		t.Fatalf("MarkBlobsDeleting = %+v, want only %s (the others are linked)", marked, unlinked)
	}
	if got := collectableBlobs(t, s, everything()); !slices.Equal(got, []digest.Digest{loose}) {
		t.Errorf("after marking, CollectableBlobs = %v; a freshly marked blob belongs to its collection", got)
	}
	if again, _ := s.MarkBlobsDeleting(ctx, []digest.Digest{unlinked}, everything()); len(again) != 0 {
		t.Errorf("a live mark was taken over: %+v", again)
	}
	stale := marked[0]
	stale.DeletingAt = stale.DeletingAt.Add(-time.Nanosecond)
	if n, err := s.RemoveBlobRecords(ctx, []metastore.CollectableBlob{stale}); err != nil || n != 0 {
		t.Fatalf("RemoveBlobRecords with another mark = %d, %v; want 0", n, err)
	}
	if n, err := s.RemoveBlobRecords(ctx, marked); err != nil || n != 1 {
		t.Fatalf("RemoveBlobRecords = %d, %v; want 1", n, err)
	}
	if missing, _ := s.UnrecordedBlobs(ctx, []digest.Digest{unlinked}); len(missing) != 1 {
		t.Errorf("record of %s still there after removal", unlinked)
	}
	if _, err := s.RemoveBlobRecords(ctx, []metastore.CollectableBlob{{Digest: loose, Size: 8}}); err == nil {
		t.Error("RemoveBlobRecords of an unmarked blob succeeded")
	}
	noErr(t, "BlobSize(loose)", firstErr(s.BlobSize(ctx, r.ID, loose)))
}

// testGCLinkVsMark: the two orders of a link (upload, mount) and a mark.
func testGCLinkVsMark(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	a := mustRepo(t, s, "111111111111", "a")
	b := mustRepo(t, s, "111111111111", "b")
	d := dg("contested")
	mustLink(t, s, a.ID, d, 11)
	noErr(t, "UnlinkBlob", s.UnlinkBlob(ctx, a.ID, d))

	// Link first: the mark finds a link and leaves the blob alone.
	mustLink(t, s, b.ID, d, 11)
	if marked, _ := s.MarkBlobsDeleting(ctx, []digest.Digest{d}, everything()); len(marked) != 0 {
		t.Fatalf("a linked blob was marked: %+v", marked)
	}
	noErr(t, "UnlinkBlob", s.UnlinkBlob(ctx, b.ID, d))

	// Mark first: every way of linking fails with ErrBlobDeleting, even
	// when the bytes are (still) there, and writes nothing.
	marked, err := s.MarkBlobsDeleting(ctx, []digest.Digest{d}, everything())
	noErr(t, "MarkBlobsDeleting", err)
	if len(marked) != 1 {
		t.Fatalf("MarkBlobsDeleting = %+v", marked)
	}
	wantErr(t, "LinkBlob(marked)", s.LinkBlob(ctx, a.ID, d, 11, stored(d)), metastore.ErrBlobDeleting)
	wantErr(t, "LinkBlob(marked, no check)", s.LinkBlob(ctx, b.ID, d, 11, nil), metastore.ErrBlobDeleting)
	noErr(t, "CreateUpload", s.CreateUpload(ctx, metastore.Upload{ID: "up-1", RepositoryID: a.ID, Algorithm: "sha256"}))
	wantErr(t, "FinishUpload(marked)", s.FinishUpload(ctx, "up-1", a.ID, d, 11, stored(d)), metastore.ErrBlobDeleting)
	noErr(t, "GetUpload(kept after a refused finish)", firstErr(s.GetUpload(ctx, a.ID, "up-1")))
	for _, repo := range []int64{a.ID, b.ID} {
		wantErr(t, "BlobSize(refused link)", firstErr(s.BlobSize(ctx, repo, d)), metastore.ErrNotFound)
	}

	// Once the record is gone, a link needs the bytes to be stored.
	if n, err := s.RemoveBlobRecords(ctx, marked); err != nil || n != 1 {
		t.Fatalf("RemoveBlobRecords = %d, %v", n, err)
	}
	wantErr(t, "LinkBlob(bytes gone)", s.LinkBlob(ctx, a.ID, d, 11, stored()), metastore.ErrBlobDeleting)
	noErr(t, "FinishUpload(stored again)", s.FinishUpload(ctx, "up-1", a.ID, d, 11, stored(d)))
	noErr(t, "BlobSize(relinked)", firstErr(s.BlobSize(ctx, a.ID, d)))
}

// testGCStaleMarkTakeover: a mark older than the stale cutoff (its
// collection died) is listed and taken over with a new mark, so the dead
// collection's token no longer removes the record.
func testGCStaleMarkTakeover(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	d := dg("abandoned")
	mustLink(t, s, r.ID, d, 3)
	noErr(t, "UnlinkBlob", s.UnlinkBlob(ctx, r.ID, d))
	first, err := s.MarkBlobsDeleting(ctx, []digest.Digest{d}, everything())
	noErr(t, "MarkBlobsDeleting", err)
	if len(first) != 1 {
		t.Fatalf("MarkBlobsDeleting = %+v", first)
	}
	time.Sleep(2 * time.Millisecond)
	later := metastore.GCCutoffs{Before: future(), StaleMark: time.Now()}
	if got := collectableBlobs(t, s, later); !slices.Equal(got, []digest.Digest{d}) {
		t.Fatalf("stale mark not listed: %v", got)
	}
	second, err := s.MarkBlobsDeleting(ctx, []digest.Digest{d}, later)
	noErr(t, "MarkBlobsDeleting(takeover)", err)
	if len(second) != 1 || !second[0].DeletingAt.After(first[0].DeletingAt) {
		t.Fatalf("takeover = %+v, want a newer mark than %v", second, first[0].DeletingAt)
	}
	if n, _ := s.RemoveBlobRecords(ctx, first); n != 0 {
		t.Fatal("the dead collection's mark still removed the record")
	}
	if n, _ := s.RemoveBlobRecords(ctx, second); n != 1 {
		t.Fatal("the new mark did not remove the record")
	}
}

// testGCLinkAsksStored: the blob store is asked only when a record would
// be created; its answer decides, and a failure writes nothing.
func testGCLinkAsksStored(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	d := dg("asked")
	var calls atomic.Int32
	counting := func(ok bool, err error) metastore.BlobStored {
		return func(_ context.Context, got digest.Digest) (bool, error) {
			calls.Add(1)
			if got != d {
				t.Errorf("stored asked about %s, want %s", got, d)
			}
			return ok, err
		}
	}
	broken := errors.New("blob store down")
	if err := s.LinkBlob(ctx, r.ID, d, 4, counting(false, broken)); !errors.Is(err, broken) {
		t.Fatalf("LinkBlob with a failing blob store: %v, want its error", err)
	}
	wantErr(t, "LinkBlob(not stored)", s.LinkBlob(ctx, r.ID, d, 4, counting(false, nil)), metastore.ErrBlobDeleting)
	if missing, _ := s.UnrecordedBlobs(ctx, []digest.Digest{d}); len(missing) != 1 {
		t.Fatal("a refused link left a record")
	}
	noErr(t, "LinkBlob(stored)", s.LinkBlob(ctx, r.ID, d, 4, counting(true, nil)))
	if calls.Load() != 3 {
		t.Fatalf("stored called %d times, want 3", calls.Load())
	}
	other := mustRepo(t, s, "111111111111", "other")
	noErr(t, "LinkBlob(recorded)", s.LinkBlob(ctx, other.ID, d, 4, counting(false, broken)))
	if calls.Load() != 3 {
		t.Error("stored was asked about a blob already recorded")
	}
}

// testGCOrphans: bytes without a record get a marked record only while
// none exists; an upload recording the blob after that fails.
func testGCOrphans(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	known, orphan := dg("known"), dg("orphan")
	mustLink(t, s, r.ID, known, 1)
	got, err := s.UnrecordedBlobs(ctx, []digest.Digest{known, orphan, orphan})
	noErr(t, "UnrecordedBlobs", err)
	if !slices.Equal(got, []digest.Digest{orphan}) {
		t.Fatalf("UnrecordedBlobs = %v, want [%s]", got, orphan)
	}
	marked, err := s.MarkOrphansDeleting(ctx, []metastore.CollectableBlob{{Digest: known, Size: 1}, {Digest: orphan, Size: 2}})
	noErr(t, "MarkOrphansDeleting", err)
	if len(marked) != 1 || marked[0].Digest != orphan || marked[0].Size != 2 || marked[0].DeletingAt.IsZero() {
		t.Fatalf("MarkOrphansDeleting = %+v, want only %s", marked, orphan)
	}
	noErr(t, "BlobSize(known kept)", firstErr(s.BlobSize(ctx, r.ID, known)))
	if got, _ := s.UnrecordedBlobs(ctx, []digest.Digest{orphan}); len(got) != 0 {
		t.Error("a marked orphan still counts as unrecorded")
	}
	wantErr(t, "LinkBlob(orphan being deleted)", s.LinkBlob(ctx, r.ID, orphan, 2, stored(orphan)), metastore.ErrBlobDeleting)
	if again, _ := s.MarkOrphansDeleting(ctx, marked); len(again) != 0 {
		t.Errorf("orphan marked twice: %+v", again)
	}
	if n, err := s.RemoveBlobRecords(ctx, marked); err != nil || n != 1 {
		t.Fatalf("RemoveBlobRecords = %d, %v", n, err)
	}
	noErr(t, "LinkBlob(uploaded again)", s.LinkBlob(ctx, r.ID, orphan, 2, stored(orphan)))
}

func testGCLimits(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	many := make([]digest.Digest, 1001)
	for i := range many {
		many[i] = dg(fmt.Sprint(i))
	}
	checks := map[string]error{
		"CollectableLinks(0)":     firstErr(s.CollectableLinks(ctx, future(), metastore.BlobLink{}, 0)),
		"CollectableBlobs(0)":     firstErr(s.CollectableBlobs(ctx, everything(), "", 0)),
		"UnrecordedBlobs(0)":      firstErr(s.UnrecordedBlobs(ctx, nil)),
		"UnrecordedBlobs(1001)":   firstErr(s.UnrecordedBlobs(ctx, many)),
		"MarkBlobsDeleting(1001)": firstErr(s.MarkBlobsDeleting(ctx, many, everything())),
	}
	for what, err := range checks {
		if err == nil {
			t.Errorf("%s accepted", what)
		}
	}
	if got, err := s.UnrecordedBlobs(ctx, many[:1000]); err != nil || len(got) != 1000 {
		t.Errorf("UnrecordedBlobs(1000) = %d, %v", len(got), err)
	}
}

// testGCRaceUploadsAndCollection races uploaders (each into its own
// repository) against collections over a few shared digests, with a
// simulated blob store: an uploader stores the bytes,
// then links them (asking the store); a collection lists, marks, deletes
// the bytes, then removes the records. Whatever the interleaving, a link
// that succeeded must point at stored bytes for as long as it exists.
func testGCRaceUploadsAndCollection(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	var mu sync.Mutex
	bytesStored := map[digest.Digest]bool{}
	has := func(d digest.Digest) bool { mu.Lock(); defer mu.Unlock(); return bytesStored[d] }
	set := func(d digest.Digest, v bool) { mu.Lock(); bytesStored[d] = v; mu.Unlock() }
	storedNow := func(_ context.Context, d digest.Digest) (bool, error) { return has(d), nil }
	digests := []digest.Digest{dg("race-0"), dg("race-1"), dg("race-2")}

	stop := make(chan struct{})
	var links, refusals atomic.Int32
	var wg sync.WaitGroup
	for u := range 8 {
		r := mustRepo(t, s, "111111111111", fmt.Sprintf("uploader-%d", u)) // its link is its own
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				d := digests[(u+i)%len(digests)]
				set(d, true) // the upload commits its bytes ...
				time.Sleep(time.Duration(i%4) * 100 * time.Microsecond)
				err := s.LinkBlob(ctx, r.ID, d, 1, storedNow) // ... and then records them
				if errors.Is(err, metastore.ErrBlobDeleting) {
					refusals.Add(1)
					continue
				}
				if err != nil {
					t.Errorf("LinkBlob: %v", err)
					return
				}
				links.Add(1)
				for range 3 { // the link is in use: its bytes must stay
					if !has(d) {
						t.Errorf("%s is linked but its bytes were deleted", d)
						return
					}
					time.Sleep(50 * time.Microsecond)
				}
				if err := s.UnlinkBlob(ctx, r.ID, d); err != nil && !errors.Is(err, metastore.ErrNotFound) {
					t.Errorf("UnlinkBlob: %v", err)
				}
			}
		})
	}
	collections := 0
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		c := metastore.GCCutoffs{Before: future(), StaleMark: past()}
		listed, err := s.CollectableBlobs(ctx, c, "", 100)
		noErr(t, "CollectableBlobs", err)
		if len(listed) == 0 {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		marked, err := s.MarkBlobsDeleting(ctx, blobDigests(listed), c)
		noErr(t, "MarkBlobsDeleting", err)
		for _, b := range marked {
			set(b.Digest, false) // the collection deletes the bytes
		}
		if len(marked) > 0 {
			_, err = s.RemoveBlobRecords(ctx, marked)
			noErr(t, "RemoveBlobRecords", err)
			collections++
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d links, %d refused as being deleted, %d collections", links.Load(), refusals.Load(), collections)
	if links.Load() == 0 || collections == 0 {
		t.Errorf("the race did not happen: %d links, %d collections", links.Load(), collections)
	}
}
