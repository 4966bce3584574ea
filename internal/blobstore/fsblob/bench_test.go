package fsblob_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore/blobtest"
	"github.com/berth-registry/berth/internal/blobstore/fsblob"
)

const benchSize = 256 << 20

// benchDir is where benchmarks write: BERTH_BENCH_DIR if set (so a run can
// target the data disk), else a temp dir. It must not be tmpfs, where
// fsync is free.
func benchDir(b *testing.B) string {
	if d := os.Getenv("BERTH_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "fsblob-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// patternReader yields n bytes by repeating pattern, at most max per Read
// (net/http request bodies hand out a few KiB to 32 KiB per call).
type patternReader struct {
	pattern []byte
	off     int
	n       int64
	max     int
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n, int64(r.max))]
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.pattern[r.off:])
		n += c
		r.off = (r.off + c) % len(r.pattern)
	}
	r.n -= int64(n)
	return n, nil
}

// BenchmarkAppendCommit measures the write path of a 256 MiB blob against
// the physical limit, a plain write of the same bytes to one file followed
// by fsync. Run with -count to interleave the variants and compare medians.
func BenchmarkAppendCommit(b *testing.B) {
	pattern := blobtest.Content(1, 1<<20)
	dir := benchDir(b)
	b.Run("raw-write-fsync", func(b *testing.B) {
		b.SetBytes(benchSize)
		for i := 0; i < b.N; i++ {
			p := filepath.Join(dir, fmt.Sprintf("raw-%d", i))
			rawWrite(b, p, &patternReader{pattern: pattern, n: benchSize, max: 1 << 20})
			b.StopTimer()
			os.Remove(p)
			b.StartTimer()
		}
	})
	variants := []struct {
		name             string
		appends, maxRead int
		opts             []fsblob.Option
	}{
		{"fsblob-1append", 1, 1 << 20, nil},
		{"fsblob-1append-32KiBreads", 1, 32 << 10, nil},
		{"fsblob-16appends-32KiBreads", 16, 32 << 10, nil},
		{"fsblob-16appends-32KiBreads-32KiBbuf", 16, 32 << 10, []fsblob.Option{fsblob.WithBufferSize(32 << 10)}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			s, err := fsblob.New(filepath.Join(dir, v.name), v.opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(benchSize)
			for i := 0; i < b.N; i++ {
				d := digest.FromString(fmt.Sprint(v.name, i)) // the store never checks
				appendCommit(b, s, d, v.appends, func(n int64) io.Reader {
					return &patternReader{pattern: pattern, n: n, max: v.maxRead}
				})
				b.StopTimer()
				if err := s.Delete(b.Context(), d); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// rawWrite is the baseline: copy r to a new file, fsync, close.
func rawWrite(b *testing.B, p string, r io.Reader) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(struct{ io.Writer }{f}, r, buf); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// appendCommit uploads benchSize bytes in the given number of appends and
// commits them under d.
func appendCommit(b *testing.B, s *fsblob.Store, d digest.Digest, appends int, src func(int64) io.Reader) {
	ctx := b.Context()
	st, err := s.CreateUpload(ctx, blobtest.NewUploadID())
	if err != nil {
		b.Fatal(err)
	}
	var off int64
	for range appends {
		var n int64
		n, st, err = s.AppendUpload(ctx, st, off, src(benchSize/int64(appends)))
		if err != nil {
			b.Fatal(err)
		}
		off += n
	}
	if err := s.CommitUpload(ctx, st, off, d); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCommitSmall measures the fixed cost of a commit (one file and
// two directory fsyncs, a rename) on 4 KiB blobs such as configs, against
// a plain write and fsync of one file.
func BenchmarkCommitSmall(b *testing.B) {
	const size = 4 << 10
	content := blobtest.Content(2, size)
	dir := benchDir(b)
	seq := 0 // b.Run calls each function several times; names must stay new
	b.Run("raw-write-fsync", func(b *testing.B) {
		for range b.N {
			seq++
			rawWrite(b, filepath.Join(dir, fmt.Sprintf("raw-%d", seq)), bytes.NewReader(content))
		}
	})
	b.Run("fsblob", func(b *testing.B) {
		s, err := fsblob.New(filepath.Join(dir, "fsblob"))
		if err != nil {
			b.Fatal(err)
		}
		ctx := b.Context()
		for range b.N {
			seq++
			st, err := s.CreateUpload(ctx, blobtest.NewUploadID())
			if err != nil {
				b.Fatal(err)
			}
			if _, st, err = s.AppendUpload(ctx, st, 0, bytes.NewReader(content)); err != nil {
				b.Fatal(err)
			}
			if err := s.CommitUpload(ctx, st, size, digest.FromString(fmt.Sprint(seq))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
