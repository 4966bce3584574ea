package storetest

import (
	"bytes"
	"errors"
	"maps"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

var manifestCases = []testCase{
	{"PutGetRoundTrip", testManifestRoundTrip},
	{"MissingBlobReference", testManifestMissingBlob},
	{"MissingManifestReference", testManifestMissingChild},
	{"MissingRepository", testManifestMissingRepository},
	{"RePutKeepsFirst", testManifestRePut},
	{"Delete", testManifestDelete},
	{"DeleteReferencedByIndex", testManifestDeleteReferenced},
	{"Referrers", testReferrers},
}

func testManifestRoundTrip(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 2)
	img.m.ArtifactType = "application/vnd.example.sbom"
	img.m.Subject = dg("subject")
	img.m.Annotations = map[string]string{"org.opencontainers.image.created": "2021", "k": "v\u00e9\x00"}
	img.m.PushedAt = time1
	mustPut(t, s, img, "v1")

	got, err := s.GetManifest(ctx, r.ID, img.m.Digest)
	noErr(t, "GetManifest", err)
	wantManifest(t, got, img.m)
	wantTime(t, "PushedAt", got.PushedAt, time1)

	byTag, err := s.GetManifestByTag(ctx, r.ID, "v1")
	noErr(t, "GetManifestByTag", err)
	wantManifest(t, byTag, img.m)
	d, err := s.ResolveTag(ctx, r.ID, "v1")
	noErr(t, "ResolveTag", err)
	if d != img.m.Digest {
		t.Errorf("ResolveTag = %s, want %s", d, img.m.Digest)
	}

	// A bare manifest: no subject, no annotations, PushedAt stamped.
	plain := newImage(t, s, r.ID, "plain", 0)
	mustPut(t, s, plain)
	got, err = s.GetManifest(ctx, r.ID, plain.m.Digest)
	noErr(t, "GetManifest(plain)", err)
	if got.Subject != "" || len(got.Annotations) != 0 || got.ArtifactType != "" {
		t.Errorf("plain manifest came back with subject %q, annotations %v, artifactType %q",
			got.Subject, got.Annotations, got.ArtifactType)
	}
	wantRecent(t, "defaulted PushedAt", got.PushedAt)

	other := mustRepo(t, s, "111111111111", "other")
	wantErr(t, "GetManifest(other repo)", firstErr(s.GetManifest(ctx, other.ID, img.m.Digest)), metastore.ErrNotFound)
	wantErr(t, "GetManifest(missing)", firstErr(s.GetManifest(ctx, r.ID, dg("nope"))), metastore.ErrNotFound)
	wantErr(t, "GetManifestByTag(missing)", firstErr(s.GetManifestByTag(ctx, r.ID, "nope")), metastore.ErrNotFound)
	wantErr(t, "ResolveTag(missing)", firstErr(s.ResolveTag(ctx, r.ID, "nope")), metastore.ErrNotFound)
	wantErr(t, "ResolveTag(other repo)", firstErr(s.ResolveTag(ctx, other.ID, "v1")), metastore.ErrNotFound)
}

func wantManifest(t *testing.T, got, want metastore.Manifest) {
	t.Helper()
	if got.RepositoryID != want.RepositoryID || got.Digest != want.Digest || got.MediaType != want.MediaType ||
		got.ArtifactType != want.ArtifactType || got.Subject != want.Subject || got.Size != want.Size ||
		got.ImageSize != want.ImageSize {
		t.Errorf("manifest = %+v\nwant       %+v", got, want)
	}
	if !bytes.Equal(got.Body, want.Body) {
		t.Errorf("body = %q, want %q", got.Body, want.Body)
	}
	if len(got.Annotations)+len(want.Annotations) > 0 && !maps.Equal(got.Annotations, want.Annotations) {
		t.Errorf("annotations = %v, want %v", got.Annotations, want.Annotations)
	}
}

// wantMissing checks err is a *MissingReferenceError for kind and d.
func wantMissing(t *testing.T, err error, kind metastore.RefKind, d digest.Digest) {
	t.Helper()
	var mr *metastore.MissingReferenceError
	if !errors.As(err, &mr) {
		t.Fatalf("error = %v, want *MissingReferenceError", err)
	}
	if mr.Kind != kind || mr.Digest != d {
		t.Errorf("missing %s %s, want %s %s", mr.Kind, mr.Digest, kind, d)
	}
}

func testManifestMissingBlob(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	old := newImage(t, s, r.ID, "old", 0)
	mustPut(t, s, old, "latest")

	img := newImage(t, s, r.ID, "img", 1)
	elsewhere := dg("linked-in-other-repo")
	mustLink(t, s, other.ID, elsewhere, 9)
	never := dg("never-linked")
	refs := []metastore.Reference{img.refs[0], {Kind: metastore.RefBlob, Digest: elsewhere}, {Kind: metastore.RefBlob, Digest: never}, img.refs[1]}
	err := s.PutManifest(ctx, img.m, refs, []string{"latest", "new"}, metastore.PutOptions{})
	wantMissing(t, err, metastore.RefBlob, elsewhere) // the first missing one, in order

	// Nothing was written: no manifest, no new tag, the old tag unmoved.
	wantErr(t, "GetManifest(refused)", firstErr(s.GetManifest(ctx, r.ID, img.m.Digest)), metastore.ErrNotFound)
	wantErr(t, "ResolveTag(new)", firstErr(s.ResolveTag(ctx, r.ID, "new")), metastore.ErrNotFound)
	if d, _ := s.ResolveTag(ctx, r.ID, "latest"); d != old.m.Digest {
		t.Errorf("latest moved to %s by a refused put", d)
	}

	// An unlinked blob is as missing as one never linked.
	noErr(t, "UnlinkBlob", s.UnlinkBlob(ctx, r.ID, img.refs[1].Digest))
	wantMissing(t, s.PutManifest(ctx, img.m, img.refs, nil, metastore.PutOptions{}), metastore.RefBlob, img.refs[1].Digest)
	mustLink(t, s, r.ID, img.refs[1].Digest, 101)
	mustPut(t, s, img, "new")
}

func testManifestMissingChild(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	child := newImage(t, s, r.ID, "child", 0)
	mustPut(t, s, child)
	foreign := newImage(t, s, other.ID, "foreign", 0)
	mustPut(t, s, foreign)

	idx := newIndex(r.ID, "idx", child.m.Digest, foreign.m.Digest)
	wantMissing(t, s.PutManifest(ctx, idx.m, idx.refs, []string{"multi"}, metastore.PutOptions{}), metastore.RefManifest, foreign.m.Digest)
	wantErr(t, "GetManifest(refused index)", firstErr(s.GetManifest(ctx, r.ID, idx.m.Digest)), metastore.ErrNotFound)
	wantErr(t, "ResolveTag(refused index)", firstErr(s.ResolveTag(ctx, r.ID, "multi")), metastore.ErrNotFound)

	// A blob of that digest does not satisfy a manifest reference.
	mustLink(t, s, r.ID, foreign.m.Digest, foreign.m.Size)
	wantMissing(t, s.PutManifest(ctx, idx.m, idx.refs, nil, metastore.PutOptions{}), metastore.RefManifest, foreign.m.Digest)

	idx = newIndex(r.ID, "idx", child.m.Digest)
	mustPut(t, s, idx, "multi")
}

func testManifestMissingRepository(t *testing.T, s metastore.Store) {
	img := image{m: metastore.Manifest{RepositoryID: 424242, Digest: dg("m"), MediaType: "x", Body: []byte("m"), Size: 1}}
	wantErr(t, "PutManifest(missing repo)", s.PutManifest(ctxOf(t), img.m, nil, []string{"t"}, metastore.PutOptions{}), metastore.ErrNotFound)
}

func testManifestRePut(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 1)
	img.m.PushedAt = time1
	img.m.Annotations = map[string]string{"first": "1"}
	mustPut(t, s, img, "a")

	again := img
	again.m.PushedAt = time2
	again.m.Annotations = map[string]string{"second": "2"}
	again.m.Body = []byte("ignored")
	mustPut(t, s, again, "b")

	got, err := s.GetManifest(ctx, r.ID, img.m.Digest)
	noErr(t, "GetManifest", err)
	wantManifest(t, got, img.m)
	wantTime(t, "PushedAt after re-put", got.PushedAt, time1)
	for _, tag := range []string{"a", "b"} {
		if d, err := s.ResolveTag(ctx, r.ID, tag); err != nil || d != img.m.Digest {
			t.Errorf("ResolveTag(%s) = %s, %v", tag, d, err)
		}
	}
}

func testManifestDelete(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	wantErr(t, "DeleteManifest(missing)", s.DeleteManifest(ctx, r.ID, dg("nope")), metastore.ErrNotFound)
	img := newImage(t, s, r.ID, "img", 1)
	keep := newImage(t, s, r.ID, "keep", 1)
	mustPut(t, s, img, "a", "b")
	mustPut(t, s, keep, "c")

	noErr(t, "DeleteManifest", s.DeleteManifest(ctx, r.ID, img.m.Digest))
	wantErr(t, "GetManifest(deleted)", firstErr(s.GetManifest(ctx, r.ID, img.m.Digest)), metastore.ErrNotFound)
	for _, tag := range []string{"a", "b"} {
		wantErr(t, "ResolveTag("+tag+")", firstErr(s.ResolveTag(ctx, r.ID, tag)), metastore.ErrNotFound)
	}
	if d, err := s.ResolveTag(ctx, r.ID, "c"); err != nil || d != keep.m.Digest {
		t.Errorf("unrelated tag: %s, %v", d, err)
	}
	// Blob links stay: unreferenced blobs are garbage collection's business.
	noErr(t, "BlobSize(after delete)", firstErr(s.BlobSize(ctx, r.ID, img.refs[0].Digest)))
	wantErr(t, "DeleteManifest(again)", s.DeleteManifest(ctx, r.ID, img.m.Digest), metastore.ErrNotFound)
	// It can be pushed again.
	mustPut(t, s, img, "a")
}

func testManifestDeleteReferenced(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	child := newImage(t, s, r.ID, "child", 0)
	mustPut(t, s, child, "child")
	idx := newIndex(r.ID, "idx", child.m.Digest)
	mustPut(t, s, idx, "multi")
	// The same child and index in another repository do not protect this one's.
	oc := newImage(t, s, other.ID, "child", 0)
	mustPut(t, s, oc)
	mustPut(t, s, newIndex(other.ID, "idx", oc.m.Digest))

	wantErr(t, "DeleteManifest(child of index)", s.DeleteManifest(ctx, r.ID, child.m.Digest), metastore.ErrReferenced)
	if d, _ := s.ResolveTag(ctx, r.ID, "child"); d != child.m.Digest {
		t.Error("refused delete removed the child's tag")
	}
	noErr(t, "DeleteManifest(index)", s.DeleteManifest(ctx, r.ID, idx.m.Digest))
	noErr(t, "DeleteManifest(child, after index)", s.DeleteManifest(ctx, r.ID, child.m.Digest))
	wantErr(t, "DeleteManifest(other repo child)", s.DeleteManifest(ctx, other.ID, oc.m.Digest), metastore.ErrReferenced)
}

func testReferrers(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	subject := dg("subject-not-pushed-yet")
	var sigs, sboms []digest.Digest
	for i, at := range []string{"sig", "sbom", "sig", "sbom", "sig"} {
		ref := newImage(t, s, r.ID, "ref"+string(rune('a'+i)), 0)
		ref.m.Subject, ref.m.ArtifactType = subject, "application/vnd.example."+at
		ref.m.Annotations = map[string]string{"i": string(rune('0' + i))}
		mustPut(t, s, ref)
		if at == "sig" {
			sigs = append(sigs, ref.m.Digest)
		} else {
			sboms = append(sboms, ref.m.Digest)
		}
	}
	unrelated := newImage(t, s, r.ID, "unrelated", 0)
	unrelated.m.Subject, unrelated.m.ArtifactType = dg("another subject"), "application/vnd.example.sig"
	mustPut(t, s, unrelated)
	foreign := newImage(t, s, other.ID, "foreign", 0)
	foreign.m.Subject, foreign.m.ArtifactType = subject, "application/vnd.example.sig"
	mustPut(t, s, foreign)

	check := func(artifactType string, want []digest.Digest) {
		t.Helper()
		got, err := s.Referrers(ctx, r.ID, subject, artifactType, metastore.Page{Limit: 100})
		noErr(t, "Referrers", err)
		gotDigests := make([]digest.Digest, len(got))
		for i, m := range got {
			gotDigests[i] = m.Digest
			if m.Subject != subject || len(m.Annotations) != 1 || len(m.Body) == 0 {
				t.Errorf("referrer %+v lacks subject, annotations or body", m)
			}
		}
		sortDigests(want)
		if !equalDigests(gotDigests, want) {
			t.Errorf("Referrers(%q) = %v, want %v", artifactType, gotDigests, want)
		}
	}
	check("", append(append([]digest.Digest{}, sigs...), sboms...))
	check("application/vnd.example.sig", sigs)
	check("application/vnd.example.sbom", sboms)
	check("application/vnd.example.none", nil)

	none, err := s.Referrers(ctx, r.ID, dg("no referrers"), "", metastore.Page{Limit: 100})
	noErr(t, "Referrers(none)", err)
	if len(none) != 0 {
		t.Errorf("Referrers(no referrers) = %d manifests", len(none))
	}
	// Deleting a referrer removes it from the list.
	noErr(t, "DeleteManifest", s.DeleteManifest(ctx, r.ID, sigs[0]))
	check("application/vnd.example.sig", sigs[1:])
}
