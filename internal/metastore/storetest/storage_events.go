package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// testStorageClassEvents: archiving writes an UPDATE_STORAGE_CLASS event
// (target ARCHIVE) per image it moved, a referrer's as an "ECR Referrer
// Action"; starting a restore writes none; completing it writes target
// STANDARD with last-activated-at; a re-push of an archived image writes
// its restore next to its push; a refused change writes nothing.
func testStorageClassEvents(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 1)
	mustPut(t, s, img, "v1")
	sig := newImage(t, s, r.ID, "sig", 0)
	sig.m.Subject = img.m.Digest
	mustPut(t, s, sig)
	before := len(allEvents(t, s))

	changes := mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageArchive)
	if len(changes) != 2 {
		t.Fatalf("archive changed %d images, want the image and its referrer", len(changes))
	}
	evs := allEvents(t, s)[before:]
	want := []eventFacts{
		{"111111111111", "app", metastore.DetailTypeImageAction, metastore.ActionUpdateStorageClass,
			metastore.ResultSuccess, img.m.Digest, "", ociManifest, ""},
		{"111111111111", "app", metastore.DetailTypeReferrerAction, metastore.ActionUpdateStorageClass,
			metastore.ResultSuccess, sig.m.Digest, "", ociManifest, ""},
	}
	if evs[0].Digest != img.m.Digest { // the closure's order past the root is the store's
		evs[0], evs[1] = evs[1], evs[0]
	}
	wantEvents(t, "archive", evs, want)
	for _, e := range evs {
		wantDetail(t, "archive", e, map[string]string{"target-storage-class": "ARCHIVE"})
	}

	// Refused: archiving what is archived writes nothing.
	if _, err := s.UpdateStorageClass(ctx, r.ID, img.m.Digest, metastore.StorageArchive); err == nil {
		t.Fatal("archiving an archived image succeeded")
	}
	before = len(allEvents(t, s))
	mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageStandard)
	if evs := allEvents(t, s)[before:]; len(evs) != 0 {
		t.Fatalf("starting a restore wrote events: %+v", factsOf(evs))
	}
	done, err := s.CompleteActivations(ctx, 10)
	noErr(t, "CompleteActivations", err)
	if len(done) != 2 {
		t.Fatalf("CompleteActivations finished %d, want 2", len(done))
	}
	evs = allEvents(t, s)[before:]
	if len(evs) != 2 {
		t.Fatalf("completed restores wrote %d events, want 2: %+v", len(evs), factsOf(evs))
	}
	for _, e := range evs {
		wantDetail(t, "restore", e, map[string]string{"target-storage-class": "STANDARD",
			"last-activated-at": e.Time.UTC().Format("2006-01-02T15:04:05.000Z")})
	}

	// A re-push of an archived image restores it at once: its restore event
	// and its push event, in that transaction.
	mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageArchive)
	before = len(allEvents(t, s))
	mustPut(t, s, img, "v2")
	evs = allEvents(t, s)[before:]
	var restores, pushes int
	for _, e := range evs {
		switch e.ActionType {
		case metastore.ActionUpdateStorageClass:
			restores++
			wantDetail(t, "restore on push", e, map[string]string{"target-storage-class": "STANDARD",
				"last-activated-at": e.Time.UTC().Format("2006-01-02T15:04:05.000Z")})
		case metastore.ActionPush:
			pushes++
		}
	}
	if restores != 2 || pushes != 1 {
		t.Fatalf("re-push of an archived image wrote %+v; want 2 restores (image, referrer) and 1 push", factsOf(evs))
	}
}

// wantDetail checks an event's extra detail fields exactly.
func wantDetail(t *testing.T, what string, e metastore.Event, want map[string]string) {
	t.Helper()
	var got map[string]string
	if err := json.Unmarshal(e.Detail, &got); err != nil {
		t.Fatalf("%s: detail %q: %v", what, e.Detail, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: detail %v, want %v", what, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: detail %v, want %v", what, got, want)
		}
	}
	if time.Since(e.Time) > time.Hour {
		t.Errorf("%s: event time %v", what, e.Time)
	}
}
