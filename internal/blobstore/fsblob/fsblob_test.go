package fsblob_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/blobstore/blobtest"
	"github.com/berth-registry/berth/internal/blobstore/fsblob"
)

func newStore(t *testing.T) *fsblob.Store {
	t.Helper()
	s, err := fsblob.New(t.TempDir())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobstore.Store { return newStore(t) })
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

// newUpload creates an upload with a known id and appends content.
func newUpload(t *testing.T, s *fsblob.Store, content string) (string, blobstore.UploadState) {
	t.Helper()
	id := blobtest.NewUploadID()
	st, err := s.CreateUpload(t.Context(), id)
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	_, st, err = s.AppendUpload(t.Context(), st, 0, strings.NewReader(content))
	if err != nil {
		t.Fatalf("AppendUpload: %v", err)
	}
	return id, st
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestLayout(t *testing.T) {
	s := newStore(t)
	root := s.Root()
	id, st := newUpload(t, s, "hello")
	if got, want := files(t, root), []string{"uploads/" + id}; !slices.Equal(got, want) {
		t.Fatalf("files during upload = %v, want %v", got, want)
	}
	d256 := digest.FromString("hello")
	if err := s.CommitUpload(t.Context(), st, 5, d256); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	_, st = newUpload(t, s, "hello")
	d512 := digest.SHA512.FromString("hello")
	if err := s.CommitUpload(t.Context(), st, 5, d512); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	want := []string{
		"blobs/sha256/" + d256.Encoded()[:2] + "/" + d256.Encoded(),
		"blobs/sha512/" + d512.Encoded()[:2] + "/" + d512.Encoded(),
	}
	if got := files(t, root); !slices.Equal(got, want) {
		t.Fatalf("files after commit = %v, want %v", got, want)
	}
	checkPerm(t, filepath.Join(root, want[0]), 0o640)
	for _, dir := range []string{"blobs", "uploads", "blobs/sha256", filepath.Dir(want[0])} {
		checkPerm(t, filepath.Join(root, dir), 0o750)
	}
	b, err := s.Open(t.Context(), d256)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer b.Close()
	if _, ok := b.(*os.File); !ok {
		t.Fatalf("Open returned %T, want *os.File for sendfile", b)
	}
}

// checkPerm asserts that p grants no more than perm (the umask may take
// away more).
func checkPerm(t *testing.T, p string, perm fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if got := fi.Mode().Perm(); got&^perm != 0 {
		t.Errorf("%s has mode %v, want at most %v", p, got, perm)
	}
}

func TestUploadIDsCannotEscape(t *testing.T) {
	parent := t.TempDir()
	s, err := fsblob.New(filepath.Join(parent, "store"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Files an escaping id would hit.
	for _, p := range []string{filepath.Join(parent, "x"), filepath.Join(s.Root(), "x")} {
		if err := os.WriteFile(p, []byte("victim"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bad := []string{
		"", ".", "..", "../x", "../../x", "x", "/etc/passwd", "uploads/../../x",
		"0f8fad5b-d9cb-469f-a165-70867728950e/..",
		"0F8FAD5B-D9CB-469F-A165-70867728950E",  // upper case
		"0f8fad5bd9cb469fa16570867728950e",      // no dashes
		"0f8fad5b-d9cb-469f-a165-70867728950",   // short
		"0f8fad5b-d9cb-469f-a165-70867728950e ", // trailing space
		"../f8fad5b-d9cb-469f-a165-70867728950e",
		"0f8fad5b-d9cb-469f-a165-70867728950\x00",
	}
	for _, id := range bad {
		if _, err := s.CreateUpload(t.Context(), id); err == nil {
			t.Errorf("CreateUpload(%q) succeeded", id)
		}
		st := blobstore.UploadState(`{"v":1,"id":"` + strings.ReplaceAll(id, `"`, ``) + `","size":0}`)
		if _, _, err := s.AppendUpload(t.Context(), st, 0, strings.NewReader("evil")); err == nil {
			t.Errorf("AppendUpload with id %q succeeded", id)
		}
		if err := s.CommitUpload(t.Context(), st, 0, digest.FromString("")); err == nil {
			t.Errorf("CommitUpload with id %q succeeded", id)
		}
		if err := s.AbortUpload(t.Context(), st); err == nil {
			t.Errorf("AbortUpload with id %q succeeded", id)
		}
	}
	if got := files(t, parent); !slices.Equal(got, []string{"store/x", "x"}) {
		t.Fatalf("files = %v, want only the two victims", got)
	}
	for _, p := range []string{filepath.Join(parent, "x"), filepath.Join(s.Root(), "x")} {
		if readFile(t, p) != "victim" {
			t.Fatalf("%s was modified", p)
		}
	}
}

func TestDigestsCannotEscape(t *testing.T) {
	s := newStore(t)
	victim := filepath.Join(s.Root(), "victim")
	if err := os.WriteFile(victim, []byte("victim"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, st := newUpload(t, s, "data")
	hex := digest.FromString("data").Encoded()
	for _, d := range []digest.Digest{
		"", "sha256:", "sha256:../../victim", "../victim",
		digest.Digest("sha256:" + strings.ToUpper(hex)),
		digest.Digest("sha256:" + hex[:63]),
		digest.Digest("md5:" + hex[:32]),
		digest.Digest("..:" + hex),
	} {
		if _, err := s.Stat(t.Context(), d); err == nil || errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want an invalid-digest error", d, err)
		}
		if b, err := s.Open(t.Context(), d); err == nil {
			b.Close()
			t.Errorf("Open(%q) succeeded", d)
		}
		if err := s.Delete(t.Context(), d); err == nil {
			t.Errorf("Delete(%q) succeeded", d)
		}
		if err := s.CommitUpload(t.Context(), st, 4, d); err == nil {
			t.Errorf("CommitUpload(%q) succeeded", d)
		}
	}
	if readFile(t, victim) != "victim" {
		t.Fatal("victim was modified")
	}
	// The rejected commits left the upload intact.
	if err := s.CommitUpload(t.Context(), st, 4, digest.FromString("data")); err != nil {
		t.Fatalf("CommitUpload after rejected digests: %v", err)
	}
}

func TestDuplicateUploadID(t *testing.T) {
	s := newStore(t)
	id, _ := newUpload(t, s, "first")
	if _, err := s.CreateUpload(t.Context(), id); err == nil {
		t.Fatal("second CreateUpload with the same id succeeded")
	}
	if got := readFile(t, filepath.Join(s.Root(), "uploads", id)); got != "first" {
		t.Fatalf("upload content = %q after duplicate create", got)
	}
}

// TestNothingVisibleBeforeCommit checks the crash-safety invariant from
// the outside: blobs/ stays empty until the commit, and the commit leaves
// the blob and nothing else behind.
func TestNothingVisibleBeforeCommit(t *testing.T) {
	s := newStore(t)
	content := blobtest.Content(1, 5<<20)
	d := digest.FromBytes(content)
	st, err := s.CreateUpload(t.Context(), blobtest.NewUploadID())
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	blobs := filepath.Join(s.Root(), "blobs")
	var off int64
	for chunk := range slices.Chunk(content, 1<<20) {
		var n int64
		n, st, err = s.AppendUpload(t.Context(), st, off, bytes.NewReader(chunk))
		if err != nil {
			t.Fatalf("AppendUpload: %v", err)
		}
		off += n
		if got := files(t, blobs); len(got) != 0 {
			t.Fatalf("files under blobs/ before commit: %v", got)
		}
	}
	if err := s.CommitUpload(t.Context(), st, off, d); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	want := []string{"blobs/sha256/" + d.Encoded()[:2] + "/" + d.Encoded()}
	if got := files(t, s.Root()); !slices.Equal(got, want) {
		t.Fatalf("files after commit = %v, want %v", got, want)
	}
}

// TestOverlongUploadTruncated covers an append that wrote bytes whose
// result the caller never recorded: the next append or commit at the
// recorded offset drops them.
func TestOverlongUploadTruncated(t *testing.T) {
	s := newStore(t)
	id, st := newUpload(t, s, "0123456789")
	p := filepath.Join(s.Root(), "uploads", id)
	appendJunk := func() {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString("JUNK FROM A LOST APPEND"); err != nil {
			t.Fatal(err)
		}
	}
	appendJunk()
	n, st, err := s.AppendUpload(t.Context(), st, 10, strings.NewReader("abc"))
	if err != nil || n != 3 {
		t.Fatalf("AppendUpload = %d, %v", n, err)
	}
	if got := readFile(t, p); got != "0123456789abc" {
		t.Fatalf("upload file = %q after append", got)
	}
	appendJunk()
	d := digest.FromString("0123456789abc")
	if err := s.CommitUpload(t.Context(), st, 13, d); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	if got := readFile(t, filepath.Join(s.Root(), "blobs", "sha256", d.Encoded()[:2], d.Encoded())); got != "0123456789abc" {
		t.Fatalf("blob = %q", got)
	}
}

// TestShortUploadFile covers acknowledged bytes lost from the upload file
// (possible after a power failure, since appends are not fsynced).
func TestShortUploadFile(t *testing.T) {
	s := newStore(t)
	id, st := newUpload(t, s, "0123456789")
	if err := os.Truncate(filepath.Join(s.Root(), "uploads", id), 4); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.AppendUpload(t.Context(), st, 10, strings.NewReader("abc"))
	if !errors.Is(err, blobstore.ErrOffsetMismatch) {
		t.Fatalf("AppendUpload onto short file: err = %v, want ErrOffsetMismatch", err)
	}
	if _, err := s.ReadUpload(t.Context(), st, 10); !errors.Is(err, blobstore.ErrOffsetMismatch) {
		t.Fatalf("ReadUpload of short file: err = %v, want ErrOffsetMismatch", err)
	}
	d := digest.FromString("0123456789")
	if err := s.CommitUpload(t.Context(), st, 10, d); !errors.Is(err, blobstore.ErrOffsetMismatch) {
		t.Fatalf("CommitUpload of short file: err = %v, want ErrOffsetMismatch", err)
	}
	if got := files(t, filepath.Join(s.Root(), "blobs")); len(got) != 0 {
		t.Fatalf("files under blobs/: %v", got)
	}
}

func TestWalkSkipsForeignFiles(t *testing.T) {
	s := newStore(t)
	_, st := newUpload(t, s, "real")
	real := digest.FromString("real")
	if err := s.CommitUpload(t.Context(), st, 4, real); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	other := digest.FromString("other").Encoded()
	blobs := filepath.Join(s.Root(), "blobs")
	for _, p := range []string{
		"README",
		"sha256/README",
		"sha256/" + real.Encoded()[:2] + "/notahex",
		"sha256/" + real.Encoded()[:2] + "/" + other,   // wrong shard
		"md5/" + other[:2] + "/" + other[:32],          // unknown algorithm
		"sha512/" + other[:2] + "/" + other,            // wrong length
		"sha256/" + other[:2] + "/" + other + ".tmp",   // not a blob name
		"sha256/" + other[:2] + "/" + other + "/inner", // a directory
	} {
		p = filepath.Join(blobs, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("foreign"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var got []digest.Digest
	err := s.Walk(t.Context(), func(d digest.Digest, size int64) error {
		got = append(got, d)
		return nil
	})
	if err != nil || !slices.Equal(got, []digest.Digest{real}) {
		t.Fatalf("Walk = %v, %v; want only %s", got, err, real)
	}
}

// TestReopen checks that a new Store on an existing root sees its blobs
// and resumes its uploads, as after a restart.
func TestReopen(t *testing.T) {
	root := t.TempDir()
	s1, err := fsblob.New(root)
	if err != nil {
		t.Fatal(err)
	}
	_, st := newUpload(t, s1, "kept")
	if err := s1.CommitUpload(t.Context(), st, 4, digest.FromString("kept")); err != nil {
		t.Fatal(err)
	}
	_, st = newUpload(t, s1, "resu")
	s2, err := fsblob.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if size, err := s2.Stat(t.Context(), digest.FromString("kept")); err != nil || size != 4 {
		t.Fatalf("Stat after reopen = %d, %v", size, err)
	}
	_, st, err = s2.AppendUpload(t.Context(), st, 4, strings.NewReader("med"))
	if err != nil {
		t.Fatalf("AppendUpload after reopen: %v", err)
	}
	if err := s2.CommitUpload(t.Context(), st, 7, digest.FromString("resumed")); err != nil {
		t.Fatalf("CommitUpload after reopen: %v", err)
	}
}

func TestNewRejectsBadRoot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"", file} {
		if _, err := fsblob.New(root); err == nil {
			t.Errorf("New(%q) succeeded", root)
		}
	}
}
