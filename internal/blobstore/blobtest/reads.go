package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
)

// readCases cover committed blobs: reading, seeking, deleting, listing.
func readCases() []testCase {
	return []testCase{
		{"CommitThenRead", testCommitThenRead},
		{"Seek", testSeek},
		{"MissingBlob", testMissingBlob},
		{"Delete", testDelete},
		{"EmptyBlob", testEmptyBlob},
		{"SHA512", testSHA512},
		{"Walk", testWalk},
		{"WalkStopsOnError", testWalkStopsOnError},
		{"ModTimeIsCommitTime", testModTimeIsCommitTime},
		{"ContextCanceled", testContextCanceled},
	}
}

func testCommitThenRead(t *testing.T, s blobstore.Store) {
	for i, n := range []int{1, 1000, 64 << 10, 1<<20 + 13} {
		want := Content(uint64(i), n)
		d := put(t, s, digest.SHA256, want)
		checkBlob(t, s, d, want)
	}
}

func testSeek(t *testing.T, s blobstore.Store) {
	want := Content(1, 10_000)
	d := put(t, s, digest.SHA256, want)
	b, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer b.Close()
	steps := []struct {
		off    int64
		whence int
		pos    int64
		read   int
	}{
		{4000, io.SeekStart, 4000, 100},
		{-50, io.SeekEnd, 9950, 50},
		{-9000, io.SeekCurrent, 1000, 10},
		{0, io.SeekCurrent, 1010, 990},
		{0, io.SeekStart, 0, 10_000},
	}
	for _, st := range steps {
		pos, err := b.Seek(st.off, st.whence)
		if err != nil || pos != st.pos {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", st.off, st.whence, pos, err, st.pos)
		}
		got := make([]byte, st.read)
		if _, err := io.ReadFull(b, got); err != nil {
			t.Fatalf("read %d at %d: %v", st.read, pos, err)
		}
		if !bytes.Equal(got, want[pos:pos+int64(st.read)]) {
			t.Fatalf("read %d at %d: wrong bytes", st.read, pos)
		}
	}
	if n, err := b.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read at end = %d, %v; want 0, EOF", n, err)
	}
}

func testMissingBlob(t *testing.T, s blobstore.Store) {
	for _, d := range []digest.Digest{
		digest.FromString("never stored"),
		digest.SHA512.FromString("never stored"),
	} {
		checkMissing(t, s, d)
		if err := s.Delete(t.Context(), d); err != nil {
			t.Fatalf("Delete missing %s: %v", d, err)
		}
	}
	checkWalk(t, s, nil)
}

func testDelete(t *testing.T, s blobstore.Store) {
	keep := put(t, s, digest.SHA256, []byte("keep"))
	gone := put(t, s, digest.SHA256, []byte("gone"))
	if err := s.Delete(t.Context(), gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkMissing(t, s, gone)
	if err := s.Delete(t.Context(), gone); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	checkBlob(t, s, keep, []byte("keep"))
	checkWalk(t, s, map[digest.Digest]int64{keep: 4})

	// A deleted digest can be committed again.
	put(t, s, digest.SHA256, []byte("gone"))
	checkBlob(t, s, gone, []byte("gone"))
}

func testEmptyBlob(t *testing.T, s blobstore.Store) {
	d := digest.FromBytes(nil)
	// Without any append.
	st, err := s.CreateUpload(t.Context(), NewUploadID())
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	if err := s.CommitUpload(t.Context(), st, 0, d); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	checkBlob(t, s, d, []byte{})
	// With an empty append, onto the existing empty blob.
	st, size := upload(t, s, []byte{})
	if err := s.CommitUpload(t.Context(), st, size, d); err != nil {
		t.Fatalf("CommitUpload after empty append: %v", err)
	}
	checkBlob(t, s, d, []byte{})
	checkWalk(t, s, map[digest.Digest]int64{d: 0})
}

func testSHA512(t *testing.T, s blobstore.Store) {
	content := Content(7, 5000)
	d512 := put(t, s, digest.SHA512, content)
	d256 := put(t, s, digest.SHA256, content)
	checkBlob(t, s, d512, content)
	checkBlob(t, s, d256, content)
	checkWalk(t, s, map[digest.Digest]int64{d512: 5000, d256: 5000})
	if err := s.Delete(t.Context(), d512); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkMissing(t, s, d512)
	checkBlob(t, s, d256, content)
}

func testWalk(t *testing.T, s blobstore.Store) {
	checkWalk(t, s, nil)
	want := map[digest.Digest]int64{}
	for i, n := range []int{0, 1, 2, 300, 70_000} {
		d := put(t, s, digest.SHA256, Content(uint64(100+i), n))
		want[d] = int64(n)
	}
	d := put(t, s, digest.SHA512, Content(200, 33))
	want[d] = 33
	// Uploads in progress and aborted uploads are not blobs.
	upload(t, s, []byte("in progress"))
	st, _ := upload(t, s, []byte("aborted"))
	if err := s.AbortUpload(t.Context(), st); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	checkWalk(t, s, want)
}

// testModTimeIsCommitTime checks that Walk reports as ModTime when a blob
// was committed, not when its bytes arrived, also for a commit onto an
// existing blob: garbage collection's grace for bytes without metadata
// counts from it. Backends may keep whole seconds (S3's Last-Modified), so
// the bytes arrive more than a second before the commit, and the commit
// must be stamped no earlier than the start of its second (less a little
// for coarse kernel clocks).
func testModTimeIsCommitTime(t *testing.T, s blobstore.Store) {
	content := Content(400, 1000)
	d := digest.SHA256.FromBytes(content)
	for round := range 2 { // a new blob, then a commit onto it
		st, size := upload(t, s, content)
		time.Sleep(1100 * time.Millisecond)
		before := time.Now()
		if err := s.CommitUpload(t.Context(), st, size, d); err != nil {
			t.Fatalf("CommitUpload (round %d): %v", round, err)
		}
		after := time.Now()
		got := walkInfos(t, s)[d].ModTime
		earliest := before.Truncate(time.Second).Add(-50 * time.Millisecond)
		if got.Before(earliest) || got.After(after.Add(2*time.Second)) {
			t.Errorf("round %d: ModTime %v; the commit ran from %v to %v (bytes appended over a second earlier)",
				round, got, before, after)
		}
	}
}

func testWalkStopsOnError(t *testing.T, s blobstore.Store) {
	for i := range 3 {
		put(t, s, digest.SHA256, Content(uint64(300+i), 10))
	}
	stop := errors.New("stop")
	calls := 0
	err := s.Walk(t.Context(), func(blobstore.BlobInfo) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk = %v after %d calls; want the callback's error after 1", err, calls)
	}
}

// testContextCanceled checks that a canceled context fails every method
// with context.Canceled and changes nothing.
func testContextCanceled(t *testing.T, s blobstore.Store) {
	d := put(t, s, digest.SHA256, []byte("present"))
	st, size := upload(t, s, []byte("pending"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	pending := digest.FromString("pending")
	calls := map[string]func() error{
		"Stat":         func() error { _, err := s.Stat(ctx, d); return err },
		"Open":         func() error { b, err := s.Open(ctx, d); closeIf(b); return err },
		"Delete":       func() error { return s.Delete(ctx, d) },
		"Walk":         func() error { return s.Walk(ctx, func(blobstore.BlobInfo) error { return nil }) },
		"CreateUpload": func() error { _, err := s.CreateUpload(ctx, NewUploadID()); return err },
		"AppendUpload": func() error {
			_, _, err := s.AppendUpload(ctx, st, size, bytes.NewReader([]byte("more")))
			return err
		},
		"CommitUpload": func() error { return s.CommitUpload(ctx, st, size, pending) },
		"AbortUpload":  func() error { return s.AbortUpload(ctx, st) },
		"ReadUpload": func() error {
			rc, err := s.ReadUpload(ctx, st, size)
			if err == nil {
				rc.Close()
			}
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with canceled context: err = %v, want context.Canceled", name, err)
		}
	}
	checkBlob(t, s, d, []byte("present"))
	checkMissing(t, s, pending)
	if err := s.CommitUpload(t.Context(), st, size, pending); err != nil {
		t.Fatalf("CommitUpload after canceled calls: %v", err)
	}
	checkBlob(t, s, pending, []byte("pending"))
	checkWalk(t, s, map[digest.Digest]int64{d: 7, pending: 7})
}

func closeIf(b blobstore.Blob) {
	if b != nil {
		b.Close()
	}
}
