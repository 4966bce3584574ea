package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

var storageCases = []testCase{
	{"ArchiveAndRestore", testArchiveAndRestore},
	{"RefusedTransitions", testRefusedTransitions},
	{"IndexClosure", testArchiveIndexClosure},
	{"ReferrersFollowSubject", testArchiveReferrers},
	{"PushRestores", testPushRestores},
	{"PushIndexRestoresChildren", testPushIndexRestoresChildren},
	{"TagsDeletesOnArchived", testArchivedTagsAndDeletes},
	{"CompleteActivationsInBatches", testCompleteActivations},
	{"ListByImageStatus", testListByImageStatus},
	{"BlobArchived", testBlobArchived},
	{"LifecycleCandidates", testLifecycleCandidates},
	{"ConcurrentArchives", testConcurrentArchives},
}

// active selects the ACTIVE images of a tag status (ECR's default).
func active(tag metastore.TagStatus) metastore.ImageFilter {
	return metastore.ImageFilter{TagStatus: tag, Status: metastore.ImageActive}
}

// statusOf returns an image's status through GetManifest, GetImages and
// ListImages(ANY), failing unless all three agree.
func statusOf(t *testing.T, s metastore.Store, repoID int64, d digest.Digest) metastore.ImageStatus {
	t.Helper()
	m, err := s.GetManifest(ctxOf(t), repoID, d)
	noErr(t, "GetManifest", err)
	imgs, err := s.GetImages(ctxOf(t), repoID, []digest.Digest{d})
	noErr(t, "GetImages", err)
	if len(imgs) != 1 || imgs[0].Status != m.Status {
		t.Fatalf("GetImages(%s) = %+v; GetManifest status %s", d, imgs, m.Status)
	}
	all, err := s.ListImages(ctxOf(t), repoID, metastore.ImageFilter{TagStatus: metastore.TagStatusAny, Status: metastore.ImageStatusAny},
		metastore.Page{Last: string(d[:len(d)-1]), Limit: 1})
	noErr(t, "ListImages(ANY)", err)
	if len(all) != 1 || all[0].Digest != d || all[0].Status != m.Status {
		t.Fatalf("ListImages(ANY) at %s = %+v; GetManifest status %s", d, all, m.Status)
	}
	return m.Status
}

func wantStatus(t *testing.T, s metastore.Store, repoID int64, want map[digest.Digest]metastore.ImageStatus) {
	t.Helper()
	for d, st := range want {
		if got := statusOf(t, s, repoID, d); got != st {
			t.Errorf("%s status %s, want %s", d, got, st)
		}
	}
}

// wantChanges checks the changes a storage-class operation reported: the
// digests (first one first, the rest in any order) and statuses.
func wantChanges(t *testing.T, what string, got []metastore.StorageChange, repoID int64, from, to metastore.ImageStatus, want ...digest.Digest) {
	t.Helper()
	var ds []digest.Digest
	for _, c := range got {
		ds = append(ds, c.Digest)
		if c.From != from || c.To != to || c.RepositoryID != repoID || c.MediaType == "" {
			t.Errorf("%s: change %+v, want %s -> %s in repository %d with a media type", what, c, from, to, repoID)
		}
		wantRecent(t, what+" At", c.At)
	}
	if len(ds) != len(want) || (len(want) > 0 && ds[0] != want[0]) {
		t.Fatalf("%s changed %v, want %v (first first)", what, ds, want)
	}
	if !sameDigestSet(ds, want) {
		t.Errorf("%s changed %v, want %v", what, ds, want)
	}
}

func sameDigestSet(a, b []digest.Digest) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func mustStorageClass(t *testing.T, s metastore.Store, repoID int64, d digest.Digest, target metastore.StorageClass) []metastore.StorageChange {
	t.Helper()
	out, err := s.UpdateStorageClass(ctxOf(t), repoID, d, target)
	noErr(t, fmt.Sprintf("UpdateStorageClass(%s, %s)", d, target), err)
	return out
}

func testArchiveAndRestore(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 1)
	img.m.PushedAt = time1
	mustPut(t, s, img, "v1", "latest")
	d := img.m.Digest
	other := newImage(t, s, r.ID, "other", 0)
	mustPut(t, s, other, "v2")
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{d: metastore.ImageActive})

	changes := mustStorageClass(t, s, r.ID, d, metastore.StorageArchive)
	wantChanges(t, "archive", changes, r.ID, metastore.ImageActive, metastore.ImageArchived, d)
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{d: metastore.ImageArchived, other.m.Digest: metastore.ImageActive})
	imgs, err := s.GetImages(ctx, r.ID, []digest.Digest{d})
	noErr(t, "GetImages", err)
	got := imgs[0]
	wantTime(t, "LastArchivedAt", got.LastArchivedAt, changes[0].At)
	wantTime(t, "PushedAt after archive", got.PushedAt, time1)
	if !got.LastActivatedAt.IsZero() || !got.LastPulledAt.IsZero() {
		t.Errorf("archived image: LastActivatedAt %v, LastPulledAt %v, want zero", got.LastActivatedAt, got.LastPulledAt)
	}
	if !slices.Equal(got.Tags, []string{"latest", "v1"}) {
		t.Errorf("archived image tags %q, want its tags kept", got.Tags)
	}
	if _, err := s.GetManifestByTag(ctx, r.ID, "v1"); err != nil {
		t.Errorf("GetManifestByTag of an archived image: %v (the store still returns it, with its status)", err)
	}

	restore := mustStorageClass(t, s, r.ID, d, metastore.StorageStandard)
	wantChanges(t, "restore", restore, r.ID, metastore.ImageArchived, metastore.ImageActivating, d)
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{d: metastore.ImageActivating})

	done, err := s.CompleteActivations(ctx, 10)
	noErr(t, "CompleteActivations", err)
	wantChanges(t, "complete", done, r.ID, metastore.ImageActivating, metastore.ImageActive, d)
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{d: metastore.ImageActive})
	imgs, err = s.GetImages(ctx, r.ID, []digest.Digest{d})
	noErr(t, "GetImages", err)
	wantTime(t, "LastActivatedAt", imgs[0].LastActivatedAt, done[0].At)
	wantTime(t, "LastArchivedAt after restore", imgs[0].LastArchivedAt, changes[0].At)
	again, err := s.CompleteActivations(ctx, 10)
	noErr(t, "CompleteActivations (none left)", err)
	if len(again) != 0 {
		t.Errorf("CompleteActivations with nothing restoring = %+v", again)
	}
}

func testRefusedTransitions(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 0)
	mustPut(t, s, img, "v1")
	d := img.m.Digest
	refused := func(target metastore.StorageClass, status metastore.ImageStatus) {
		t.Helper()
		out, err := s.UpdateStorageClass(ctx, r.ID, d, target)
		var se *metastore.StorageClassError
		if !errors.As(err, &se) || !errors.Is(err, metastore.ErrStorageClassUnsupported) || len(out) != 0 {
			t.Fatalf("%s of a %s image: %v, %v; want a *StorageClassError", target, status, out, err)
		}
		if se.Digest != d || se.Status != status || se.Target != target || se.Parent != "" {
			t.Errorf("StorageClassError = %+v, want digest %s status %s target %s", se, d, status, target)
		}
		wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{d: status})
	}
	refused(metastore.StorageStandard, metastore.ImageActive)
	mustStorageClass(t, s, r.ID, d, metastore.StorageArchive)
	refused(metastore.StorageArchive, metastore.ImageArchived)
	mustStorageClass(t, s, r.ID, d, metastore.StorageStandard)
	refused(metastore.StorageArchive, metastore.ImageActivating)
	refused(metastore.StorageStandard, metastore.ImageActivating)

	_, err := s.UpdateStorageClass(ctx, r.ID, dg("missing"), metastore.StorageArchive)
	wantErr(t, "UpdateStorageClass(missing image)", err, metastore.ErrNotFound)
	_, err = s.UpdateStorageClass(ctx, 424242, d, metastore.StorageArchive)
	wantErr(t, "UpdateStorageClass(missing repository)", err, metastore.ErrNotFound)
	for _, bad := range []metastore.StorageClass{"", "archive", "GLACIER"} {
		if _, err := s.UpdateStorageClass(ctx, r.ID, d, bad); err == nil || errors.Is(err, metastore.ErrNotFound) {
			t.Errorf("UpdateStorageClass(%q) = %v, want an error that is not ErrNotFound", bad, err)
		}
	}
	if _, err := s.CompleteActivations(ctx, 0); err == nil {
		t.Error("CompleteActivations(limit 0) succeeded, want an error")
	}
}

// testArchiveIndexClosure: an index takes its children along unless another
// live index still lists them, and a child of a live index cannot go.
func testArchiveIndexClosure(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	var c [4]digest.Digest
	for i := range c {
		img := newImage(t, s, r.ID, fmt.Sprintf("child-%d", i), 0)
		mustPut(t, s, img)
		c[i] = img.m.Digest
	}
	i1 := newIndex(r.ID, "i1", c[0], c[1])
	mustPut(t, s, i1, "multi-1")
	i2 := newIndex(r.ID, "i2", c[1], c[2])
	mustPut(t, s, i2, "multi-2")
	sig := newImage(t, s, r.ID, "sig-of-child-0", 0)
	sig.m.Subject = c[0]
	mustPut(t, s, sig)

	_, err := s.UpdateStorageClass(ctx, r.ID, c[0], metastore.StorageArchive)
	var se *metastore.StorageClassError
	if !errors.As(err, &se) || se.Parent != i1.m.Digest || se.Status != metastore.ImageActive {
		t.Fatalf("archive a child of a live index: %v, want a *StorageClassError naming parent %s", err, i1.m.Digest)
	}

	out := mustStorageClass(t, s, r.ID, i1.m.Digest, metastore.StorageArchive)
	wantChanges(t, "archive i1", out, r.ID, metastore.ImageActive, metastore.ImageArchived, i1.m.Digest, c[0], sig.m.Digest)
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{
		i1.m.Digest: metastore.ImageArchived, c[0]: metastore.ImageArchived, sig.m.Digest: metastore.ImageArchived,
		c[1]:        metastore.ImageActive, // i2 still lists it
		i2.m.Digest: metastore.ImageActive, c[2]: metastore.ImageActive, c[3]: metastore.ImageActive,
	})

	out = mustStorageClass(t, s, r.ID, i2.m.Digest, metastore.StorageArchive)
	wantChanges(t, "archive i2", out, r.ID, metastore.ImageActive, metastore.ImageArchived, i2.m.Digest, c[1], c[2])

	// A child of an archived index may be restored and archived alone.
	out = mustStorageClass(t, s, r.ID, c[2], metastore.StorageStandard)
	wantChanges(t, "restore c2", out, r.ID, metastore.ImageArchived, metastore.ImageActivating, c[2])
	_, err = s.CompleteActivations(ctx, 100)
	noErr(t, "CompleteActivations", err)
	out = mustStorageClass(t, s, r.ID, c[2], metastore.StorageArchive)
	wantChanges(t, "archive c2 again", out, r.ID, metastore.ImageActive, metastore.ImageArchived, c[2])

	// Restoring i1 brings back its children (one shared with archived i2)
	// and the referrer of one of them; i2 and its other child stay.
	out = mustStorageClass(t, s, r.ID, i1.m.Digest, metastore.StorageStandard)
	wantChanges(t, "restore i1", out, r.ID, metastore.ImageArchived, metastore.ImageActivating, i1.m.Digest, c[0], c[1], sig.m.Digest)
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{
		i1.m.Digest: metastore.ImageActivating, c[0]: metastore.ImageActivating, c[1]: metastore.ImageActivating,
		sig.m.Digest: metastore.ImageActivating, i2.m.Digest: metastore.ImageArchived, c[2]: metastore.ImageArchived,
	})
}

// testArchiveReferrers: referrers (and their referrers) follow their subject.
func testArchiveReferrers(t *testing.T, s metastore.Store) {
	r := mustRepo(t, s, "111111111111", "app")
	subject := newImage(t, s, r.ID, "subject", 1)
	mustPut(t, s, subject, "v1")
	sbom := newImage(t, s, r.ID, "sbom", 0)
	sbom.m.Subject, sbom.m.ArtifactType = subject.m.Digest, "application/spdx+json"
	mustPut(t, s, sbom)
	sbomSig := newImage(t, s, r.ID, "sbom-signature", 0)
	sbomSig.m.Subject = sbom.m.Digest
	mustPut(t, s, sbomSig)
	otherRepo := mustRepo(t, s, "111111111111", "other")
	foreign := newImage(t, s, otherRepo.ID, "foreign-referrer", 0)
	foreign.m.Subject = subject.m.Digest // same subject digest, another repository
	mustPut(t, s, foreign)

	out := mustStorageClass(t, s, r.ID, subject.m.Digest, metastore.StorageArchive)
	wantChanges(t, "archive subject", out, r.ID, metastore.ImageActive, metastore.ImageArchived,
		subject.m.Digest, sbom.m.Digest, sbomSig.m.Digest)
	for _, c := range out {
		if c.Digest == sbom.m.Digest && (c.Subject != subject.m.Digest || c.ArtifactType != "application/spdx+json") {
			t.Errorf("referrer change %+v, want its subject and artifact type", c)
		}
	}
	wantStatus(t, s, otherRepo.ID, map[digest.Digest]metastore.ImageStatus{foreign.m.Digest: metastore.ImageActive})

	// A referrer may be restored alone, and archived alone.
	out = mustStorageClass(t, s, r.ID, sbomSig.m.Digest, metastore.StorageStandard)
	wantChanges(t, "restore signature", out, r.ID, metastore.ImageArchived, metastore.ImageActivating, sbomSig.m.Digest)
	out = mustStorageClass(t, s, r.ID, subject.m.Digest, metastore.StorageStandard)
	wantChanges(t, "restore subject", out, r.ID, metastore.ImageArchived, metastore.ImageActivating, subject.m.Digest, sbom.m.Digest)
}

func testPushRestores(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 1)
	img.m.PushedAt = time1
	mustPut(t, s, img, "v1")
	sig := newImage(t, s, r.ID, "sig", 0)
	sig.m.Subject = img.m.Digest
	mustPut(t, s, sig)
	mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageArchive)

	again := img
	again.m.PushedAt = time2
	mustPut(t, s, again, "v2")
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{img.m.Digest: metastore.ImageActive, sig.m.Digest: metastore.ImageActive})
	imgs, err := s.GetImages(ctx, r.ID, []digest.Digest{img.m.Digest})
	noErr(t, "GetImages", err)
	wantRecent(t, "LastActivatedAt after a re-push", imgs[0].LastActivatedAt)
	wantTime(t, "PushedAt after a re-push", imgs[0].PushedAt, time1)
	if !slices.Equal(imgs[0].Tags, []string{"v1", "v2"}) {
		t.Errorf("tags after re-push %q, want [v1 v2]", imgs[0].Tags)
	}

	// A re-push also finishes a restore in progress at once.
	mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageArchive)
	mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageStandard)
	mustPut(t, s, img)
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{img.m.Digest: metastore.ImageActive, sig.m.Digest: metastore.ImageActive})
	left, err := s.CompleteActivations(ctx, 10)
	noErr(t, "CompleteActivations", err)
	if len(left) != 0 {
		t.Errorf("CompleteActivations after a re-push restored = %+v, want nothing left", left)
	}

	// Pushing another image restores nothing else.
	mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageArchive)
	mustPut(t, s, newImage(t, s, r.ID, "unrelated", 0), "v3")
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{img.m.Digest: metastore.ImageArchived, sig.m.Digest: metastore.ImageArchived})
}

// testPushIndexRestoresChildren: an ACTIVE index never lists an image that
// cannot be pulled.
func testPushIndexRestoresChildren(t *testing.T, s metastore.Store) {
	r := mustRepo(t, s, "111111111111", "app")
	c1 := newImage(t, s, r.ID, "c1", 0)
	mustPut(t, s, c1)
	c2 := newImage(t, s, r.ID, "c2", 0)
	mustPut(t, s, c2)
	mustStorageClass(t, s, r.ID, c1.m.Digest, metastore.StorageArchive)
	mustStorageClass(t, s, r.ID, c2.m.Digest, metastore.StorageArchive)
	mustStorageClass(t, s, r.ID, c2.m.Digest, metastore.StorageStandard)

	idx := newIndex(r.ID, "idx", c1.m.Digest, c2.m.Digest)
	mustPut(t, s, idx, "multi")
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{
		idx.m.Digest: metastore.ImageActive, c1.m.Digest: metastore.ImageActive, c2.m.Digest: metastore.ImageActive,
	})
}

func testArchivedTagsAndDeletes(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	old := newImage(t, s, r.ID, "old", 0)
	mustPut(t, s, old, "stable", "v1")
	mustStorageClass(t, s, r.ID, old.m.Digest, metastore.StorageArchive)

	// A tag moves off an archived image like off any other.
	fresh := newImage(t, s, r.ID, "fresh", 0)
	mustPut(t, s, fresh, "stable")
	got, err := s.ResolveTag(ctx, r.ID, "stable")
	noErr(t, "ResolveTag", err)
	if got != fresh.m.Digest {
		t.Errorf("stable -> %s, want the new image %s", got, fresh.m.Digest)
	}
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{old.m.Digest: metastore.ImageArchived, fresh.m.Digest: metastore.ImageActive})

	// Deleting an archived image deletes it and its tags.
	noErr(t, "DeleteManifest(archived)", s.DeleteManifest(ctx, r.ID, old.m.Digest))
	_, err = s.ResolveTag(ctx, r.ID, "v1")
	wantErr(t, "ResolveTag(tag of a deleted archived image)", err, metastore.ErrNotFound)
	imgs, err := s.ListImages(ctx, r.ID, metastore.ImageFilter{TagStatus: metastore.TagStatusAny, Status: metastore.ImageStatusAny},
		metastore.Page{Limit: 10})
	noErr(t, "ListImages", err)
	if len(imgs) != 1 || imgs[0].Digest != fresh.m.Digest {
		t.Errorf("after deleting the archived image: %+v", imgs)
	}
}

func testCompleteActivations(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	pending := map[digest.Digest]int64{}
	for _, name := range []string{"a", "b"} {
		r := mustRepo(t, s, "111111111111", name)
		for i := range 3 {
			img := newImage(t, s, r.ID, fmt.Sprintf("%s-%d", name, i), 0)
			mustPut(t, s, img)
			mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageArchive)
			if i < 2 {
				mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageStandard)
				pending[img.m.Digest] = r.ID
			}
		}
	}
	seen := map[digest.Digest]bool{}
	for round := 0; len(seen) < len(pending); round++ {
		if round > len(pending) {
			t.Fatalf("CompleteActivations(3) never finished: %d of %d done", len(seen), len(pending))
		}
		out, err := s.CompleteActivations(ctx, 3)
		noErr(t, "CompleteActivations", err)
		if len(out) == 0 || len(out) > 3 {
			t.Fatalf("round %d: CompleteActivations(3) = %d changes", round, len(out))
		}
		for _, c := range out {
			if repo, ok := pending[c.Digest]; !ok || repo != c.RepositoryID || seen[c.Digest] {
				t.Errorf("completed %s in repository %d: not pending there, or twice", c.Digest, c.RepositoryID)
			}
			seen[c.Digest] = true
			wantStatus(t, s, c.RepositoryID, map[digest.Digest]metastore.ImageStatus{c.Digest: metastore.ImageActive})
		}
	}
	out, err := s.CompleteActivations(ctx, 3)
	noErr(t, "CompleteActivations", err)
	if len(out) != 0 {
		t.Errorf("archived images (never restored) completed: %+v", out)
	}
}

func testListByImageStatus(t *testing.T, s metastore.Store) {
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	want := map[metastore.ImageFilter][]string{}
	add := func(tag metastore.TagStatus, st metastore.ImageStatus, d digest.Digest) {
		for _, tf := range []metastore.TagStatus{tag, metastore.TagStatusAny} {
			for _, sf := range []metastore.ImageStatus{st, metastore.ImageStatusAny} {
				f := metastore.ImageFilter{TagStatus: tf, Status: sf}
				want[f] = append(want[f], d.String())
			}
		}
	}
	for i := range 18 { // at least three of each (tag status, image status)
		img := newImage(t, s, r.ID, fmt.Sprintf("img-%d", i), 0)
		tag := metastore.TagStatusUntagged
		var tags []string
		if i%2 == 0 {
			tag, tags = metastore.TagStatusTagged, []string{fmt.Sprintf("t%d", i)}
		}
		mustPut(t, s, img, tags...)
		mustPut(t, s, newImage(t, s, other.ID, fmt.Sprintf("img-%d", i), 0)) // same digests elsewhere, ACTIVE
		st := []metastore.ImageStatus{metastore.ImageActive, metastore.ImageArchived, metastore.ImageActivating}[i%3]
		if st != metastore.ImageActive {
			mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageArchive)
		}
		if st == metastore.ImageActivating {
			mustStorageClass(t, s, r.ID, img.m.Digest, metastore.StorageStandard)
		}
		add(tag, st, img.m.Digest)
	}
	for f, ds := range want {
		slices.Sort(ds)
		t.Run(string(f.TagStatus)+"/"+string(f.Status), func(t *testing.T) {
			checkPagination(t, ds, func(p metastore.Page) []string {
				t.Helper()
				imgs, err := s.ListImages(ctxOf(t), r.ID, f, p)
				noErr(t, "ListImages", err)
				out := make([]string, len(imgs))
				for i, img := range imgs {
					out[i] = img.Digest.String()
					if f.Status != metastore.ImageStatusAny && img.Status != f.Status {
						t.Errorf("%+v lists %s with status %s", f, img.Digest, img.Status)
					}
				}
				return out
			})
		})
	}
}

func testBlobArchived(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	a := newImage(t, s, r.ID, "a", 1)
	b := newImage(t, s, r.ID, "b", 0)
	shared := dg("shared layer")
	mustLink(t, s, r.ID, shared, 5)
	a.refs = append(a.refs, metastore.Reference{Kind: metastore.RefBlob, Digest: shared})
	b.refs = append(b.refs, metastore.Reference{Kind: metastore.RefBlob, Digest: shared})
	mustPut(t, s, a, "a")
	mustPut(t, s, b, "b")
	loose := dg("uploaded, unreferenced")
	mustLink(t, s, r.ID, loose, 7)
	only := a.refs[1].Digest // a's first layer, a's alone

	archived := func(d digest.Digest) bool {
		t.Helper()
		v, err := s.BlobArchived(ctx, r.ID, d)
		noErr(t, "BlobArchived", err)
		return v
	}
	for _, d := range []digest.Digest{only, shared, loose, dg("unknown")} {
		if archived(d) {
			t.Errorf("%s archived while every image is ACTIVE", d)
		}
	}
	mustStorageClass(t, s, r.ID, a.m.Digest, metastore.StorageArchive)
	if !archived(only) {
		t.Error("a layer of an archived image only: not archived")
	}
	if archived(shared) || archived(loose) {
		t.Error("a layer shared with an ACTIVE image, or referenced by nothing, reported archived")
	}
	mustStorageClass(t, s, r.ID, a.m.Digest, metastore.StorageStandard)
	if !archived(only) {
		t.Error("a layer of a restoring image only: not archived")
	}
	mustPut(t, s, a)
	if archived(only) {
		t.Error("a layer of a re-pushed image: still archived")
	}
}

func testLifecycleCandidates(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	c1 := newImage(t, s, r.ID, "c1", 0)
	c1.m.PushedAt = time1
	mustPut(t, s, c1, "b", "a")
	c2 := newImage(t, s, r.ID, "c2", 0)
	mustPut(t, s, c2)
	i1 := newIndex(r.ID, "i1", c1.m.Digest, c2.m.Digest)
	mustPut(t, s, i1, "multi")
	i2 := newIndex(r.ID, "i2", c1.m.Digest)
	mustPut(t, s, i2)
	sig := newImage(t, s, r.ID, "sig", 0)
	sig.m.Subject = c2.m.Digest
	mustPut(t, s, sig)
	lone := newImage(t, s, r.ID, "lone", 0)
	mustPut(t, s, lone)
	archived := mustStorageClass(t, s, r.ID, lone.m.Digest, metastore.StorageArchive)
	_, err := s.RecordPullTimes(ctx, []metastore.PullTime{{RepositoryID: r.ID, Digest: c1.m.Digest, At: time2}}, 0)
	noErr(t, "RecordPullTimes", err)

	var all []metastore.LifecycleImage
	last := ""
	for range 10 {
		page, err := s.LifecycleCandidates(ctx, r.ID, metastore.Page{Last: last, Limit: 2})
		noErr(t, "LifecycleCandidates", err)
		all = append(all, page...)
		if len(page) < 2 {
			break
		}
		last = page[len(page)-1].Digest.String()
	}
	by := map[digest.Digest]metastore.LifecycleImage{}
	for i, li := range all {
		by[li.Digest] = li
		if i > 0 && all[i-1].Digest >= li.Digest {
			t.Errorf("candidates out of digest order: %s then %s", all[i-1].Digest, li.Digest)
		}
	}
	if len(by) != 6 {
		t.Fatalf("%d candidates, want all 6 images (every status)", len(by))
	}
	parents := slices.Sorted(slices.Values([]digest.Digest{i1.m.Digest, i2.m.Digest}))
	if got := by[c1.m.Digest]; !slices.Equal(got.Parents, parents) || !slices.Equal(got.Tags, []string{"a", "b"}) ||
		got.Status != metastore.ImageActive {
		t.Errorf("c1 = %+v, want parents %v, tags [a b], ACTIVE", got, parents)
	} else {
		wantTime(t, "c1 PushedAt", got.PushedAt, time1)
		wantTime(t, "c1 LastPulledAt", got.LastPulledAt, time2)
	}
	if got := by[c2.m.Digest]; !slices.Equal(got.Parents, []digest.Digest{i1.m.Digest}) || !got.LastPulledAt.IsZero() {
		t.Errorf("c2 = %+v, want parent %s and never pulled", got, i1.m.Digest)
	}
	if got := by[sig.m.Digest]; got.Subject != c2.m.Digest || len(got.Parents) != 0 {
		t.Errorf("sig = %+v, want subject %s and no parents", got, c2.m.Digest)
	}
	if got := by[lone.m.Digest]; got.Status != metastore.ImageArchived {
		t.Errorf("lone = %+v, want ARCHIVED", got)
	} else {
		wantTime(t, "lone LastArchivedAt", got.LastArchivedAt, archived[0].At)
	}
	if got := by[i1.m.Digest]; len(got.Parents) != 0 || !slices.Equal(got.Tags, []string{"multi"}) {
		t.Errorf("i1 = %+v", got)
	}
	if _, err := s.LifecycleCandidates(ctx, r.ID, metastore.Page{Limit: 0}); err == nil {
		t.Error("LifecycleCandidates(limit 0) succeeded, want an error")
	}
	none, err := s.LifecycleCandidates(ctx, 424242, metastore.Page{Limit: 10})
	noErr(t, "LifecycleCandidates(missing repository)", err)
	if len(none) != 0 {
		t.Errorf("a missing repository has %d candidates", len(none))
	}
}

// testConcurrentArchives: of concurrent archives of one image exactly one
// succeeds; of concurrent archive and restore requests the image ends in a
// state one of the orders explains.
func testConcurrentArchives(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 0)
	mustPut(t, s, img, "v1")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = s.UpdateStorageClass(ctx, r.ID, img.m.Digest, metastore.StorageArchive) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, metastore.ErrStorageClassUnsupported):
			t.Errorf("concurrent archive: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent archives succeeded, want exactly 1", ok, n)
	}
	wantStatus(t, s, r.ID, map[digest.Digest]metastore.ImageStatus{img.m.Digest: metastore.ImageArchived})
}
