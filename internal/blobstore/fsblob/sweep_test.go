package fsblob

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/blobstore/blobtest"
)

func TestRemoveStaleUploads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	uploads := filepath.Join(root, "uploads")
	past := time.Now().Add(-2 * time.Hour)
	age := func(p string) {
		t.Helper()
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
	}
	// newUpload creates an upload with one segment per part, ages all of
	// it when old, and returns its directory.
	newUpload := func(old bool, parts ...string) string {
		t.Helper()
		id := blobtest.NewUploadID()
		st, err := s.CreateUpload(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var off int64
		for _, p := range parts {
			var n int64
			if n, st, err = s.AppendUpload(ctx, st, off, strings.NewReader(p)); err != nil {
				t.Fatal(err)
			}
			off += n
		}
		dir := filepath.Join(uploads, id)
		if old {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				age(filepath.Join(dir, e.Name()))
			}
			age(dir)
		}
		return dir
	}
	staleEmpty := newUpload(true)
	staleSegments := newUpload(true, "a", "bc")
	fresh := newUpload(false, "a")
	// Old directory and first segment, but a recent append: still alive.
	busy := newUpload(true, "a")
	if _, err := os.Create(filepath.Join(busy, newSegmentName())); err != nil {
		t.Fatal(err)
	}
	age(busy)
	// A stale upload with a segment no state lists (the loser of racing
	// appends): it goes too.
	orphan := newUpload(true, "a")
	orphanSeg := filepath.Join(orphan, newSegmentName())
	if err := os.WriteFile(orphanSeg, []byte("lost"), 0o600); err != nil {
		t.Fatal(err)
	}
	age(orphanSeg)
	age(orphan)
	// A stale upload holding a file we did not make: keep both.
	foreign := newUpload(true, "a")
	foreignFile := filepath.Join(foreign, "README")
	if err := os.WriteFile(foreignFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	age(foreignFile)
	age(foreign)
	// An upload file from before segments.
	legacy := filepath.Join(uploads, blobtest.NewUploadID())
	if err := os.WriteFile(legacy, []byte("old layout"), 0o600); err != nil {
		t.Fatal(err)
	}
	age(legacy)
	// Files and directories that are not uploads must be left alone
	// however old.
	stray := filepath.Join(uploads, "README")
	if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	age(stray)
	strayDir := filepath.Join(uploads, "lost+found")
	if err := os.Mkdir(strayDir, 0o700); err != nil {
		t.Fatal(err)
	}
	age(strayDir)

	n, err := s.RemoveStaleUploads(ctx, time.Now().Add(-time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("RemoveStaleUploads = %d, %v; want 4", n, err)
	}
	for _, p := range []string{staleEmpty, staleSegments, orphan, legacy} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("stale upload %s still there: %v", filepath.Base(p), err)
		}
	}
	for _, p := range []string{fresh, busy, foreignFile, stray, strayDir} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if entries, _ := os.ReadDir(foreign); len(entries) != 1 || entries[0].Name() != "README" {
		t.Errorf("stale upload with a foreign file holds %v, want only README", entries)
	}
	if entries, _ := os.ReadDir(busy); len(entries) != 2 {
		t.Errorf("busy upload holds %v, want its two segments", entries)
	}

	// Once nothing is recent, every upload goes, and only foreign files stay.
	if _, err := s.RemoveStaleUploads(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(uploads)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{filepath.Base(foreign), "README", "lost+found"}; !slices.Equal(names, slices.Sorted(slices.Values(want))) {
		t.Fatalf("uploads/ = %v, want %v", names, want)
	}
}
