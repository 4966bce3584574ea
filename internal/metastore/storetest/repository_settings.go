package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
)

var repositorySettingsCases = []testCase{
	{"UpdateSettings", testRepositorySettingsUpdate},
	{"ResourceTagsUpsertAndUntag", testResourceTags},
	{"ResourceTagLimit", testResourceTagLimit},
	{"ResourceTagLimitConcurrent", testResourceTagLimitConcurrent},
	{"RepositoryPolicy", testRepositoryPolicy},
	{"MissingRepository", testRepositorySettingsMissing},
	{"DeleteRepositoryCascades", testRepositorySettingsCascade},
}

func testRepositorySettingsUpdate(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")

	changed := r
	changed.ImageTagMutability, changed.ScanOnPush = "IMMUTABLE_WITH_EXCLUSION", true
	changed.TagMutabilityExclusions = []string{"latest", "dev-*"}
	changed.Name, changed.EncryptionType, changed.KMSKey = "renamed", "KMS", "k" // not settings: ignored
	noErr(t, "UpdateRepositorySettings", s.UpdateRepositorySettings(ctx, changed))
	got, err := s.GetRepository(ctx, "111111111111", "app")
	noErr(t, "GetRepository", err)
	want := r
	want.ImageTagMutability, want.ScanOnPush = "IMMUTABLE_WITH_EXCLUSION", true
	want.TagMutabilityExclusions = []string{"latest", "dev-*"}
	want.CreatedAt = got.CreatedAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after update = %+v, want %+v", got, want)
	}
	wantTime(t, "CreatedAt", got.CreatedAt, r.CreatedAt)
	if o, _ := s.GetRepository(ctx, "111111111111", "other"); o.ImageTagMutability != other.ImageTagMutability || o.ScanOnPush {
		t.Errorf("other repository changed: %+v", o)
	}

	// Back again: false and the original mutability are stored too.
	noErr(t, "UpdateRepositorySettings(back)", s.UpdateRepositorySettings(ctx, r))
	if got, _ = s.GetRepository(ctx, "111111111111", "app"); got.ImageTagMutability != "MUTABLE" || got.ScanOnPush {
		t.Errorf("after update back = %+v", got)
	}
	// Unchanged values are still an update of an existing repository.
	noErr(t, "UpdateRepositorySettings(same)", s.UpdateRepositorySettings(ctx, r))
}

func testResourceTags(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	list := func(repoID int64) []metastore.ResourceTag {
		t.Helper()
		tags, err := s.ListResourceTags(ctx, repoID)
		noErr(t, "ListResourceTags", err)
		return tags
	}
	if got := list(r.ID); len(got) != 0 {
		t.Errorf("new repository has resource tags %+v", got)
	}

	initial := rtags("team", "core", "Team", "upper", "cost-center", "", "a:b/c", "x y=z", "_", "\u00e9")
	noErr(t, "TagResource", s.TagResource(ctx, r.ID, initial, 50))
	noErr(t, "TagResource(other)", s.TagResource(ctx, other.ID, rtags("team", "other"), 50))
	// Byte order: case-sensitive, punctuation by code point.
	want := rtags("Team", "upper", "_", "\u00e9", "a:b/c", "x y=z", "cost-center", "", "team", "core")
	if got := list(r.ID); !slices.Equal(got, want) {
		t.Errorf("ListResourceTags = %+v\nwant %+v", got, want)
	}

	// Upsert: an existing key takes the new value, others stay.
	noErr(t, "TagResource(upsert)", s.TagResource(ctx, r.ID, rtags("team", "platform", "new", "1"), 50))
	want = rtags("Team", "upper", "_", "\u00e9", "a:b/c", "x y=z", "cost-center", "", "new", "1", "team", "platform")
	if got := list(r.ID); !slices.Equal(got, want) {
		t.Errorf("after upsert = %+v\nwant %+v", got, want)
	}

	// Untag: absent keys (and a key differing only in case) are ignored.
	noErr(t, "UntagResource", s.UntagResource(ctx, r.ID, []string{"team", "absent", "NEW", "_"}))
	noErr(t, "UntagResource(nothing)", s.UntagResource(ctx, r.ID, nil))
	noErr(t, "UntagResource(only absent)", s.UntagResource(ctx, r.ID, []string{"absent"}))
	want = rtags("Team", "upper", "a:b/c", "x y=z", "cost-center", "", "new", "1")
	if got := list(r.ID); !slices.Equal(got, want) {
		t.Errorf("after untag = %+v\nwant %+v", got, want)
	}
	if got := list(other.ID); !slices.Equal(got, rtags("team", "other")) {
		t.Errorf("other repository's tags = %+v", got)
	}
	noErr(t, "TagResource(nothing)", s.TagResource(ctx, r.ID, nil, 50))
}

// rtags builds resource tags from key, value pairs.
func rtags(kv ...string) []metastore.ResourceTag {
	tags := make([]metastore.ResourceTag, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		tags = append(tags, metastore.ResourceTag{Key: kv[i], Value: kv[i+1]})
	}
	return tags
}

func testResourceTagLimit(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	const limit = 3
	list := func() []metastore.ResourceTag {
		t.Helper()
		tags, err := s.ListResourceTags(ctx, r.ID)
		noErr(t, "ListResourceTags", err)
		return tags
	}
	// More than the limit in one call, from nothing: nothing is stored.
	four := rtags("a", "1", "b", "1", "c", "1", "d", "1")
	wantErr(t, "TagResource(4 > max)", s.TagResource(ctx, r.ID, four, limit), metastore.ErrTooManyTags)
	if got := list(); len(got) != 0 {
		t.Fatalf("refused TagResource stored %+v", got)
	}

	noErr(t, "TagResource(2)", s.TagResource(ctx, r.ID, four[:2], limit))
	noErr(t, "TagResource(exactly max)", s.TagResource(ctx, r.ID, four[2:3], limit))
	full := rtags("a", "1", "b", "1", "c", "1")
	if got := list(); !slices.Equal(got, full) {
		t.Fatalf("at max = %+v, want %+v", got, full)
	}

	// max+1: refused whole, including the update of an existing key.
	wantErr(t, "TagResource(max+1)", s.TagResource(ctx, r.ID, four[3:], limit), metastore.ErrTooManyTags)
	mixed := rtags("a", "changed", "e", "1")
	wantErr(t, "TagResource(update + new)", s.TagResource(ctx, r.ID, mixed, limit), metastore.ErrTooManyTags)
	if got := list(); !slices.Equal(got, full) {
		t.Fatalf("after refused calls = %+v, want %+v unchanged", got, full)
	}

	// Updating existing keys at max is not growth.
	noErr(t, "TagResource(update at max)", s.TagResource(ctx, r.ID, rtags("a", "2", "c", "2"), limit))
	// Untag then tag within the limit again.
	noErr(t, "UntagResource", s.UntagResource(ctx, r.ID, []string{"b"}))
	noErr(t, "TagResource(after untag)", s.TagResource(ctx, r.ID, rtags("e", "1"), limit))
	want := rtags("a", "2", "c", "2", "e", "1")
	if got := list(); !slices.Equal(got, want) {
		t.Errorf("final = %+v, want %+v", got, want)
	}
}

// testResourceTagLimitConcurrent tags one repository from many goroutines:
// the limit must hold however the writes interleave.
func testResourceTagLimitConcurrent(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	const writers, limit = 24, 10
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			errs[i] = s.TagResource(ctx, r.ID, rtags(fmt.Sprintf("k%02d", i), "v"), limit)
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, metastore.ErrTooManyTags):
			t.Errorf("writer %d: %v", i, err)
		}
	}
	tags, err := s.ListResourceTags(ctx, r.ID)
	noErr(t, "ListResourceTags", err)
	if ok != limit || len(tags) != limit {
		t.Errorf("%d writes succeeded and %d tags stored, want %d and %d", ok, len(tags), limit, limit)
	}
}

func testRepositoryPolicy(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	wantErr(t, "GetRepositoryPolicy(none)", firstErr(s.GetRepositoryPolicy(ctx, r.ID)), metastore.ErrNotFound)
	wantErr(t, "DeleteRepositoryPolicy(none)", firstErr(s.DeleteRepositoryPolicy(ctx, r.ID)), metastore.ErrNotFound)

	// Stored verbatim: whitespace, key order and non-ASCII kept.
	first := "{\n  \"Version\" : \"2012-10-17\",\t\"Statement\": [{\"Sid\": \"caf\u00e9\"}] }\n"
	second := `{"Version":"2012-10-17","Statement":[]}`
	noErr(t, "SetRepositoryPolicy", s.SetRepositoryPolicy(ctx, r.ID, first))
	noErr(t, "SetRepositoryPolicy(other)", s.SetRepositoryPolicy(ctx, other.ID, second))
	wantPolicy := func(repoID int64, want string) {
		t.Helper()
		got, err := s.GetRepositoryPolicy(ctx, repoID)
		noErr(t, "GetRepositoryPolicy", err)
		if got != want {
			t.Errorf("GetRepositoryPolicy = %q, want %q", got, want)
		}
	}
	wantPolicy(r.ID, first)
	noErr(t, "SetRepositoryPolicy(replace)", s.SetRepositoryPolicy(ctx, r.ID, second))
	wantPolicy(r.ID, second)

	deleted, err := s.DeleteRepositoryPolicy(ctx, r.ID)
	noErr(t, "DeleteRepositoryPolicy", err)
	if deleted != second {
		t.Errorf("DeleteRepositoryPolicy returned %q, want %q", deleted, second)
	}
	wantErr(t, "GetRepositoryPolicy(deleted)", firstErr(s.GetRepositoryPolicy(ctx, r.ID)), metastore.ErrNotFound)
	wantErr(t, "DeleteRepositoryPolicy(again)", firstErr(s.DeleteRepositoryPolicy(ctx, r.ID)), metastore.ErrNotFound)
	wantPolicy(other.ID, second)
	noErr(t, "SetRepositoryPolicy(after delete)", s.SetRepositoryPolicy(ctx, r.ID, first))
	wantPolicy(r.ID, first)
}

func testRepositorySettingsMissing(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	gone := mustRepo(t, s, "111111111111", "gone")
	noErr(t, "DeleteRepository", s.DeleteRepository(ctx, gone.ID, false))
	for _, id := range []int64{424242, gone.ID} {
		what := fmt.Sprintf("(repository %d)", id)
		wantErr(t, "UpdateRepositorySettings"+what,
			s.UpdateRepositorySettings(ctx, metastore.Repository{ID: id, ImageTagMutability: "IMMUTABLE"}), metastore.ErrNotFound)
		wantErr(t, "ListResourceTags"+what, firstErr(s.ListResourceTags(ctx, id)), metastore.ErrNotFound)
		wantErr(t, "TagResource"+what, s.TagResource(ctx, id, rtags("k", "v"), 50), metastore.ErrNotFound)
		wantErr(t, "TagResource(nothing)"+what, s.TagResource(ctx, id, nil, 50), metastore.ErrNotFound)
		wantErr(t, "UntagResource"+what, s.UntagResource(ctx, id, []string{"k"}), metastore.ErrNotFound)
		wantErr(t, "GetRepositoryPolicy"+what, firstErr(s.GetRepositoryPolicy(ctx, id)), metastore.ErrNotFound)
		wantErr(t, "SetRepositoryPolicy"+what, s.SetRepositoryPolicy(ctx, id, "{}"), metastore.ErrNotFound)
		wantErr(t, "DeleteRepositoryPolicy"+what, firstErr(s.DeleteRepositoryPolicy(ctx, id)), metastore.ErrNotFound)
	}
}

func testRepositorySettingsCascade(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	for _, force := range []bool{false, true} {
		name := fmt.Sprintf("doomed-%t", force)
		r := mustRepo(t, s, "111111111111", name)
		keep := mustRepo(t, s, "111111111111", name+"-keep")
		for _, id := range []int64{r.ID, keep.ID} {
			noErr(t, "TagResource", s.TagResource(ctx, id, rtags("k", "v", "team", "t"), 50))
			noErr(t, "SetRepositoryPolicy", s.SetRepositoryPolicy(ctx, id, `{"Statement":[]}`))
		}
		if force {
			mustPut(t, s, newImage(t, s, r.ID, "img", 0), "v1")
		}

		noErr(t, "DeleteRepository", s.DeleteRepository(ctx, r.ID, force))
		wantErr(t, "ListResourceTags(deleted)", firstErr(s.ListResourceTags(ctx, r.ID)), metastore.ErrNotFound)
		wantErr(t, "GetRepositoryPolicy(deleted)", firstErr(s.GetRepositoryPolicy(ctx, r.ID)), metastore.ErrNotFound)

		// A new repository of the same name starts bare.
		again := mustRepo(t, s, "111111111111", name)
		tags, err := s.ListResourceTags(ctx, again.ID)
		noErr(t, "ListResourceTags(re-created)", err)
		if len(tags) != 0 {
			t.Errorf("re-created repository inherited tags %+v", tags)
		}
		wantErr(t, "GetRepositoryPolicy(re-created)", firstErr(s.GetRepositoryPolicy(ctx, again.ID)), metastore.ErrNotFound)
		imgs, err := s.ListImages(ctx, again.ID, active(metastore.TagStatusAny), metastore.Page{Limit: 10})
		noErr(t, "ListImages(re-created)", err)
		if len(imgs) != 0 {
			t.Errorf("re-created repository lists images %+v", imgs)
		}

		// The sibling keeps its own.
		if tags, err = s.ListResourceTags(ctx, keep.ID); err != nil || len(tags) != 2 {
			t.Errorf("sibling tags = %+v, %v", tags, err)
		}
		noErr(t, "GetRepositoryPolicy(sibling)", firstErr(s.GetRepositoryPolicy(ctx, keep.ID)))
	}
}
