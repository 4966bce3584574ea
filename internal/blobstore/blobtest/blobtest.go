// Package blobtest is the conformance suite every blobstore.Store runs.
//
// A backend's test calls Run with a constructor for fresh, empty stores;
// each subtest gets its own store and runs in parallel with the others, so
// assertions about Walk can be exact. The suite never relies on the store
// to compute digests: it computes them itself, as the registry service
// does, and checks that what comes back hashes to the same value.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"

	// Make sha256 and sha512 available to go-digest.
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// testCase is one conformance property.
type testCase struct {
	name string
	fn   func(t *testing.T, s blobstore.Store)
}

// cases is the whole suite; the properties live in the other files.
func cases() []testCase {
	var all []testCase
	all = append(all, readCases()...)
	all = append(all, uploadCases()...)
	all = append(all, concurrencyCases()...)
	all = append(all, forkCases()...)
	return all
}

// Run runs the conformance suite against stores made by newStore, which
// must return a fresh, empty store each time it is called.
func Run(t *testing.T, newStore func(t *testing.T) blobstore.Store) {
	t.Helper()
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// NewUploadID returns a random canonical lowercase UUID (version 4), the
// form the registry service uses for upload ids.
func NewUploadID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Content returns n deterministic pseudo-random bytes for seed, so a
// failure reproduces and different seeds give different blobs.
func Content(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = newGenerator(seed).Read(b)
	return b
}

// newGenerator is an endless deterministic byte stream; wrap it in
// io.LimitReader to stream a large blob without holding it in memory.
func newGenerator(seed uint64) *mrand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return mrand.NewChaCha8(s)
}

// upload creates an upload and appends each chunk in turn, checking the
// counts, and returns the final state and size.
func upload(t *testing.T, s blobstore.Store, chunks ...[]byte) (blobstore.UploadState, int64) {
	t.Helper()
	ctx := t.Context()
	st, err := s.CreateUpload(ctx, NewUploadID())
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	var off int64
	for i, c := range chunks {
		n, next, err := s.AppendUpload(ctx, st, off, bytes.NewReader(c))
		if err != nil {
			t.Fatalf("AppendUpload chunk %d at %d: %v", i, off, err)
		}
		if n != int64(len(c)) {
			t.Fatalf("AppendUpload chunk %d wrote %d bytes, want %d", i, n, len(c))
		}
		st, off = next, off+n
	}
	return st, off
}

// put stores content as one blob under its digest in alg and returns it.
func put(t *testing.T, s blobstore.Store, alg digest.Algorithm, content []byte) digest.Digest {
	t.Helper()
	d := alg.FromBytes(content)
	st, size := upload(t, s, content)
	if err := s.CommitUpload(t.Context(), st, size, d); err != nil {
		t.Fatalf("CommitUpload %s: %v", d, err)
	}
	return d
}

// readBlob returns the whole committed blob d.
func readBlob(t *testing.T, s blobstore.Store, d digest.Digest) []byte {
	t.Helper()
	b, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open %s: %v", d, err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	return got
}

// checkBlob asserts that d is committed with exactly want as content.
func checkBlob(t *testing.T, s blobstore.Store, d digest.Digest, want []byte) {
	t.Helper()
	size, err := s.Stat(t.Context(), d)
	if err != nil {
		t.Fatalf("Stat %s: %v", d, err)
	}
	if size != int64(len(want)) {
		t.Fatalf("Stat %s = %d, want %d", d, size, len(want))
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, want) {
		t.Fatalf("content of %s: got %d bytes (%s), want %d bytes",
			d, len(got), d.Algorithm().FromBytes(got), len(want))
	}
}

// checkMissing asserts that Stat and Open report ErrNotFound for d.
func checkMissing(t *testing.T, s blobstore.Store, d digest.Digest) {
	t.Helper()
	if _, err := s.Stat(t.Context(), d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat %s: err = %v, want ErrNotFound", d, err)
	}
	b, err := s.Open(t.Context(), d)
	if err == nil {
		b.Close()
	}
	if !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Open %s: err = %v, want ErrNotFound", d, err)
	}
}

// walkAll returns every blob Walk reports, failing on duplicates.
func walkAll(t *testing.T, s blobstore.Store) map[digest.Digest]int64 {
	t.Helper()
	got := map[digest.Digest]int64{}
	for d, b := range walkInfos(t, s) {
		got[d] = b.Size
	}
	return got
}

// walkInfos returns what Walk reports of every blob, failing on duplicates.
func walkInfos(t *testing.T, s blobstore.Store) map[digest.Digest]blobstore.BlobInfo {
	t.Helper()
	got := map[digest.Digest]blobstore.BlobInfo{}
	err := s.Walk(t.Context(), func(b blobstore.BlobInfo) error {
		if _, dup := got[b.Digest]; dup {
			return fmt.Errorf("Walk reported %s twice", b.Digest)
		}
		got[b.Digest] = b
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return got
}

// checkWalk asserts that Walk lists exactly want.
func checkWalk(t *testing.T, s blobstore.Store, want map[digest.Digest]int64) {
	t.Helper()
	got := walkAll(t, s)
	for d, size := range want {
		if g, ok := got[d]; !ok || g != size {
			t.Errorf("Walk: %s has size %d (listed %v), want %d", d, g, ok, size)
		}
	}
	for d, size := range got {
		if _, ok := want[d]; !ok {
			t.Errorf("Walk: unexpected %s (%d bytes)", d, size)
		}
	}
}

// failingReader yields the first n bytes of r and then fails with err.
type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

// cancelingReader yields r, calling cancel once n bytes have been read.
type cancelingReader struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

var errReaderBroke = errors.New("blobtest: reader broke")
