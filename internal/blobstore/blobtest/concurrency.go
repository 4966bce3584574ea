package blobtest

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
)

// concurrencyCases cover parallel use and large blobs.
func concurrencyCases() []testCase {
	return []testCase{
		{"ConcurrentSameDigest", testConcurrentSameDigest},
		{"ConcurrentUploads", testConcurrentUploads},
		{"LargeBlob", testLargeBlob},
	}
}

const workers = 16

// uploadAndCommit runs one whole upload in chunks of chunk bytes; it is
// safe to call from any goroutine.
func uploadAndCommit(t *testing.T, s blobstore.Store, content []byte, chunk int, d digest.Digest) error {
	ctx := t.Context()
	st, err := s.CreateUpload(ctx, NewUploadID())
	if err != nil {
		return fmt.Errorf("CreateUpload: %w", err)
	}
	var off int64
	for len(content) > 0 {
		n := min(chunk, len(content))
		var w int64
		w, st, err = s.AppendUpload(ctx, st, off, bytes.NewReader(content[:n]))
		if err != nil {
			return fmt.Errorf("AppendUpload at %d: %w", off, err)
		}
		off += w
		content = content[n:]
	}
	if err := s.CommitUpload(ctx, st, off, d); err != nil {
		return fmt.Errorf("CommitUpload: %w", err)
	}
	return nil
}

// parallel runs fn(i) for i in [0, workers) at once and reports errors.
func parallel(t *testing.T, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			<-start
			if err := fn(i); err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

func testConcurrentSameDigest(t *testing.T, s blobstore.Store) {
	want := Content(51, 3<<20+99)
	d := digest.FromBytes(want)
	parallel(t, func(i int) error {
		return uploadAndCommit(t, s, want, 256<<10+i, d)
	})
	checkBlob(t, s, d, want)
	checkWalk(t, s, map[digest.Digest]int64{d: int64(len(want))})
}

func testConcurrentUploads(t *testing.T, s blobstore.Store) {
	blobs := make([][]byte, workers)
	want := map[digest.Digest]int64{}
	for i := range blobs {
		blobs[i] = Content(uint64(60+i), 100_000+i*7919)
		want[digest.FromBytes(blobs[i])] = int64(len(blobs[i]))
	}
	parallel(t, func(i int) error {
		return uploadAndCommit(t, s, blobs[i], 16<<10, digest.FromBytes(blobs[i]))
	})
	for _, b := range blobs {
		checkBlob(t, s, digest.FromBytes(b), b)
	}
	checkWalk(t, s, want)
}

// testLargeBlob streams 64 MiB from a generator in four appends, hashing
// on the way in and on the way out; the blob is never in memory.
func testLargeBlob(t *testing.T, s blobstore.Store) {
	const size, parts = 64 << 20, 4
	ctx := t.Context()
	st, err := s.CreateUpload(ctx, NewUploadID())
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	src := newGenerator(70)
	in := digest.SHA256.Digester()
	var off int64
	for range parts {
		r := io.TeeReader(io.LimitReader(src, size/parts), in.Hash())
		var n int64
		n, st, err = s.AppendUpload(ctx, st, off, r)
		if err != nil || n != size/parts {
			t.Fatalf("AppendUpload at %d = %d, %v", off, n, err)
		}
		off += n
	}
	d := in.Digest()
	if err := s.CommitUpload(ctx, st, off, d); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	if got, err := s.Stat(ctx, d); err != nil || got != size {
		t.Fatalf("Stat = %d, %v; want %d", got, err, size)
	}
	b, err := s.Open(ctx, d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer b.Close()
	out := digest.SHA256.Digester()
	if n, err := io.Copy(out.Hash(), b); err != nil || n != size {
		t.Fatalf("read back %d bytes, %v; want %d", n, err, size)
	}
	if out.Digest() != d {
		t.Fatalf("read back %s, want %s", out.Digest(), d)
	}
	checkWalk(t, s, map[digest.Digest]int64{d: size})
}
