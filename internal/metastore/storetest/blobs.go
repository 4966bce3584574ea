package storetest

import (
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
)

var blobCases = []testCase{
	{"LinkAndSize", testBlobLinkAndSize},
	{"SizeMismatch", testBlobSizeMismatch},
	{"Unlink", testBlobUnlink},
	{"BlobHolders", testBlobHolders},
}

func testBlobLinkAndSize(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	a := mustRepo(t, s, "111111111111", "a")
	b := mustRepo(t, s, "111111111111", "b")
	d := dg("layer")
	wantErr(t, "BlobSize(never linked)", firstErr(s.BlobSize(ctx, a.ID, d)), metastore.ErrNotFound)

	mustLink(t, s, a.ID, d, 1234)
	mustLink(t, s, a.ID, d, 1234) // idempotent
	size, err := s.BlobSize(ctx, a.ID, d)
	noErr(t, "BlobSize", err)
	if size != 1234 {
		t.Errorf("BlobSize = %d, want 1234", size)
	}
	// Committed somewhere is not linked here.
	wantErr(t, "BlobSize(other repo)", firstErr(s.BlobSize(ctx, b.ID, d)), metastore.ErrNotFound)
	mustLink(t, s, b.ID, d, 1234)
	noErr(t, "BlobSize(after link)", firstErr(s.BlobSize(ctx, b.ID, d)))

	zero := dg("empty")
	mustLink(t, s, a.ID, zero, 0)
	if size, err := s.BlobSize(ctx, a.ID, zero); err != nil || size != 0 {
		t.Errorf("BlobSize(empty blob) = %d, %v", size, err)
	}
	wantErr(t, "LinkBlob(missing repo)", s.LinkBlob(ctx, 424242, d, 1234, nil), metastore.ErrNotFound)
}

func testBlobSizeMismatch(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	a := mustRepo(t, s, "111111111111", "a")
	b := mustRepo(t, s, "111111111111", "b")
	d := dg("layer")
	mustLink(t, s, a.ID, d, 10)
	if err := s.LinkBlob(ctx, b.ID, d, 11, nil); err == nil {
		t.Fatal("LinkBlob with a different size for a known digest succeeded")
	}
	wantErr(t, "BlobSize(refused link)", firstErr(s.BlobSize(ctx, b.ID, d)), metastore.ErrNotFound)
	if size, _ := s.BlobSize(ctx, a.ID, d); size != 10 {
		t.Errorf("recorded size changed to %d", size)
	}
}

func testBlobUnlink(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	a := mustRepo(t, s, "111111111111", "a")
	b := mustRepo(t, s, "111111111111", "b")
	d := dg("layer")
	wantErr(t, "UnlinkBlob(never linked)", s.UnlinkBlob(ctx, a.ID, d), metastore.ErrNotFound)
	mustLink(t, s, a.ID, d, 5)
	mustLink(t, s, b.ID, d, 5)
	noErr(t, "UnlinkBlob", s.UnlinkBlob(ctx, a.ID, d))
	wantErr(t, "BlobSize(unlinked)", firstErr(s.BlobSize(ctx, a.ID, d)), metastore.ErrNotFound)
	wantErr(t, "UnlinkBlob(again)", s.UnlinkBlob(ctx, a.ID, d), metastore.ErrNotFound)
	noErr(t, "BlobSize(other repo keeps its link)", firstErr(s.BlobSize(ctx, b.ID, d)))
	// Re-linking after an unlink works and the size is still enforced.
	mustLink(t, s, a.ID, d, 5)
	if err := s.LinkBlob(ctx, a.ID, d, 6, nil); err == nil {
		t.Error("size mismatch accepted after relink")
	}
}

func testBlobHolders(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	a := mustRepo(t, s, "111111111111", "a")
	b := mustRepo(t, s, "111111111111", "b")
	x := mustRepo(t, s, "222222222222", "x") // another account holding it too
	d := dg("layer")
	holders := func(account string) string {
		t.Helper()
		names, err := s.BlobHolders(ctx, account, d, 10)
		noErr(t, "BlobHolders", err)
		return strings.Join(names, ",")
	}
	if got := holders("111111111111"); got != "" {
		t.Fatalf("holders of an unknown blob: %q", got)
	}
	mustLink(t, s, b.ID, d, 77)
	mustLink(t, s, x.ID, d, 77)
	mustLink(t, s, a.ID, d, 77)
	if got := holders("111111111111"); got != "a,b" {
		t.Fatalf("holders = %q, want a,b (byte order, this account only)", got)
	}
	if names, err := s.BlobHolders(ctx, "111111111111", d, 1); err != nil || len(names) != 1 || names[0] != "a" {
		t.Fatalf("limit 1: %v, %v", names, err)
	}
	noErr(t, "UnlinkBlob", s.UnlinkBlob(ctx, a.ID, d))
	noErr(t, "UnlinkBlob", s.UnlinkBlob(ctx, b.ID, d))
	if got := holders("111111111111"); got != "" {
		t.Fatalf("holders after unlinking: %q", got)
	}
	if _, err := s.BlobHolders(ctx, "111111111111", d, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}
