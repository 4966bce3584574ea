// Package fsblob keeps blobs in a local filesystem directory.
//
// Crash safety is the point of this package: a blob becomes visible only by
// rename(2) of an upload segment whose bytes were fsynced first, and every
// directory entry under blobs/ a commit depends on is fsynced too, so a
// crash at any moment leaves either no file or the complete file under a
// blob path. Appends are not fsynced (that would cost one flush per PATCH);
// the commit flushes everything once. See paths.go for the layout.
package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
)

const (
	dirPerm  fs.FileMode = 0o750
	filePerm fs.FileMode = 0o640

	// defaultBufferSize is large so that one append issues few, big writes
	// even when the request body hands out a few KiB per Read.
	defaultBufferSize = 1 << 20
)

var _ blobstore.Store = (*Store)(nil)

// Store is a blobstore.Store on a local directory tree. It is safe for
// concurrent use, also by several processes sharing the root, without any
// lock: appends racing from one state of an upload write separate segment
// files and each return their own state, and a commit claims the file it
// extends by rename(2) before touching it (see paths.go and CommitUpload).
type Store struct {
	layout layout
	bufs   sync.Pool // *[]byte of cfg.bufferSize, shared by all appends

	// durableDirs remembers blob directories whose entry in their parent is
	// known to be fsynced, so a commit fsyncs a parent once per directory
	// and process rather than on every commit.
	durableDirs sync.Map // string → struct{}
}

// Option configures a Store.
type Option func(*config)

type config struct {
	bufferSize int
}

// WithBufferSize sets the size of the copy buffer each append uses
// (default 1 MiB). Values below 4 KiB are raised to 4 KiB.
func WithBufferSize(n int) Option {
	return func(c *config) { c.bufferSize = max(n, 4<<10) }
}

// New opens (creating if needed) a store rooted at root.
func New(root string, opts ...Option) (*Store, error) {
	if root == "" {
		return nil, errors.New("fsblob: empty root")
	}
	cfg := config{bufferSize: defaultBufferSize}
	for _, o := range opts {
		o(&cfg)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("fsblob: root %q: %w", root, err)
	}
	s := &Store{layout: layout{root: abs}}
	for _, dir := range []string{s.layout.blobsDir(), s.layout.uploadsDir()} {
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			return nil, fmt.Errorf("fsblob: %w", err)
		}
	}
	// Commits fsync the directories below these two, not these entries.
	if err := syncDir(abs); err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	s.bufs.New = func() any {
		b := make([]byte, cfg.bufferSize)
		return &b
	}
	return s, nil
}

// Root returns the absolute directory the store lives in.
func (s *Store) Root() string { return s.layout.root }

// Stat returns the size of a committed blob.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p, err := s.layout.blobPath(d)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, notFound(err, "stat blob", d.String())
	}
	return fi.Size(), nil
}

// Open returns the blob as an *os.File so that net/http can sendfile it.
func (s *Store) Open(ctx context.Context, d digest.Digest) (blobstore.Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.layout.blobPath(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(err, "open blob", d.String())
	}
	return f, nil
}

// Delete removes a committed blob. The removal is not fsynced: if a crash
// undoes it, the blob is merely unreferenced and garbage collection, which
// walks the store, removes it again.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.layout.blobPath(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: delete blob %s: %w", d, err)
	}
	return nil
}

// Walk calls fn for every committed blob. Files that do not have the shape
// of a blob (wrong shard, bad name, not regular) are skipped, as are blobs
// deleted while the walk runs.
func (s *Store) Walk(ctx context.Context, fn func(b blobstore.BlobInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	algs, err := os.ReadDir(s.layout.blobsDir())
	if err != nil {
		return fmt.Errorf("fsblob: walk: %w", err)
	}
	for _, alg := range algs {
		if !alg.IsDir() || !digest.Algorithm(alg.Name()).Available() {
			continue
		}
		algDir := s.layout.algorithmDir(digest.Algorithm(alg.Name()))
		shards, err := os.ReadDir(algDir)
		if err != nil {
			return fmt.Errorf("fsblob: walk: %w", err)
		}
		for _, shard := range shards {
			if !shard.IsDir() {
				continue
			}
			dir := filepath.Join(algDir, shard.Name())
			if err := walkShard(ctx, dir, alg.Name(), shard.Name(), fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// walkShard reports the blobs in one shard directory.
func walkShard(ctx context.Context, dir, alg, shard string, fn func(blobstore.BlobInfo) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("fsblob: walk: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			continue
		}
		d, ok := blobDigest(alg, shard, e.Name())
		if !ok {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("fsblob: walk: %w", err)
		}
		if err := fn(blobstore.BlobInfo{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// notFound maps a missing file to blobstore.ErrNotFound and wraps anything
// else, naming the operation and key.
func notFound(err error, op, key string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: %s %s: %w", op, key, blobstore.ErrNotFound)
	}
	return fmt.Errorf("fsblob: %s %s: %w", op, key, err)
}

// syncDir fsyncs a directory so that entries added to or removed from it
// survive a crash.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ensureDurableDir creates dir if needed and makes sure its entry in its
// parent is on disk. The parent is fsynced even when dir already existed,
// the first time this process sees it: another committer may have created
// it a moment ago and not yet fsynced the parent.
func (s *Store) ensureDurableDir(dir string) error {
	if _, ok := s.durableDirs.Load(dir); ok {
		return nil
	}
	if err := os.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	s.durableDirs.Store(dir, struct{}{})
	return nil
}
