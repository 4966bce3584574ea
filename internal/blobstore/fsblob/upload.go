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
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
)

// errInvalidState reports an UploadState this store did not produce.
var errInvalidState = errors.New("fsblob: invalid upload state")

// stateVersion 2 lists segments; version 1 (one file per upload, appended
// in place) is no longer accepted.
const stateVersion = 2

// uploadState is the JSON behind blobstore.UploadState. The upload's bytes
// are its segments in order, each cut to the size recorded here; Size is
// their sum, the count of bytes the caller has been told are written.
type uploadState struct {
	V    int       `json:"v"`
	ID   string    `json:"id"`
	Size int64     `json:"size"`
	Segs []segment `json:"segs,omitempty"`
}

// segment is one append's file and the count of bytes it wrote.
type segment struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

func (u uploadState) encode() blobstore.UploadState {
	b, err := json.Marshal(u)
	if err != nil {
		panic(err) // strings and integers cannot fail to marshal
	}
	return b
}

// decodeState parses st strictly and returns it with the upload's
// directory. Every segment name must be valid (so no path built from the
// state leaves the upload's directory), every size positive (an empty
// append makes no segment), no name may repeat, and the sizes must add up.
func (s *Store) decodeState(st blobstore.UploadState) (uploadState, string, error) {
	var u uploadState
	dec := json.NewDecoder(bytes.NewReader(st))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return u, "", fmt.Errorf("%w: %v", errInvalidState, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return u, "", fmt.Errorf("%w: trailing data", errInvalidState)
	}
	if u.V != stateVersion || u.Size < 0 {
		return u, "", fmt.Errorf("%w: version %d, size %d", errInvalidState, u.V, u.Size)
	}
	dir, err := s.layout.uploadDir(u.ID)
	if err != nil {
		return u, "", fmt.Errorf("%w: %w", errInvalidState, err)
	}
	var sum int64
	seen := make(map[string]struct{}, len(u.Segs))
	for _, g := range u.Segs {
		if !validSegmentName(g.Name) {
			return u, "", fmt.Errorf("%w: %w: %q", errInvalidState, errInvalidSegmentName, g.Name)
		}
		if _, dup := seen[g.Name]; dup {
			return u, "", fmt.Errorf("%w: segment %s listed twice", errInvalidState, g.Name)
		}
		seen[g.Name] = struct{}{}
		if g.Size <= 0 || g.Size > u.Size-sum {
			return u, "", fmt.Errorf("%w: segment %s of %d bytes in an upload of %d", errInvalidState, g.Name, g.Size, u.Size)
		}
		sum += g.Size
	}
	if sum != u.Size {
		return u, "", fmt.Errorf("%w: segments hold %d bytes, size is %d", errInvalidState, sum, u.Size)
	}
	return u, dir, nil
}

// CreateUpload creates the upload's empty directory. id must be a
// canonical lowercase UUID; reusing the id of a live upload is an error, so
// two sessions can never share segments.
func (s *Store) CreateUpload(ctx context.Context, id string) (blobstore.UploadState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, err := s.layout.uploadDir(id)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("fsblob: create upload: %w", err)
	}
	return uploadState{V: stateVersion, ID: id}.encode(), nil
}

// AppendUpload writes r into a new segment and returns a state listing it
// after st's segments. It never writes a file another call could write, so
// appends racing from one state each get a state that describes exactly
// their own bytes; the segments of the states nobody records are removed
// with the upload. An empty r creates nothing. The bytes are not fsynced
// here; the commit does that once. On error the segment is removed and st
// stays valid.
func (s *Store) AppendUpload(ctx context.Context, st blobstore.UploadState, offset int64, r io.Reader) (int64, blobstore.UploadState, error) {
	if err := ctx.Err(); err != nil {
		return 0, st, err
	}
	u, dir, err := s.decodeState(st)
	if err != nil {
		return 0, st, err
	}
	if offset != u.Size {
		return 0, st, fmt.Errorf("fsblob: append at %d to upload %s of %d bytes: %w",
			offset, u.ID, u.Size, blobstore.ErrOffsetMismatch)
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	// Read first, so that an empty or failing body creates no file.
	filled, rerr := fill(r, buf)
	if rerr != nil && rerr != io.EOF {
		return 0, st, fmt.Errorf("fsblob: append to upload %s: %w", u.ID, rerr)
	}
	if filled == 0 {
		// Nothing to store, but the upload must still exist.
		if _, err := os.Stat(dir); err != nil {
			return 0, st, notFound(err, "append to upload", u.ID)
		}
		return 0, st, nil
	}
	name, f, err := s.createSegment(u.ID)
	if err != nil {
		return 0, st, notFound(err, "append to upload", u.ID)
	}
	n, err := copyChunks(ctx, f, r, buf, filled, rerr)
	if cerr := f.Close(); err == nil {
		err = cerr // some filesystems report write errors only here
	}
	if err != nil {
		_ = os.Remove(f.Name()) // best effort: else swept with the upload
		return 0, st, fmt.Errorf("fsblob: append to upload %s: %w", u.ID, err)
	}
	u.Size += n
	u.Segs = append(u.Segs, segment{Name: name, Size: n})
	return n, u.encode(), nil
}

// createSegment creates a new, empty segment of upload id, open for
// writing. A missing upload directory (the upload was committed or
// aborted) comes back as fs.ErrNotExist.
func (s *Store) createSegment(id string) (string, *os.File, error) {
	for attempt := 0; ; attempt++ {
		name := newSegmentName()
		p, err := s.layout.segmentPath(id, name)
		if err != nil {
			return "", nil, err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		if errors.Is(err, fs.ErrExist) && attempt < 2 {
			continue // a random name taken: only a broken generator repeats
		}
		if err != nil {
			return "", nil, err
		}
		return name, f, nil
	}
}

// cutTo makes the file f, holding a segment of upload id, exactly size
// bytes long. A longer file was written by something other than the
// append that recorded size (segments are never reused), and the excess
// is dropped; a shorter one lost acknowledged bytes (they are not fsynced
// before commit, so a power failure can do this) and cannot be committed.
func cutTo(f *os.File, size int64, id string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("fsblob: upload %s: %w", id, err)
	}
	switch {
	case fi.Size() < size:
		return fmt.Errorf("fsblob: upload %s: segment holds %d bytes, expected %d: %w",
			id, fi.Size(), size, blobstore.ErrOffsetMismatch)
	case fi.Size() > size:
		if err := f.Truncate(size); err != nil {
			return fmt.Errorf("fsblob: upload %s: %w", id, err)
		}
	}
	return nil
}

// copyChunks writes the first filled bytes of buf, read from r with the
// result rerr, to w, then copies the rest of r through buf, filling it
// before each write so that small reads from a request body become large
// writes, and checking ctx between chunks.
func copyChunks(ctx context.Context, w io.Writer, r io.Reader, buf []byte, filled int, rerr error) (int64, error) {
	var total int64
	for {
		if filled > 0 {
			wn, werr := w.Write(buf[:filled])
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
		if err := ctx.Err(); err != nil {
			return total, err
		}
		filled, rerr = fill(r, buf)
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

// CommitUpload makes the upload the blob d: claim the first segment,
// cut it to its recorded size, append the other segments (a docker push
// sends a layer in one PATCH, so usually there are none and nothing is
// copied), fsync, rename into place and fsync the blob's directory, then
// remove the upload's directory. Renaming over an existing blob is atomic
// and, content addressing being what it is, swaps identical bytes; it also
// repairs a blob damaged outside Berth. A failed commit leaves the upload
// as it was, so it can be committed again.
func (s *Store) CommitUpload(ctx context.Context, st blobstore.UploadState, size int64, d digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u, _, err := s.decodeState(st)
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
	src, undo, err := s.claimFirst(u)
	if err != nil {
		return err
	}
	if err := s.assemble(ctx, src, u); err != nil {
		undo()
		return err
	}
	if err := s.place(src, dst, d); err != nil {
		undo()
		return fmt.Errorf("fsblob: commit upload %s as %s: %w", u.ID, d, err)
	}
	// Best effort: a leftover directory is swept as stale.
	_ = s.removeUpload(u.ID)
	return nil
}

// claimFirst returns the file that is to become the blob, out of reach of
// any other commit: the first segment renamed to a fresh name only this
// call knows, or a new empty segment for an upload without any. States
// forked by racing appends share their first segments, and two nodes may
// complete one upload at once; rename is atomic, so exactly one commit
// gets the segment and may cut and extend it, and the others find it gone.
// undo gives a claimed segment back, cut to its recorded size again.
func (s *Store) claimFirst(u uploadState) (string, func(), error) {
	if len(u.Segs) == 0 {
		_, f, err := s.createSegment(u.ID)
		if err != nil {
			return "", nil, notFound(err, "commit upload", u.ID)
		}
		p := f.Name()
		if err := f.Close(); err != nil {
			_ = os.Remove(p)
			return "", nil, fmt.Errorf("fsblob: commit upload %s: %w", u.ID, err)
		}
		return p, func() { _ = os.Remove(p) }, nil
	}
	first := u.Segs[0]
	orig, err := s.layout.segmentPath(u.ID, first.Name)
	if err != nil {
		return "", nil, err
	}
	claimed, err := s.layout.segmentPath(u.ID, newSegmentName())
	if err != nil {
		return "", nil, err
	}
	if err := os.Rename(orig, claimed); err != nil {
		return "", nil, s.segmentError(err, u, first.Name, "commit upload")
	}
	undo := func() {
		if fi, err := os.Stat(claimed); err == nil && fi.Size() > first.Size {
			_ = os.Truncate(claimed, first.Size)
		}
		_ = os.Rename(claimed, orig)
	}
	return claimed, undo, nil
}

// assemble makes the claimed file p hold exactly the upload's bytes and
// flushes it: the first segment's bytes are already there (cut to their
// recorded size), the others are appended in order, each limited to its
// recorded size.
func (s *Store) assemble(ctx context.Context, p string, u uploadState) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("fsblob: commit upload %s: %w", u.ID, err)
	}
	defer f.Close()
	var first int64
	if len(u.Segs) > 0 {
		first = u.Segs[0].Size
	}
	if err := cutTo(f, first, u.ID); err != nil {
		return err
	}
	if len(u.Segs) > 1 {
		if _, err := f.Seek(first, io.SeekStart); err != nil {
			return fmt.Errorf("fsblob: commit upload %s: %w", u.ID, err)
		}
		for _, g := range u.Segs[1:] {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.appendSegment(f, u, g); err != nil {
				return err
			}
		}
	}
	// The blob's ModTime is its commit time, whenever its bytes arrived:
	// garbage collection's grace for bytes without metadata counts from it.
	now := time.Now()
	if err := os.Chtimes(p, now, now); err != nil {
		return fmt.Errorf("fsblob: commit upload %s: %w", u.ID, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsblob: commit upload %s: %w", u.ID, err)
	}
	return f.Close()
}

// appendSegment copies the recorded bytes of segment g to dst at its
// offset. The copy goes from *os.File to *os.File through an
// io.LimitedReader, which Linux serves with copy_file_range: the bytes do
// not pass through this process.
func (s *Store) appendSegment(dst *os.File, u uploadState, g segment) error {
	p, err := s.layout.segmentPath(u.ID, g.Name)
	if err != nil {
		return err
	}
	src, err := os.Open(p)
	if err != nil {
		return s.segmentError(err, u, g.Name, "commit upload")
	}
	defer src.Close()
	n, err := io.Copy(dst, io.LimitReader(src, g.Size))
	if err != nil {
		return fmt.Errorf("fsblob: commit upload %s: segment %s: %w", u.ID, g.Name, err)
	}
	if n < g.Size {
		return fmt.Errorf("fsblob: commit upload %s: segment %s holds %d bytes, expected %d: %w",
			u.ID, g.Name, n, g.Size, blobstore.ErrOffsetMismatch)
	}
	return nil
}

// segmentError explains a segment that cannot be opened. With the
// upload's directory gone too, the upload was committed or aborted:
// ErrNotFound. Otherwise recorded bytes are missing, as when a segment is
// shorter than recorded: ErrOffsetMismatch. (A crash can lose a segment
// that was never fsynced, and a concurrent commit of a state that shares
// it takes it away.)
func (s *Store) segmentError(err error, u uploadState, name, op string) error {
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: %s %s: %w", op, u.ID, err)
	}
	dir, derr := s.layout.uploadDir(u.ID)
	if derr != nil {
		return derr
	}
	if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
		return notFound(serr, op, u.ID)
	}
	return fmt.Errorf("fsblob: %s %s: segment %s is missing: %w", op, u.ID, name, blobstore.ErrOffsetMismatch)
}

// place renames the synced file src to the blob path dst and makes the
// rename durable by fsyncing the blob's directory. If a shard directory
// vanished behind our back (an operator cleaning up), it is recreated once.
// The upload's directory is not fsynced: if a crash brings the old name
// back, it is garbage in an upload nobody resumes, and RemoveStaleUploads
// deletes it.
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
	return syncDir(s.layout.blobDir(d))
}

// AbortUpload deletes the upload's directory with all its segments; a
// missing one is not an error.
func (s *Store) AbortUpload(ctx context.Context, st blobstore.UploadState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u, _, err := s.decodeState(st)
	if err != nil {
		return err
	}
	if err := s.removeUpload(u.ID); err != nil {
		return fmt.Errorf("fsblob: abort upload %s: %w", u.ID, err)
	}
	return nil
}

// removeUpload deletes the directory of upload id with every segment in
// it: those of the caller's state and those of appends whose state was
// never recorded. Files that are not segments are left alone (and keep
// the directory). A missing directory is not an error.
func (s *Store) removeUpload(id string) error {
	dir, err := s.layout.uploadDir(id)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !validSegmentName(e.Name()) {
				continue
			}
			p, err := s.layout.segmentPath(id, e.Name())
			if err != nil {
				return err
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		err = os.Remove(dir)
		switch {
		case err == nil, errors.Is(err, fs.ErrNotExist):
			return nil
		case errors.Is(err, fs.ErrExist) && attempt < 2:
			continue // ENOTEMPTY: an append added a segment meanwhile
		default:
			return err
		}
	}
}
