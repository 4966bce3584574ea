package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

var imageCases = []testCase{
	{"ListPaginationByTagStatus", testImageListPagination},
	{"ListFieldsAndSortedTags", testImageListFields},
	{"ListRejectsBadArguments", testImageListBadArguments},
	{"GetInGivenOrder", testImageGet},
	{"GetManyDigests", testImageGetMany},
}

// imageFixture is a repository whose images are tagged, untagged, or lost
// their tags by a move or a delete, next to a repository with its own images.
type imageFixture struct {
	repo               metastore.Repository
	tagged, untagged   []string // digests, sorted
	tagsOf             map[digest.Digest][]string
	foreign            digest.Digest // only in the other repository
	foreignAlsoPresent digest.Digest // in both repositories
}

func newImageFixture(t *testing.T, s metastore.Store) imageFixture {
	t.Helper()
	ctx := ctxOf(t)
	f := imageFixture{repo: mustRepo(t, s, "111111111111", "app"), tagsOf: map[digest.Digest][]string{}}
	other := mustRepo(t, s, "111111111111", "other")
	put := func(name string, tags ...string) digest.Digest {
		img := newImage(t, s, f.repo.ID, name, 0)
		mustPut(t, s, img, tags...)
		return img.m.Digest
	}
	for i, tags := range [][]string{{"v1", "latest", "B", "_x"}, {"a"}, {"a-b", "a.b", "a_b"}, {"Z"}, {"moved"}, {"deleted"}} {
		d := put(fmt.Sprintf("tagged-%d", i), tags...)
		f.tagsOf[d] = slices.Sorted(slices.Values(tags))
	}
	for i := range 4 {
		put(fmt.Sprintf("untagged-%d", i))
	}
	// "moved" leaves its first image; "deleted" is deleted: both now untagged.
	mover := put("mover", "moved")
	f.tagsOf[mover] = []string{"moved"}
	noErr(t, "DeleteTag", s.DeleteTag(ctx, f.repo.ID, "deleted"))
	for d, tags := range f.tagsOf {
		if slices.Equal(tags, []string{"deleted"}) || (slices.Equal(tags, []string{"moved"}) && d != mover) {
			delete(f.tagsOf, d)
		}
	}
	all, err := s.ListImages(ctx, f.repo.ID, active(metastore.TagStatusAny), metastore.Page{Limit: 1000})
	noErr(t, "ListImages", err)
	for _, img := range all {
		if _, ok := f.tagsOf[img.Digest]; ok {
			f.tagged = append(f.tagged, img.Digest.String())
		} else {
			f.untagged = append(f.untagged, img.Digest.String())
		}
	}
	slices.Sort(f.tagged)
	slices.Sort(f.untagged)
	if len(f.tagged) != 5 || len(f.untagged) != 6 {
		t.Fatalf("fixture: %d tagged, %d untagged images, want 5 and 6", len(f.tagged), len(f.untagged))
	}

	foreign := newImage(t, s, other.ID, "foreign", 0)
	mustPut(t, s, foreign, "zzz")
	f.foreign = foreign.m.Digest
	both := newImage(t, s, other.ID, "tagged-1", 0) // same content as one of repo's
	mustPut(t, s, both, "other-tag")
	f.foreignAlsoPresent = both.m.Digest
	return f
}

func testImageListPagination(t *testing.T, s metastore.Store) {
	f := newImageFixture(t, s)
	all := slices.Sorted(slices.Values(append(slices.Clone(f.tagged), f.untagged...)))
	for _, c := range []struct {
		status metastore.TagStatus
		want   []string
	}{
		{metastore.TagStatusAny, all},
		{metastore.TagStatusTagged, f.tagged},
		{metastore.TagStatusUntagged, f.untagged},
	} {
		t.Run(string(c.status), func(t *testing.T) {
			list := func(p metastore.Page) []string {
				t.Helper()
				imgs, err := s.ListImages(ctxOf(t), f.repo.ID, active(c.status), p)
				noErr(t, "ListImages", err)
				ds := make([]string, len(imgs))
				for i, img := range imgs {
					ds[i] = img.Digest.String()
					if tagged := len(img.Tags) > 0; (c.status == metastore.TagStatusTagged && !tagged) ||
						(c.status == metastore.TagStatusUntagged && tagged) {
						t.Errorf("%s listing has %s with tags %q", c.status, img.Digest, img.Tags)
					}
					if !slices.Equal(img.Tags, f.tagsOf[img.Digest]) {
						t.Errorf("%s tags = %q, want %q", img.Digest, img.Tags, f.tagsOf[img.Digest])
					}
				}
				return ds
			}
			checkPagination(t, c.want, list)
		})
	}
}

func testImageListFields(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 2)
	img.m.ArtifactType = "application/vnd.example.sbom"
	img.m.Subject = dg("subject")
	img.m.PushedAt = time1
	tags := []string{"v1.2", "latest", "V1", "_a", "1", "v1-rc", "v1_rc", "v1.1"}
	mustPut(t, s, img, tags...)
	idx := newIndex(r.ID, "idx", img.m.Digest)
	idx.m.ImageSize = 4242
	mustPut(t, s, idx)

	imgs, err := s.ListImages(ctx, r.ID, active(metastore.TagStatusAny), metastore.Page{Limit: 10})
	noErr(t, "ListImages", err)
	if len(imgs) != 2 {
		t.Fatalf("ListImages = %d images, want 2", len(imgs))
	}
	byDigest := map[digest.Digest]metastore.Image{imgs[0].Digest: imgs[0], imgs[1].Digest: imgs[1]}
	got := byDigest[img.m.Digest]
	wantImage(t, got, img.m, slices.Sorted(slices.Values(tags)))
	wantTime(t, "PushedAt", got.PushedAt, time1)
	gotIdx := byDigest[idx.m.Digest]
	wantImage(t, gotIdx, idx.m, nil)
	wantRecent(t, "defaulted PushedAt", gotIdx.PushedAt)

	// GetImages describes the same images the same way.
	same, err := s.GetImages(ctx, r.ID, []digest.Digest{idx.m.Digest, img.m.Digest})
	noErr(t, "GetImages", err)
	if len(same) != 2 {
		t.Fatalf("GetImages = %d images, want 2", len(same))
	}
	wantImage(t, same[0], idx.m, nil)
	wantImage(t, same[1], img.m, slices.Sorted(slices.Values(tags)))
	wantTime(t, "GetImages PushedAt", same[1].PushedAt, time1)
}

// wantImage checks img describes m (without its body) with tags in byte order.
func wantImage(t *testing.T, img metastore.Image, m metastore.Manifest, tags []string) {
	t.Helper()
	if img.Digest != m.Digest || img.MediaType != m.MediaType || img.ArtifactType != m.ArtifactType ||
		img.Subject != m.Subject || img.Size != m.Size || img.ImageSize != m.ImageSize {
		t.Errorf("image = %+v\nwant manifest %+v", img, m)
	}
	if !slices.Equal(img.Tags, tags) {
		t.Errorf("image %s tags = %q, want %q (byte order)", img.Digest, img.Tags, tags)
	}
	if img.Status != metastore.ImageActive || !img.LastPulledAt.IsZero() || !img.LastArchivedAt.IsZero() || !img.LastActivatedAt.IsZero() {
		t.Errorf("image %s: status %s, pulled %v, archived %v, activated %v; want a new image ACTIVE and never pulled, archived or restored",
			img.Digest, img.Status, img.LastPulledAt, img.LastArchivedAt, img.LastActivatedAt)
	}
}

func testImageListBadArguments(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	mustPut(t, s, newImage(t, s, r.ID, "img", 0), "v1")
	for _, status := range []metastore.TagStatus{"", "tagged", "Any", "BOGUS"} {
		if _, err := s.ListImages(ctx, r.ID, active(status), metastore.Page{Limit: 10}); err == nil {
			t.Errorf("ListImages(status %q) succeeded, want an error", status)
		}
	}
	for _, status := range []metastore.ImageStatus{"", "active", "Archived", "STANDARD", "BOGUS"} {
		for _, tag := range []metastore.TagStatus{metastore.TagStatusAny, metastore.TagStatusUntagged} {
			f := metastore.ImageFilter{TagStatus: tag, Status: status}
			if _, err := s.ListImages(ctx, r.ID, f, metastore.Page{Limit: 10}); err == nil {
				t.Errorf("ListImages(%+v) succeeded, want an error", f)
			}
		}
	}
	for _, limit := range []int{0, -1} {
		if _, err := s.ListImages(ctx, r.ID, active(metastore.TagStatusAny), metastore.Page{Limit: limit}); err == nil {
			t.Errorf("ListImages(limit %d) succeeded, want an error", limit)
		}
	}
	none, err := s.ListImages(ctx, 424242, active(metastore.TagStatusAny), metastore.Page{Limit: 10})
	noErr(t, "ListImages(missing repo)", err)
	if len(none) != 0 {
		t.Errorf("missing repository lists %d images", len(none))
	}
}

func testImageGet(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	f := newImageFixture(t, s)
	t0, t1 := digest.Digest(f.tagged[0]), digest.Digest(f.tagged[1])
	u0 := digest.Digest(f.untagged[0])
	get := func(ds ...digest.Digest) []digest.Digest {
		t.Helper()
		imgs, err := s.GetImages(ctx, f.repo.ID, ds)
		noErr(t, "GetImages", err)
		out := make([]digest.Digest, len(imgs))
		for i, img := range imgs {
			out[i] = img.Digest
			if !slices.Equal(img.Tags, f.tagsOf[img.Digest]) {
				t.Errorf("%s tags = %q, want %q", img.Digest, img.Tags, f.tagsOf[img.Digest])
			}
		}
		return out
	}
	for _, c := range []struct {
		name     string
		in, want []digest.Digest
	}{
		{"none", nil, nil},
		{"given order", []digest.Digest{t1, u0, t0}, []digest.Digest{t1, u0, t0}},
		{"reversed", []digest.Digest{t0, u0, t1}, []digest.Digest{t0, u0, t1}},
		{"missing skipped", []digest.Digest{dg("nope"), t1, dg("nope either"), t0}, []digest.Digest{t1, t0}},
		{"other repository's image", []digest.Digest{f.foreign, u0}, []digest.Digest{u0}},
		{"repeated once", []digest.Digest{u0, t1, u0, t1}, []digest.Digest{u0, t1}},
		{"all missing", []digest.Digest{dg("a"), dg("b")}, nil},
	} {
		if got := get(c.in...); !equalDigests(got, c.want) {
			t.Errorf("%s: GetImages(%v) = %v, want %v", c.name, c.in, got, c.want)
		}
	}
	// A digest stored in both repositories carries this repository's tags.
	imgs, err := s.GetImages(ctx, f.repo.ID, []digest.Digest{f.foreignAlsoPresent})
	noErr(t, "GetImages(shared digest)", err)
	if len(imgs) != 1 || !slices.Equal(imgs[0].Tags, []string{"a"}) {
		t.Errorf("shared digest = %+v, want this repository's tags [a]", imgs)
	}
	none, err := s.GetImages(ctx, 424242, []digest.Digest{t0})
	noErr(t, "GetImages(missing repo)", err)
	if len(none) != 0 {
		t.Errorf("missing repository returns %d images", len(none))
	}
}

// testImageGetMany asks for more digests than ECR allows in one call, most
// of them missing, so an implementation that batches must stitch batches
// together in the given order.
func testImageGetMany(t *testing.T, s metastore.Store) {
	r := mustRepo(t, s, "111111111111", "app")
	var stored []digest.Digest
	for i := range 4 {
		img := newImage(t, s, r.ID, fmt.Sprintf("img-%d", i), 0)
		mustPut(t, s, img, fmt.Sprintf("t%d", i))
		stored = append(stored, img.m.Digest)
	}
	in := make([]digest.Digest, 350)
	for i := range in {
		in[i] = dg(fmt.Sprintf("missing-%d", i))
	}
	at := []int{349, 3, 150, 101} // positions of stored[0..3]
	for i, pos := range at {
		in[pos] = stored[i]
	}
	imgs, err := s.GetImages(ctxOf(t), r.ID, in)
	noErr(t, "GetImages", err)
	want := []digest.Digest{stored[1], stored[3], stored[2], stored[0]} // by position
	got := make([]digest.Digest, len(imgs))
	for i, img := range imgs {
		got[i] = img.Digest
	}
	if !equalDigests(got, want) {
		t.Errorf("GetImages(350 digests) = %v, want %v", got, want)
	}
}
