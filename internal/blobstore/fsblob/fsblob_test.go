package fsblob_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

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

// segmentFile matches the path of a segment relative to the root.
var segmentFile = regexp.MustCompile(`^uploads/[0-9a-f-]{36}/[0-9a-f]{16}$`)

// uploadEntries lists the names in root/uploads.
func uploadEntries(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestLayout(t *testing.T) {
	s := newStore(t)
	root := s.Root()
	id, st := newUpload(t, s, "hello")
	got := files(t, root)
	if len(got) != 1 || !segmentFile.MatchString(got[0]) || !strings.HasPrefix(got[0], "uploads/"+id+"/") {
		t.Fatalf("files during upload = %v, want one segment under uploads/%s/", got, id)
	}
	checkPerm(t, filepath.Join(root, got[0]), 0o640)
	checkPerm(t, filepath.Join(root, "uploads", id), 0o750)
	// Each append adds a segment and leaves the others as they were.
	_, st, err := s.AppendUpload(t.Context(), st, 5, strings.NewReader(", world"))
	if err != nil {
		t.Fatalf("AppendUpload: %v", err)
	}
	first := got[0]
	got = files(t, root)
	if len(got) != 2 || !slices.Contains(got, first) {
		t.Fatalf("files after second append = %v, want %s and one more segment", got, first)
	}
	for _, f := range got {
		want := map[bool]string{true: "hello", false: ", world"}[f == first]
		if !segmentFile.MatchString(f) || readFile(t, filepath.Join(root, f)) != want {
			t.Fatalf("segment %s holds %q, want %q", f, readFile(t, filepath.Join(root, f)), want)
		}
	}
	d256 := digest.FromString("hello, world")
	if err := s.CommitUpload(t.Context(), st, 12, d256); err != nil {
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
	if got := uploadEntries(t, root); len(got) != 0 {
		t.Fatalf("uploads/ after commit holds %v", got)
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
		st := blobstore.UploadState(`{"v":2,"id":"` + strings.ReplaceAll(id, `"`, ``) + `","size":0}`)
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
	id, st := newUpload(t, s, "first")
	if _, err := s.CreateUpload(t.Context(), id); err == nil {
		t.Fatal("second CreateUpload with the same id succeeded")
	}
	if got := readUpload(t, s, st, 5); got != "first" {
		t.Fatalf("upload content = %q after duplicate create", got)
	}
}

// readUpload returns the first n bytes of the upload st.
func readUpload(t *testing.T, s *fsblob.Store, st blobstore.UploadState, n int64) string {
	t.Helper()
	rc, err := s.ReadUpload(t.Context(), st, n)
	if err != nil {
		t.Fatalf("ReadUpload: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("ReadUpload: read: %v", err)
	}
	return string(b)
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

// blobFile returns the content of the committed blob d, read from disk.
func blobFile(t *testing.T, s *fsblob.Store, d digest.Digest) string {
	t.Helper()
	return readFile(t, filepath.Join(s.Root(), "blobs", string(d.Algorithm()), d.Encoded()[:2], d.Encoded()))
}

// segmentPaths lists the segment files of upload id, sorted by name.
func segmentPaths(t *testing.T, s *fsblob.Store, id string) []string {
	t.Helper()
	dir := filepath.Join(s.Root(), "uploads", id)
	var out []string
	for _, f := range files(t, dir) {
		out = append(out, filepath.Join(dir, f))
	}
	return out
}

// appendJunk writes bytes no state records to the end of file p, as
// something other than the append that created it might.
func appendJunk(t *testing.T, p string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("JUNK NO STATE RECORDS"); err != nil {
		t.Fatal(err)
	}
}

// newSegments appends each part in turn to a new upload and returns its
// id, the final state and the segment file each part went to.
func newSegments(t *testing.T, s *fsblob.Store, parts ...string) (string, blobstore.UploadState, []string) {
	t.Helper()
	id := blobtest.NewUploadID()
	st, err := s.CreateUpload(t.Context(), id)
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	var off int64
	var segs []string
	for _, p := range parts {
		before := segmentPaths(t, s, id)
		var n int64
		if n, st, err = s.AppendUpload(t.Context(), st, off, strings.NewReader(p)); err != nil {
			t.Fatalf("AppendUpload: %v", err)
		}
		off += n
		for _, f := range segmentPaths(t, s, id) {
			if !slices.Contains(before, f) {
				segs = append(segs, f)
			}
		}
	}
	if len(segs) != len(parts) {
		t.Fatalf("%d appends made %d segments", len(parts), len(segs))
	}
	return id, st, segs
}

// TestOverlongSegmentCut covers segments longer than their state records
// (segments are never reused, so only something outside the store can do
// this): reads and commits ignore the excess, and the commit cuts the
// file that becomes the blob.
func TestOverlongSegmentCut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string
		junk  []int // segments to lengthen
	}{
		{"one segment", []string{"0123456789abc"}, []int{0}},
		{"first of several", []string{"0123456789", "abc", "def"}, []int{0}},
		{"middle and last", []string{"0123456789", "abc", "def"}, []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			_, st, segs := newSegments(t, s, tc.parts...)
			for _, i := range tc.junk {
				appendJunk(t, segs[i])
			}
			want := strings.Join(tc.parts, "")
			if got := readUpload(t, s, st, int64(len(want))); got != want {
				t.Fatalf("ReadUpload = %q, want %q", got, want)
			}
			d := digest.FromString(want)
			if err := s.CommitUpload(t.Context(), st, int64(len(want)), d); err != nil {
				t.Fatalf("CommitUpload: %v", err)
			}
			if got := blobFile(t, s, d); got != want {
				t.Fatalf("blob = %q, want %q", got, want)
			}
		})
	}
}

// TestShortSegment covers acknowledged bytes lost from a segment, or a
// whole segment lost (possible after a power failure, since appends are
// not fsynced). Appends do not look at earlier segments, so the loss shows
// when the upload is read or committed; a failed commit gives the first
// segment back unchanged.
func TestShortSegment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage int  // segment to cut short
		remove bool // remove it instead
	}{
		{"first short", 0, false},
		{"last short", 2, false},
		{"middle missing", 1, true},
		{"first missing", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			id, st, segs := newSegments(t, s, "0123456789", "abc", "defgh")
			var err error
			if tc.remove {
				err = os.Remove(segs[tc.damage])
			} else {
				err = os.Truncate(segs[tc.damage], 2)
			}
			if err != nil {
				t.Fatal(err)
			}
			before := segmentPaths(t, s, id)
			if _, err := s.ReadUpload(t.Context(), st, 18); !errors.Is(err, blobstore.ErrOffsetMismatch) {
				t.Fatalf("ReadUpload of damaged upload: err = %v, want ErrOffsetMismatch", err)
			}
			d := digest.FromString("0123456789abcdefgh")
			if err := s.CommitUpload(t.Context(), st, 18, d); !errors.Is(err, blobstore.ErrOffsetMismatch) {
				t.Fatalf("CommitUpload of damaged upload: err = %v, want ErrOffsetMismatch", err)
			}
			if got := files(t, filepath.Join(s.Root(), "blobs")); len(got) != 0 {
				t.Fatalf("files under blobs/: %v", got)
			}
			if got := segmentPaths(t, s, id); !slices.Equal(got, before) {
				t.Fatalf("segments after failed commit = %v, want %v", got, before)
			}
			// The claimed first segment is back, not extended.
			wantFirst := "0123456789"
			if tc.damage == 0 {
				wantFirst = "01"
			}
			if !tc.remove || tc.damage != 0 {
				if got := readFile(t, segs[0]); got != wantFirst {
					t.Fatalf("first segment after failed commit = %q, want %q", got, wantFirst)
				}
			}
			if err := s.AbortUpload(t.Context(), st); err != nil {
				t.Fatalf("AbortUpload: %v", err)
			}
			if got := uploadEntries(t, s.Root()); len(got) != 0 {
				t.Fatalf("uploads/ after abort holds %v", got)
			}
		})
	}
}

// TestSegmentPerAppend checks which appends make files: one segment per
// append with bytes, none for an empty or failed one, and two for appends
// racing from one state, both of which go when the upload is released.
func TestSegmentPerAppend(t *testing.T) {
	for _, release := range []string{"commit", "abort"} {
		t.Run(release, func(t *testing.T) {
			s := newStore(t)
			id, st, segs := newSegments(t, s, "0123456789")
			n, same, err := s.AppendUpload(t.Context(), st, 10, strings.NewReader(""))
			if err != nil || n != 0 || !bytes.Equal(same, st) {
				t.Fatalf("empty AppendUpload = %d, %s, %v; want 0, the same state", n, same, err)
			}
			broken := io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(errors.New("broken")))
			if _, _, err := s.AppendUpload(t.Context(), st, 10, broken); err == nil {
				t.Fatal("AppendUpload from a broken reader succeeded")
			}
			if got := segmentPaths(t, s, id); !slices.Equal(got, segs) {
				t.Fatalf("segments after empty and failed appends = %v, want %v", got, segs)
			}
			_, sa, err := s.AppendUpload(t.Context(), st, 10, strings.NewReader("abc"))
			if err != nil {
				t.Fatal(err)
			}
			_, sb, err := s.AppendUpload(t.Context(), st, 10, strings.NewReader("XYZ"))
			if err != nil {
				t.Fatal(err)
			}
			if got := segmentPaths(t, s, id); len(got) != 3 {
				t.Fatalf("segments after two appends from one state = %v, want 3", got)
			}
			if a, b := readUpload(t, s, sa, 13), readUpload(t, s, sb, 13); a != "0123456789abc" || b != "0123456789XYZ" {
				t.Fatalf("forked uploads read %q and %q", a, b)
			}
			if release == "commit" {
				d := digest.FromString("0123456789XYZ")
				if err := s.CommitUpload(t.Context(), sb, 13, d); err != nil {
					t.Fatalf("CommitUpload: %v", err)
				}
				if got := blobFile(t, s, d); got != "0123456789XYZ" {
					t.Fatalf("blob = %q", got)
				}
			} else if err := s.AbortUpload(t.Context(), sb); err != nil {
				t.Fatalf("AbortUpload: %v", err)
			}
			if got := uploadEntries(t, s.Root()); len(got) != 0 {
				t.Fatalf("uploads/ after %s holds %v", release, got)
			}
		})
	}
}

// TestSegmentNamesCannotEscape feeds states whose segment names would
// reach other files: every method refuses them and no file changes.
func TestSegmentNamesCannotEscape(t *testing.T) {
	s := newStore(t)
	id, _, segs := newSegments(t, s, "0123456789")
	real := filepath.Base(segs[0])
	victim := filepath.Join(s.Root(), "victim")
	if err := os.WriteFile(victim, []byte("victim"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"", ".", "..", "../../victim", "../" + id + "/" + real, "/etc/passwd",
		strings.ToUpper(real), real[:15], real + "0", real[:15] + "/", real[:15] + "\x00",
	} {
		jsonName, err := json.Marshal(name)
		if err != nil {
			t.Fatal(err)
		}
		st := blobstore.UploadState(`{"v":2,"id":"` + id + `","size":6,"segs":[{"name":` + string(jsonName) + `,"size":6}]}`)
		if _, _, err := s.AppendUpload(t.Context(), st, 6, strings.NewReader("evil")); err == nil {
			t.Errorf("AppendUpload with segment %q succeeded", name)
		}
		if err := s.CommitUpload(t.Context(), st, 6, digest.FromString("victim")); err == nil {
			t.Errorf("CommitUpload with segment %q succeeded", name)
		}
		if rc, err := s.ReadUpload(t.Context(), st, 6); err == nil {
			rc.Close()
			t.Errorf("ReadUpload with segment %q succeeded", name)
		}
	}
	if got := files(t, s.Root()); !slices.Equal(got, []string{"uploads/" + id + "/" + real, "victim"}) {
		t.Fatalf("files = %v", got)
	}
	if readFile(t, victim) != "victim" || readFile(t, segs[0]) != "0123456789" {
		t.Fatal("a file was modified")
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
	err := s.Walk(t.Context(), func(b blobstore.BlobInfo) error {
		got = append(got, b.Digest)
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
