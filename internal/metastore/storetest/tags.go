package storetest

import (
	"slices"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

var tagCases = []testCase{
	{"MoveBetweenManifests", testTagMove},
	{"Delete", testTagDelete},
	{"ListPagination", testTagList},
}

func testTagMove(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	m1 := newImage(t, s, r.ID, "m1", 1)
	m2 := newImage(t, s, r.ID, "m2", 1)
	m3 := newImage(t, s, r.ID, "m3", 1)
	mustPut(t, s, m1, "latest", "v1")
	before, err := tagMap(t, s, r.ID)
	noErr(t, "ListTags", err)
	mustPut(t, s, m2, "latest")
	mustPut(t, s, m3, "v1")

	after, err := tagMap(t, s, r.ID)
	noErr(t, "ListTags", err)
	if after["latest"].Digest != m2.m.Digest || after["v1"].Digest != m3.m.Digest || len(after) != 2 {
		t.Errorf("tags = %+v, want latest->m2, v1->m3", after)
	}
	if after["latest"].UpdatedAt.Before(before["latest"].UpdatedAt) {
		t.Errorf("moving latest went back in time: %v -> %v", before["latest"].UpdatedAt, after["latest"].UpdatedAt)
	}
	wantRecent(t, "UpdatedAt", after["latest"].UpdatedAt)
	// m1 lost every tag but stays.
	noErr(t, "GetManifest(untagged)", firstErr(s.GetManifest(ctx, r.ID, m1.m.Digest)))
	got, err := s.GetManifestByTag(ctx, r.ID, "latest")
	noErr(t, "GetManifestByTag", err)
	if got.Digest != m2.m.Digest {
		t.Errorf("GetManifestByTag(latest) = %s, want m2", got.Digest)
	}
	// Tagging an existing manifest again by a re-put moves the tag back.
	mustPut(t, s, m1, "latest")
	if d, _ := s.ResolveTag(ctx, r.ID, "latest"); d != m1.m.Digest {
		t.Errorf("latest = %s after re-put of m1", d)
	}
}

func tagMap(t *testing.T, s metastore.Store, repoID int64) (map[string]metastore.Tag, error) {
	t.Helper()
	tags, err := s.ListTags(ctxOf(t), repoID, metastore.Page{Limit: 1000})
	m := make(map[string]metastore.Tag, len(tags))
	for _, tag := range tags {
		m[tag.Name] = tag
	}
	return m, err
}

func testTagDelete(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 0)
	mustPut(t, s, img, "a", "b")
	wantErr(t, "DeleteTag(missing)", s.DeleteTag(ctx, r.ID, "nope"), metastore.ErrNotFound)
	noErr(t, "DeleteTag", s.DeleteTag(ctx, r.ID, "a"))
	wantErr(t, "ResolveTag(deleted)", firstErr(s.ResolveTag(ctx, r.ID, "a")), metastore.ErrNotFound)
	wantErr(t, "DeleteTag(again)", s.DeleteTag(ctx, r.ID, "a"), metastore.ErrNotFound)
	noErr(t, "ResolveTag(sibling)", firstErr(s.ResolveTag(ctx, r.ID, "b")))
	noErr(t, "DeleteTag(last)", s.DeleteTag(ctx, r.ID, "b"))
	noErr(t, "GetManifest(untagged)", firstErr(s.GetManifest(ctx, r.ID, img.m.Digest)))
	other := mustRepo(t, s, "111111111111", "other")
	mustPut(t, s, img, "a")
	wantErr(t, "DeleteTag(other repo)", s.DeleteTag(ctx, other.ID, "a"), metastore.ErrNotFound)
}

func testTagList(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	img := newImage(t, s, r.ID, "img", 0)
	alt := newImage(t, s, r.ID, "alt", 0)
	mustPut(t, s, img, byteOrderNames[:6]...)
	mustPut(t, s, alt, byteOrderNames[6:]...)
	mustPut(t, s, newImage(t, s, other.ID, "x", 0), "zzz-other-repo")
	want := slices.Clone(byteOrderNames)
	slices.Sort(want)

	list := func(p metastore.Page) []string {
		t.Helper()
		tags, err := s.ListTags(ctx, r.ID, p)
		noErr(t, "ListTags", err)
		names := make([]string, len(tags))
		for i, tag := range tags {
			names[i] = tag.Name
			wantDigest := img.m.Digest
			if slices.Contains(byteOrderNames[6:], tag.Name) {
				wantDigest = alt.m.Digest
			}
			if tag.Digest != wantDigest {
				t.Errorf("tag %s -> %s, want %s", tag.Name, tag.Digest, wantDigest)
			}
			wantRecent(t, "tag UpdatedAt", tag.UpdatedAt)
		}
		return names
	}
	checkPagination(t, want, list)
	for _, limit := range []int{0, -5} {
		if _, err := s.ListTags(ctx, r.ID, metastore.Page{Limit: limit}); err == nil {
			t.Errorf("ListTags(limit %d) succeeded, want an error", limit)
		}
	}
	none, err := s.ListTags(ctx, 424242, metastore.Page{Limit: 10})
	noErr(t, "ListTags(missing repo)", err)
	if len(none) != 0 {
		t.Errorf("missing repository lists %d tags", len(none))
	}
}

func sortDigests(ds []digest.Digest) { slices.Sort(ds) }

func equalDigests(a, b []digest.Digest) bool { return slices.Equal(a, b) }
