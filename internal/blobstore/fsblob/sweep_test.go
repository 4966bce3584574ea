package fsblob

import (
	"context"
	"os"
	"path/filepath"
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
	oldID, newID := blobtest.NewUploadID(), blobtest.NewUploadID()
	for _, id := range []string{oldID, newID} {
		if _, err := s.CreateUpload(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	oldPath := filepath.Join(root, "uploads", oldID)
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(oldPath, past, past); err != nil {
		t.Fatal(err)
	}
	// A file that is not an upload must be left alone however old.
	stray := filepath.Join(root, "uploads", "README")
	if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(stray, past, past)

	n, err := s.RemoveStaleUploads(ctx, time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("RemoveStaleUploads = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(oldPath); !os.IsNotExist(err) {
		t.Errorf("stale upload still there: %v", err)
	}
	for _, p := range []string{filepath.Join(root, "uploads", newID), stray} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}
