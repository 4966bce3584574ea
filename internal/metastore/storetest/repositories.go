package storetest

import (
	"reflect"
	"slices"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
)

var repositoryCases = []testCase{
	{"CreateGet", testRepositoryCreateGet},
	{"IDsNotReused", testRepositoryIDsNotReused},
	{"ListPagination", testRepositoryList},
	{"DeleteEmpty", testRepositoryDeleteEmpty},
	{"DeleteNotEmpty", testRepositoryDeleteNotEmpty},
	{"ForceDeleteCascades", testRepositoryForceDelete},
}

func testRepositoryCreateGet(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, "111111111111")
	mustAccount(t, s, "222222222222")
	r := metastore.Repository{
		AccountID: "111111111111", Name: "team/app", CreatedAt: time1,
		ImageTagMutability: "IMMUTABLE", ScanOnPush: true, EncryptionType: "KMS",
		KMSKey: "arn:aws:kms:us-east-1:111111111111:key/k",
	}
	noErr(t, "CreateRepository", s.CreateRepository(ctx, &r))
	if r.ID == 0 {
		t.Fatal("CreateRepository did not fill ID")
	}
	got, err := s.GetRepository(ctx, "111111111111", "team/app")
	noErr(t, "GetRepository", err)
	wantTime(t, "CreatedAt", got.CreatedAt, time1)
	got.CreatedAt = r.CreatedAt
	if !reflect.DeepEqual(got, r) {
		t.Errorf("GetRepository = %+v, want %+v", got, r)
	}

	dup := metastore.Repository{AccountID: "111111111111", Name: "team/app"}
	wantErr(t, "CreateRepository(dup)", s.CreateRepository(ctx, &dup), metastore.ErrAlreadyExists)

	other := metastore.Repository{AccountID: "222222222222", Name: "team/app"}
	noErr(t, "CreateRepository(same name, other account)", s.CreateRepository(ctx, &other))
	if other.ID == r.ID {
		t.Error("repositories in two accounts share an ID")
	}
	wantRecent(t, "defaulted CreatedAt", other.CreatedAt)
	got, err = s.GetRepository(ctx, "222222222222", "team/app")
	noErr(t, "GetRepository(other)", err)
	if got.ID != other.ID || got.ScanOnPush {
		t.Errorf("GetRepository(other) = %+v", got)
	}

	wantErr(t, "GetRepository(missing)", firstErr(s.GetRepository(ctx, "111111111111", "nope")), metastore.ErrNotFound)
	wantErr(t, "GetRepository(case differs)", firstErr(s.GetRepository(ctx, "111111111111", "Team/App")), metastore.ErrNotFound)
	orphan := metastore.Repository{AccountID: "999999999999", Name: "x"}
	wantErr(t, "CreateRepository(missing account)", s.CreateRepository(ctx, &orphan), metastore.ErrNotFound)
}

func testRepositoryIDsNotReused(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	a := mustRepo(t, s, "111111111111", "a")
	noErr(t, "DeleteRepository", s.DeleteRepository(ctx, a.ID, false))
	b := mustRepo(t, s, "111111111111", "a")
	if b.ID == a.ID {
		t.Errorf("re-created repository got the deleted one's ID %d", a.ID)
	}
}

// byteOrderNames are deliberately out of order and mix case and
// punctuation, so byte order differs from case-insensitive or locale order.
var byteOrderNames = []string{"ab", "a", "B", "a/b", "aB", "_x", "Z", "a-b", "a.b", "b", "a_b", "z/z"}

func testRepositoryList(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	const acct = "111111111111"
	for _, n := range byteOrderNames {
		mustRepo(t, s, acct, n)
	}
	mustRepo(t, s, "222222222222", "other-account")
	want := slices.Clone(byteOrderNames)
	slices.Sort(want) // byte order

	list := func(p metastore.Page) []string {
		t.Helper()
		rs, err := s.ListRepositories(ctx, acct, p)
		noErr(t, "ListRepositories", err)
		names := make([]string, len(rs))
		for i, r := range rs {
			if r.AccountID != acct || r.ID == 0 {
				t.Errorf("listed %+v", r)
			}
			names[i] = r.Name
		}
		return names
	}
	checkPagination(t, want, list)

	for _, limit := range []int{0, -1} {
		if _, err := s.ListRepositories(ctx, acct, metastore.Page{Limit: limit}); err == nil {
			t.Errorf("ListRepositories(limit %d) succeeded, want an error", limit)
		}
	}
	none, err := s.ListRepositories(ctx, "333333333333", metastore.Page{Limit: 10})
	noErr(t, "ListRepositories(empty account)", err)
	if len(none) != 0 {
		t.Errorf("empty account lists %d repositories", len(none))
	}
}

// checkPagination walks list with several page sizes and checks boundaries
// against want (sorted, distinct).
func checkPagination(t *testing.T, want []string, list func(metastore.Page) []string) {
	t.Helper()
	for _, limit := range []int{1, 2, 5, len(want) - 1, len(want), len(want) + 1, 1000} {
		var got []string
		last := ""
		for range len(want) + 2 {
			page := list(metastore.Page{Last: last, Limit: limit})
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			got = append(got, page...)
			if len(page) < limit {
				break
			}
			last = page[len(page)-1]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: walked %q, want %q", limit, got, want)
		}
	}
	if got := list(metastore.Page{Last: want[len(want)-1], Limit: 10}); len(got) != 0 {
		t.Errorf("after the last name: %q, want none", got)
	}
	// Last need not exist: listing resumes strictly after it in byte order.
	mid := want[len(want)/2] + "\x00"
	if got := list(metastore.Page{Last: mid, Limit: 1000}); !slices.Equal(got, want[len(want)/2+1:]) {
		t.Errorf("after %q: %q, want %q", mid, got, want[len(want)/2+1:])
	}
	if got := list(metastore.Page{Last: want[0], Limit: 2}); !slices.Equal(got, want[1:3]) {
		t.Errorf("after %q limit 2: %q, want %q", want[0], got, want[1:3])
	}
}

func testRepositoryDeleteEmpty(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	wantErr(t, "DeleteRepository(missing)", s.DeleteRepository(ctx, 424242, false), metastore.ErrNotFound)
	wantErr(t, "DeleteRepository(missing, force)", s.DeleteRepository(ctx, 424242, true), metastore.ErrNotFound)

	// Blob links and uploads do not make a repository "not empty"; images do.
	r := mustRepo(t, s, "111111111111", "empty")
	mustLink(t, s, r.ID, dg("blob"), 10)
	noErr(t, "CreateUpload", s.CreateUpload(ctx, metastore.Upload{ID: "u1", RepositoryID: r.ID, Algorithm: "sha256"}))
	noErr(t, "DeleteRepository", s.DeleteRepository(ctx, r.ID, false))
	wantErr(t, "GetRepository(deleted)", firstErr(s.GetRepository(ctx, "111111111111", "empty")), metastore.ErrNotFound)
	wantErr(t, "GetUpload(deleted repo)", firstErr(s.GetUpload(ctx, r.ID, "u1")), metastore.ErrNotFound)
	wantErr(t, "BlobSize(deleted repo)", firstErr(s.BlobSize(ctx, r.ID, dg("blob"))), metastore.ErrNotFound)
	wantErr(t, "DeleteRepository(again)", s.DeleteRepository(ctx, r.ID, false), metastore.ErrNotFound)
}

func testRepositoryDeleteNotEmpty(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "full")
	img := newImage(t, s, r.ID, "img", 1)
	mustPut(t, s, img) // untagged still counts
	wantErr(t, "DeleteRepository(not empty)", s.DeleteRepository(ctx, r.ID, false), metastore.ErrRepositoryNotEmpty)
	noErr(t, "GetRepository(after refused delete)", firstErr(s.GetRepository(ctx, "111111111111", "full")))
	noErr(t, "GetManifest(after refused delete)", firstErr(s.GetManifest(ctx, r.ID, img.m.Digest)))
}

func testRepositoryForceDelete(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "doomed")
	keep := mustRepo(t, s, "111111111111", "keep")
	img := newImage(t, s, r.ID, "img", 2)
	mustPut(t, s, img, "latest", "v1")
	idx := newIndex(r.ID, "idx", img.m.Digest)
	mustPut(t, s, idx, "multi")
	mustLink(t, s, keep.ID, img.refs[0].Digest, 100)
	noErr(t, "CreateUpload", s.CreateUpload(ctx, metastore.Upload{ID: "u-doomed", RepositoryID: r.ID, Algorithm: "sha256"}))

	noErr(t, "DeleteRepository(force)", s.DeleteRepository(ctx, r.ID, true))
	wantErr(t, "GetRepository", firstErr(s.GetRepository(ctx, "111111111111", "doomed")), metastore.ErrNotFound)
	wantErr(t, "GetManifest", firstErr(s.GetManifest(ctx, r.ID, img.m.Digest)), metastore.ErrNotFound)
	wantErr(t, "GetManifest(index)", firstErr(s.GetManifest(ctx, r.ID, idx.m.Digest)), metastore.ErrNotFound)
	wantErr(t, "ResolveTag", firstErr(s.ResolveTag(ctx, r.ID, "latest")), metastore.ErrNotFound)
	wantErr(t, "GetManifestByTag", firstErr(s.GetManifestByTag(ctx, r.ID, "multi")), metastore.ErrNotFound)
	wantErr(t, "BlobSize", firstErr(s.BlobSize(ctx, r.ID, img.refs[1].Digest)), metastore.ErrNotFound)
	wantErr(t, "GetUpload", firstErr(s.GetUpload(ctx, r.ID, "u-doomed")), metastore.ErrNotFound)
	tags, err := s.ListTags(ctx, r.ID, metastore.Page{Limit: 10})
	noErr(t, "ListTags", err)
	if len(tags) != 0 {
		t.Errorf("deleted repository still lists tags %+v", tags)
	}
	if names, err := s.BlobHolders(ctx, "111111111111", img.refs[1].Digest, 10); err != nil || len(names) != 0 {
		t.Errorf("BlobHolders(only in deleted repo) = %v, %v", names, err)
	}

	// The other repository's link to a shared blob survives.
	size, err := s.BlobSize(ctx, keep.ID, img.refs[0].Digest)
	noErr(t, "BlobSize(other repo)", err)
	if size != 100 {
		t.Errorf("BlobSize(other repo) = %d, want 100", size)
	}
	// The name is free again.
	mustRepo(t, s, "111111111111", "doomed")
}
