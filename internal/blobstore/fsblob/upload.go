package fsblob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
)

// errInvalidState reports an UploadState this store did not produce.
var errInvalidState = errors.New("fsblob: invalid upload state")

const stateVersion = 1

// uploadState is the JSON behind blobstore.UploadState. Size is the count
// of bytes the caller has been told are written; bytes in the file beyond
// it come from an append whose result was never recorded and are discarded.
type uploadState struct {
	V    int    `json:"v"`
	ID   string `json:"id"`
	Size int64  `json:"size"`
}

func (u uploadState) encode() blobstore.UploadState {
	b, err := json.Marshal(u)
	if err != nil {
		panic(err) // three plain fields cannot fail to marshal
	}
	return b
}

// decodeState parses st strictly and returns it with the upload's path.
func (s *Store) decodeState(st blobstore.UploadState) (uploadState, string, error) {
	var u uploadState
	dec := json.NewDecoder(bytes.NewReader(st))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return u, "", fmt.Errorf("%w: %v", errInvalidState, err)
	}
	if u.V != stateVersion || u.Size < 0 {
		return u, "", fmt.Errorf("%w: version %d, size %d", errInvalidState, u.V, u.Size)
	}
	p, err := s.layout.uploadPath(u.ID)
	if err != nil {
		return u, "", fmt.Errorf("%w: %w", errInvalidState, err)
	}
	return u, p, nil
}

// CreateUpload creates the empty upload file. id must be a canonical
// lowercase UUID; reusing the id of a live upload is an error, so two
// sessions can never share one file.
func (s *Store) CreateUpload(ctx context.Context, id string) (blobstore.UploadState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.layout.uploadPath(id)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return nil, fmt.Errorf("fsblob: create upload: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("fsblob: create upload: %w", err)
	}
	return uploadState{V: stateVersion, ID: id}.encode(), nil
}

// AppendUpload writes r at offset. The bytes are not fsynced here; the
// commit does that once for the whole file. On any error the file is cut
// back to offset (or will be by the next append) and st stays valid.
func (s *Store) AppendUpload(ctx context.Context, st blobstore.UploadState, offset int64, r io.Reader) (int64, blobstore.UploadState, error) {
	if err := ctx.Err(); err != nil {
		return 0, st, err
	}
	u, p, err := s.decodeState(st)
	if err != nil {
		return 0, st, err
	}
	if offset != u.Size {
		return 0, st, fmt.Errorf("fsblob: append at %d to upload %s of %d bytes: %w",
			offset, u.ID, u.Size, blobstore.ErrOffsetMismatch)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return 0, st, notFound(err, "append to upload", u.ID)
	}
	defer f.Close()
	if err := cutTo(f, offset, u.ID); err != nil {
		return 0, st, err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, st, fmt.Errorf("fsblob: append to upload %s: %w", u.ID, err)
	}
	n, err := s.copyChunks(ctx, f, r)
	if err == nil {
		err = f.Close() // some filesystems report write errors only here
	}
	if err != nil {
		// Best effort: the next append or commit cuts the tail anyway.
		_ = os.Truncate(p, offset)
		return 0, st, fmt.Errorf("fsblob: append to upload %s: %w", u.ID, err)
	}
	u.Size += n
	return n, u.encode(), nil
}

// cutTo makes the upload file exactly size bytes long: a longer file holds
// the tail of an append the caller never recorded, which is dropped; a
// shorter one lost acknowledged bytes (they are not fsynced before commit,
// so a power failure can do this) and cannot be resumed.
func cutTo(f *os.File, size int64, id string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("fsblob: upload %s: %w", id, err)
	}
	switch {
	case fi.Size() < size:
		return fmt.Errorf("fsblob: upload %s holds %d bytes, expected %d: %w",
			id, fi.Size(), size, blobstore.ErrOffsetMismatch)
	case fi.Size() > size:
		if err := f.Truncate(size); err != nil {
			return fmt.Errorf("fsblob: upload %s: %w", id, err)
		}
	}
	return nil
}

// copyChunks copies r to w through a pooled buffer, filling the buffer
// before each write so that small reads from a request body become large
// writes, and checking ctx between chunks.
func (s *Store) copyChunks(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, rerr := fill(r, buf)
		if n > 0 {
			wn, werr := w.Write(buf[:n])
			total += int64(wn)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// fill reads until buf is full or r returns an error (io.EOF included).
// Unlike io.ReadFull it passes r's own io.ErrUnexpectedEOF through as the
// failure it is (net/http reports a truncated body that way).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// CommitUpload makes the upload the blob d: cut to size, fsync the file,
// rename it into place and fsync both directories. Renaming over an
// existing blob is atomic and, content addressing being what it is, swaps
// identical bytes; it also repairs a blob damaged outside Berth.
func (s *Store) CommitUpload(ctx context.Context, st blobstore.UploadState, size int64, d digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u, p, err := s.decodeState(st)
	if err != nil {
		return err
	}
	if size != u.Size {
		return fmt.Errorf("fsblob: commit %d bytes of upload %s holding %d: %w",
			size, u.ID, u.Size, blobstore.ErrOffsetMismatch)
	}
	dst, err := s.layout.blobPath(d)
	if err != nil {
		return err
	}
	if err := syncUpload(p, size, u.ID); err != nil {
		return err
	}
	if err := s.place(p, dst, d); err != nil {
		return fmt.Errorf("fsblob: commit upload %s as %s: %w", u.ID, d, err)
	}
	return nil
}

// syncUpload cuts the upload file to size and flushes it to disk.
func syncUpload(p string, size int64, id string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return notFound(err, "commit upload", id)
	}
	defer f.Close()
	if err := cutTo(f, size, id); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsblob: commit upload %s: %w", id, err)
	}
	return f.Close()
}

// place renames the synced upload file src to the blob path dst and makes
// the rename durable. If a shard directory vanished behind our back (an
// operator cleaning up), it is recreated once.
func (s *Store) place(src, dst string, d digest.Digest) error {
	dirs := []string{s.layout.algorithmDir(d.Algorithm()), s.layout.blobDir(d)}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		for _, dir := range dirs {
			if err = s.ensureDurableDir(dir); err != nil {
				return err
			}
		}
		err = os.Rename(src, dst)
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
		for _, dir := range dirs {
			s.durableDirs.Delete(dir)
		}
	}
	if err != nil {
		return err
	}
	if err := syncDir(s.layout.blobDir(d)); err != nil {
		return err
	}
	// Without this the upload's old name may come back after a crash and
	// linger, since no session refers to it any more.
	return syncDir(s.layout.uploadsDir())
}

// AbortUpload deletes the upload file; a missing one is not an error.
func (s *Store) AbortUpload(ctx context.Context, st blobstore.UploadState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u, p, err := s.decodeState(st)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: abort upload %s: %w", u.ID, err)
	}
	return nil
}
