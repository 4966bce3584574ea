package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
)

// uploadCases cover the upload protocol: appends, offsets, failures,
// commits and aborts.
func uploadCases() []testCase {
	return []testCase{
		{"ChunkedAppend", testChunkedAppend},
		{"OffsetGap", testOffsetGap},
		{"OffsetStale", testOffsetStale},
		{"FailedAppendThenAppend", testFailedAppendThenAppend},
		{"FailedAppendThenCommit", testFailedAppendThenCommit},
		{"FailedFirstAppend", testFailedFirstAppend},
		{"CanceledAppendResumes", testCanceledAppendResumes},
		{"CommitOntoExisting", testCommitOntoExisting},
		{"CommitWrongSize", testCommitWrongSize},
		{"CommitReleasesUpload", testCommitReleasesUpload},
		{"Abort", testAbort},
		{"ReadUpload", testReadUpload},
		{"InvalidState", testInvalidState},
	}
}

// chunks splits b at the given sizes; the rest goes in a last chunk.
func chunks(b []byte, sizes ...int) [][]byte {
	var out [][]byte
	for _, n := range sizes {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// commit commits st and fails the test on error.
func commit(t *testing.T, s blobstore.Store, st blobstore.UploadState, size int64, d digest.Digest) {
	t.Helper()
	if err := s.CommitUpload(t.Context(), st, size, d); err != nil {
		t.Fatalf("CommitUpload %s (%d bytes): %v", d, size, err)
	}
}

// appendOK appends b at off and returns the new state.
func appendOK(t *testing.T, s blobstore.Store, st blobstore.UploadState, off int64, b []byte) blobstore.UploadState {
	t.Helper()
	n, next, err := s.AppendUpload(t.Context(), st, off, bytes.NewReader(b))
	if err != nil || n != int64(len(b)) {
		t.Fatalf("AppendUpload %d bytes at %d = %d, %v", len(b), off, n, err)
	}
	return next
}

// appendMismatch asserts that appending at off fails with ErrOffsetMismatch.
func appendMismatch(t *testing.T, s blobstore.Store, st blobstore.UploadState, off int64) {
	t.Helper()
	_, _, err := s.AppendUpload(t.Context(), st, off, bytes.NewReader([]byte("x")))
	if !errors.Is(err, blobstore.ErrOffsetMismatch) {
		t.Fatalf("AppendUpload at %d: err = %v, want ErrOffsetMismatch", off, err)
	}
}

func testChunkedAppend(t *testing.T, s blobstore.Store) {
	want := Content(11, 3<<20+4321)
	// Tiny, empty, odd-sized and buffer-straddling chunks.
	parts := chunks(want, 1, 0, 4096, 1<<20+7, 3, 0, 1<<20)
	st, size := upload(t, s, parts...)
	if size != int64(len(want)) {
		t.Fatalf("uploaded %d bytes, want %d", size, len(want))
	}
	d := digest.FromBytes(want)
	commit(t, s, st, size, d)
	checkBlob(t, s, d, want)
}

func testOffsetGap(t *testing.T, s blobstore.Store) {
	st, err := s.CreateUpload(t.Context(), NewUploadID())
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	appendMismatch(t, s, st, 1)
	st = appendOK(t, s, st, 0, []byte("0123456789"))
	appendMismatch(t, s, st, 11)
	appendMismatch(t, s, st, 1<<40)
	st = appendOK(t, s, st, 10, []byte("abc"))
	d := digest.FromString("0123456789abc")
	commit(t, s, st, 13, d)
	checkBlob(t, s, d, []byte("0123456789abc"))
}

func testOffsetStale(t *testing.T, s blobstore.Store) {
	st, _ := upload(t, s, []byte("0123456789"))
	appendMismatch(t, s, st, 0)
	appendMismatch(t, s, st, 9)
	appendMismatch(t, s, st, -1)
	st = appendOK(t, s, st, 10, []byte("abc"))
	appendMismatch(t, s, st, 10)
	d := digest.FromString("0123456789abc")
	commit(t, s, st, 13, d)
	checkBlob(t, s, d, []byte("0123456789abc"))
}

// failAppend appends from a reader that delivers fail bytes of junk and
// then breaks, and asserts that the append reports an error.
func failAppend(t *testing.T, s blobstore.Store, st blobstore.UploadState, off int64, fail int64) {
	t.Helper()
	r := &failingReader{r: newGenerator(99), n: fail, err: errReaderBroke}
	_, _, err := s.AppendUpload(t.Context(), st, off, r)
	if err == nil {
		t.Fatalf("AppendUpload from a broken reader succeeded")
	}
	if !errors.Is(err, errReaderBroke) {
		t.Logf("AppendUpload from a broken reader: %v (reader's error not wrapped)", err)
	}
}

func testFailedAppendThenAppend(t *testing.T, s blobstore.Store) {
	a, b := Content(21, 100_000), Content(22, 50_000)
	st, size := upload(t, s, a)
	// Enough junk to reach storage before the reader breaks.
	failAppend(t, s, st, size, 3<<20+5)
	failAppend(t, s, st, size, 10)
	st = appendOK(t, s, st, size, b)
	want := append(a[:len(a):len(a)], b...)
	d := digest.FromBytes(want)
	commit(t, s, st, int64(len(want)), d)
	checkBlob(t, s, d, want)
}

func testFailedAppendThenCommit(t *testing.T, s blobstore.Store) {
	a := Content(23, 70_000)
	st, size := upload(t, s, a)
	failAppend(t, s, st, size, 2<<20)
	d := digest.FromBytes(a)
	commit(t, s, st, size, d)
	checkBlob(t, s, d, a)
}

func testFailedFirstAppend(t *testing.T, s blobstore.Store) {
	st, err := s.CreateUpload(t.Context(), NewUploadID())
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	failAppend(t, s, st, 0, 1<<20+1)
	want := Content(24, 1000)
	st = appendOK(t, s, st, 0, want)
	d := digest.FromBytes(want)
	commit(t, s, st, 1000, d)
	checkBlob(t, s, d, want)
}

func testCanceledAppendResumes(t *testing.T, s blobstore.Store) {
	a := Content(25, 4096)
	st, size := upload(t, s, a)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &cancelingReader{r: io.LimitReader(newGenerator(26), 16<<20), n: 2 << 20, cancel: cancel}
	if _, _, err := s.AppendUpload(ctx, st, size, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("AppendUpload canceled midway: err = %v, want context.Canceled", err)
	}
	b := Content(27, 5000)
	st = appendOK(t, s, st, size, b)
	want := append(a[:len(a):len(a)], b...)
	d := digest.FromBytes(want)
	commit(t, s, st, int64(len(want)), d)
	checkBlob(t, s, d, want)
}

func testCommitOntoExisting(t *testing.T, s blobstore.Store) {
	want := Content(31, 200_000)
	d := put(t, s, digest.SHA256, want)
	b, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer b.Close()
	st, size := upload(t, s, chunks(want, 1000)...)
	commit(t, s, st, size, d)
	checkBlob(t, s, d, want)
	checkWalk(t, s, map[digest.Digest]int64{d: int64(len(want))})
	// A reader opened before the second commit still sees the whole blob.
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("reader opened before recommit: %d bytes, %v", len(got), err)
	}
}

func testCommitWrongSize(t *testing.T, s blobstore.Store) {
	want := []byte("0123456789")
	d := digest.FromBytes(want)
	st, size := upload(t, s, want)
	for _, bad := range []int64{size - 1, size + 1, 0} {
		if err := s.CommitUpload(t.Context(), st, bad, d); err == nil {
			t.Fatalf("CommitUpload of %d bytes when %d were written succeeded", bad, size)
		}
		checkMissing(t, s, d)
	}
	// The rejected commits left the upload usable.
	commit(t, s, st, size, d)
	checkBlob(t, s, d, want)
}

func testCommitReleasesUpload(t *testing.T, s blobstore.Store) {
	st, size := upload(t, s, []byte("once"))
	d := digest.FromString("once")
	commit(t, s, st, size, d)
	_, _, err := s.AppendUpload(t.Context(), st, size, bytes.NewReader([]byte("more")))
	if !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("AppendUpload after commit: err = %v, want ErrNotFound", err)
	}
	if err := s.AbortUpload(t.Context(), st); err != nil {
		t.Fatalf("AbortUpload after commit: %v", err)
	}
	checkBlob(t, s, d, []byte("once"))
	checkWalk(t, s, map[digest.Digest]int64{d: 4})
}

func testAbort(t *testing.T, s blobstore.Store) {
	st, size := upload(t, s, Content(41, 3000))
	for i := range 2 {
		if err := s.AbortUpload(t.Context(), st); err != nil {
			t.Fatalf("AbortUpload #%d: %v", i+1, err)
		}
	}
	_, _, err := s.AppendUpload(t.Context(), st, size, bytes.NewReader([]byte("more")))
	if !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("AppendUpload after abort: err = %v, want ErrNotFound", err)
	}
	d := digest.FromBytes(Content(41, 3000))
	if err := s.CommitUpload(t.Context(), st, size, d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("CommitUpload after abort: err = %v, want ErrNotFound", err)
	}
	checkMissing(t, s, d)
	// An upload aborted before any append.
	st, err = s.CreateUpload(t.Context(), NewUploadID())
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	if err := s.AbortUpload(t.Context(), st); err != nil {
		t.Fatalf("AbortUpload of empty upload: %v", err)
	}
	checkWalk(t, s, nil)
}

func testInvalidState(t *testing.T, s blobstore.Store) {
	d := digest.FromString("x")
	for _, st := range []blobstore.UploadState{nil, {}, blobstore.UploadState("not a state"), {0xff, 0x00}} {
		if _, _, err := s.AppendUpload(t.Context(), st, 0, bytes.NewReader([]byte("x"))); err == nil {
			t.Errorf("AppendUpload with state %q succeeded", st)
		}
		if err := s.CommitUpload(t.Context(), st, 0, d); err == nil {
			t.Errorf("CommitUpload with state %q succeeded", st)
		}
		if err := s.AbortUpload(t.Context(), st); err == nil {
			t.Errorf("AbortUpload with state %q succeeded", st)
		}
	}
	checkWalk(t, s, nil)
}

// readUpload returns the first size bytes of an upload via ReadUpload.
func readUpload(t *testing.T, s blobstore.Store, st blobstore.UploadState, size int64) []byte {
	t.Helper()
	rc, err := s.ReadUpload(t.Context(), st, size)
	if err != nil {
		t.Fatalf("ReadUpload %d bytes: %v", size, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("ReadUpload %d bytes: read: %v", size, err)
	}
	return b
}

func testReadUpload(t *testing.T, s blobstore.Store) {
	st, err := s.CreateUpload(t.Context(), NewUploadID())
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	if got := readUpload(t, s, st, 0); len(got) != 0 {
		t.Fatalf("ReadUpload of empty upload = %d bytes", len(got))
	}
	a, b := Content(81, 1<<20+3), Content(82, 40_000)
	st = appendOK(t, s, st, 0, a)
	st = appendOK(t, s, st, int64(len(a)), b)
	ab := append(a[:len(a):len(a)], b...)
	total := int64(len(ab))
	// A failed append leaves bytes nobody recorded; they must not show.
	failAppend(t, s, st, total, 2<<20)
	for _, n := range []int64{total, int64(len(a)), 1} {
		if got := readUpload(t, s, st, n); !bytes.Equal(got, ab[:n]) {
			t.Fatalf("ReadUpload %d bytes: got %d wrong bytes", n, len(got))
		}
	}
	for _, bad := range []int64{total + 1, -1} {
		if rc, err := s.ReadUpload(t.Context(), st, bad); err == nil {
			rc.Close()
			t.Fatalf("ReadUpload of %d bytes when %d were written succeeded", bad, total)
		}
	}
	// Reading does not disturb the upload.
	c := []byte("tail")
	st = appendOK(t, s, st, total, c)
	want := append(ab, c...)
	d := digest.FromBytes(want)
	commit(t, s, st, int64(len(want)), d)
	checkBlob(t, s, d, want)
	if _, err := s.ReadUpload(t.Context(), st, 0); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("ReadUpload after commit: err = %v, want ErrNotFound", err)
	}
}
