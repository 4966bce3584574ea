package registry

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/oci"
)

// ECR's layer-part quotas (spec §3.3).
const (
	// MinLayerPartSize is the least size of every layer part but the last.
	MinLayerPartSize = 5 << 20
	// MaxUploadParts bounds the appends to one upload.
	MaxUploadParts = 4200
)

// UploadStatus is what a client may know about an upload session.
type UploadStatus struct {
	ID     string
	Offset int64 // bytes received
}

// StartUpload opens a resumable upload session in r.
func (s *Service) StartUpload(ctx context.Context, who auth.Principal, r RepoRef) (UploadStatus, error) {
	repo, err := s.repository(ctx, who, ActionInitiateLayerUpload, r, true)
	if err != nil {
		return UploadStatus{}, err
	}
	id := uuid.NewString()
	st, err := s.blobs.CreateUpload(ctx, id)
	if err != nil {
		return UploadStatus{}, fmt.Errorf("create upload: %w", err)
	}
	h := digest.SHA256.Hash()
	state, err := marshalHash(h)
	if err != nil {
		return UploadStatus{}, err
	}
	now := s.now()
	u := metastore.Upload{
		ID: id, RepositoryID: repo.ID, HashState: state, Algorithm: string(digest.SHA256),
		StoreState: st, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.meta.CreateUpload(ctx, u); err != nil {
		_ = s.blobs.AbortUpload(ctx, st)
		return UploadStatus{}, fmt.Errorf("record upload: %w", err)
	}
	return UploadStatus{ID: id}, nil
}

// upload authorizes action and loads upload id of repository r.
func (s *Service) upload(ctx context.Context, who auth.Principal, action string, r RepoRef, id string) (metastore.Upload, error) {
	repo, err := s.repository(ctx, who, action, r, false)
	if err != nil {
		return metastore.Upload{}, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return metastore.Upload{}, errorf(ErrUploadUnknown, "upload %q is not a valid upload id", id)
	}
	u, err := s.meta.GetUpload(ctx, repo.ID, id)
	if errors.Is(err, metastore.ErrNotFound) {
		return metastore.Upload{}, errorf(ErrUploadUnknown, "upload %s not found in repository %s", id, r.Name)
	}
	if err != nil {
		return metastore.Upload{}, fmt.Errorf("get upload: %w", err)
	}
	return u, nil
}

// GetUpload reports an upload's progress.
func (s *Service) GetUpload(ctx context.Context, who auth.Principal, r RepoRef, id string) (UploadStatus, error) {
	u, err := s.upload(ctx, who, ActionUploadLayerPart, r, id)
	if err != nil {
		return UploadStatus{}, err
	}
	return UploadStatus{ID: u.ID, Offset: u.Offset}, nil
}

// AppendUpload adds a chunk. start is the chunk's first byte offset from
// Content-Range, or -1 for a streamed chunk appended at the end; length is
// the declared size, or -1 when unknown.
func (s *Service) AppendUpload(ctx context.Context, who auth.Principal, r RepoRef, id string, start, length int64, body io.Reader) (UploadStatus, error) {
	defer s.uplock.lock(id)()
	u, err := s.upload(ctx, who, ActionUploadLayerPart, r, id)
	if err != nil {
		return UploadStatus{}, err
	}
	if start >= 0 && start != u.Offset {
		return UploadStatus{ID: id, Offset: u.Offset}, rangeMismatch(start, u.Offset)
	}
	if err := s.appendTo(ctx, &u, length, body, true); err != nil {
		return UploadStatus{ID: id, Offset: u.Offset}, err
	}
	return UploadStatus{ID: id, Offset: u.Offset}, nil
}

// appendTo streams body into the upload, hashing in the same pass, and
// with record stores the new offset and hash state; a final chunk that the
// same request completes is not recorded (the session ends with it). On
// failure u is unchanged.
func (s *Service) appendTo(ctx context.Context, u *metastore.Upload, length int64, body io.Reader, record bool) error {
	if length >= 0 && u.Offset+length > s.opts.MaxBlobSize {
		return errorf(ErrSizeInvalid, "blob would exceed the maximum size of %d bytes", s.opts.MaxBlobSize)
	}
	if u.Parts >= MaxUploadParts {
		return errorf(ErrLimitExceeded, "the upload already has %d parts, the most one upload may have", MaxUploadParts)
	}
	h, err := unmarshalHash(digest.Algorithm(u.Algorithm), u.HashState)
	if err != nil {
		return err
	}
	limit := s.opts.MaxBlobSize - u.Offset
	src := &limitedReader{r: body, n: limit}
	n, st, err := s.blobs.AppendUpload(ctx, u.StoreState, u.Offset, io.TeeReader(src, h))
	if src.exceeded {
		return errorf(ErrSizeInvalid, "blob exceeds the maximum size of %d bytes", s.opts.MaxBlobSize)
	}
	if err != nil && src.bodyErr != nil {
		// Nothing was recorded: the upload resumes from its last offset.
		// The read error is not quoted: it names the server's own address.
		return errorf(ErrUploadInvalid, "the request body ended before it was complete; the upload is still at offset %d",
			u.Offset)
	}
	if err != nil {
		return fmt.Errorf("append to upload: %w", err)
	}
	if length >= 0 && n != length {
		return errorf(ErrSizeInvalid, "received %d bytes but Content-Length was %d", n, length)
	}
	state, err := marshalHash(h)
	if err != nil {
		return err
	}
	next := *u
	next.Offset, next.HashState, next.StoreState, next.UpdatedAt = u.Offset+n, state, st, s.now()
	// A part followed by another was not the last: remember if it was small.
	next.SmallPart = u.SmallPart || u.Parts > 0 && u.LastPartSize < MinLayerPartSize
	next.Parts, next.LastPartSize = u.Parts+1, n
	if !record {
		*u = next
		return nil
	}
	if err := s.meta.UpdateUpload(ctx, next, u.Offset); err != nil {
		if errors.Is(err, metastore.ErrConflict) {
			return errorf(ErrRangeInvalid, "upload %s was modified concurrently", u.ID)
		}
		return fmt.Errorf("record upload progress: %w", err)
	}
	*u = next
	return nil
}

// CompleteUpload appends a final chunk (length 0 for none), verifies the
// digest and makes the blob visible in the repository. A mismatch discards
// the upload and stores nothing.
// start and length describe the final chunk as for AppendUpload.
func (s *Service) CompleteUpload(ctx context.Context, who auth.Principal, r RepoRef, id, dgst string, start, length int64, body io.Reader) (digest.Digest, error) {
	want, err := parseDigest(dgst)
	if err != nil {
		return "", err
	}
	defer s.uplock.lock(id)()
	u, err := s.upload(ctx, who, ActionCompleteLayerUpload, r, id)
	if err != nil {
		return "", err
	}
	if start >= 0 && start != u.Offset {
		return "", rangeMismatch(start, u.Offset)
	}
	if length != 0 {
		if err := s.appendTo(ctx, &u, length, body, false); err != nil {
			return "", err
		}
	}
	got, err := s.uploadDigest(ctx, u, want.Algorithm())
	if err != nil {
		return "", err
	}
	if got != want {
		s.discardUpload(ctx, u)
		return "", digestMismatch(want, got)
	}
	// The bytes become durable first; the link (with the session's end)
	// is written only then, so a visible blob is always complete.
	if err := s.blobs.CommitUpload(ctx, u.StoreState, u.Offset, want); err != nil {
		return "", fmt.Errorf("commit blob: %w", err)
	}
	err = s.meta.FinishUpload(ctx, u.ID, u.RepositoryID, want, u.Offset, s.blobStored)
	if errors.Is(err, metastore.ErrBlobDeleting) {
		s.discardUpload(ctx, u) // its bytes went into the blob store: the session is spent
		return "", collecting(want)
	}
	if err != nil {
		return "", fmt.Errorf("link blob: %w", err)
	}
	return want, nil
}

// uploadDigest returns the upload's digest in algorithm alg: from the
// running hash when it matches, else by reading the bytes back (rare: a
// client that announces sha512 only when completing).
func (s *Service) uploadDigest(ctx context.Context, u metastore.Upload, alg digest.Algorithm) (digest.Digest, error) {
	if string(alg) == u.Algorithm {
		h, err := unmarshalHash(alg, u.HashState)
		if err != nil {
			return "", err
		}
		return digest.NewDigest(alg, h), nil
	}
	rc, err := s.blobs.ReadUpload(ctx, u.StoreState, u.Offset)
	if err != nil {
		return "", fmt.Errorf("read back upload: %w", err)
	}
	defer rc.Close()
	d, err := alg.FromReader(rc)
	if err != nil {
		return "", fmt.Errorf("hash upload: %w", err)
	}
	return d, nil
}

// commitBlob makes size bytes of an upload durable under d and links the
// blob to the repository; the link is written only after the bytes are
// durable, so a visible blob is always complete.
func (s *Service) commitBlob(ctx context.Context, repoID int64, st blobstore.UploadState, size int64, d digest.Digest) error {
	if err := s.blobs.CommitUpload(ctx, st, size, d); err != nil {
		return fmt.Errorf("commit blob: %w", err)
	}
	err := s.meta.LinkBlob(ctx, repoID, d, size, s.blobStored)
	if errors.Is(err, metastore.ErrBlobDeleting) {
		return collecting(d)
	}
	if err != nil {
		return fmt.Errorf("link blob: %w", err)
	}
	return nil
}

// CancelUpload discards an upload session and its bytes.
func (s *Service) CancelUpload(ctx context.Context, who auth.Principal, r RepoRef, id string) error {
	defer s.uplock.lock(id)()
	u, err := s.upload(ctx, who, ActionUploadLayerPart, r, id)
	if err != nil {
		return err
	}
	s.discardUpload(ctx, u)
	return nil
}

func (s *Service) discardUpload(ctx context.Context, u metastore.Upload) {
	if err := s.blobs.AbortUpload(ctx, u.StoreState); err != nil {
		s.log.WarnContext(ctx, "abort upload", "upload", u.ID, "err", err)
	}
	if err := s.meta.DeleteUpload(ctx, u.ID); err != nil {
		s.log.WarnContext(ctx, "delete upload", "upload", u.ID, "err", err)
	}
}

// PutBlob stores a whole blob in one request (monolithic upload).
func (s *Service) PutBlob(ctx context.Context, who auth.Principal, r RepoRef, dgst string, length int64, body io.Reader) (digest.Digest, error) {
	want, err := parseDigest(dgst)
	if err != nil {
		return "", err
	}
	if err := validateName(r); err != nil {
		return "", err
	}
	repo, exists, err := s.pushTarget(ctx, who, ActionInitiateLayerUpload, r)
	if err != nil {
		return "", err
	}
	if err := s.authorize(ctx, who, ActionCompleteLayerUpload, r); err != nil {
		return "", err
	}
	if length > s.opts.MaxBlobSize {
		return "", errorf(ErrSizeInvalid, "blob exceeds the maximum size of %d bytes", s.opts.MaxBlobSize)
	}
	st, err := s.blobs.CreateUpload(ctx, uuid.NewString())
	if err != nil {
		return "", fmt.Errorf("create upload: %w", err)
	}
	h := want.Algorithm().Hash()
	src := &limitedReader{r: body, n: s.opts.MaxBlobSize}
	n, st, err := s.blobs.AppendUpload(ctx, st, 0, io.TeeReader(src, h))
	switch {
	case src.exceeded:
		err = errorf(ErrSizeInvalid, "blob exceeds the maximum size of %d bytes", s.opts.MaxBlobSize)
	case err != nil && src.bodyErr != nil:
		err = errorf(ErrUploadInvalid, "the request body ended before it was complete")
	case err != nil:
		err = fmt.Errorf("write blob: %w", err)
	case length >= 0 && n != length:
		err = errorf(ErrSizeInvalid, "received %d bytes but Content-Length was %d", n, length)
	case digest.NewDigest(want.Algorithm(), h) != want:
		err = digestMismatch(want, digest.NewDigest(want.Algorithm(), h))
	}
	if err == nil && !exists { // only a verified blob may create a repository on push
		repo, err = s.repository(ctx, who, ActionInitiateLayerUpload, r, true)
	}
	if err != nil {
		_ = s.blobs.AbortUpload(ctx, st)
		return "", err
	}
	return want, s.commitBlob(ctx, repo.ID, st, n, want)
}

// ExpireUploads removes upload sessions idle for longer than UploadExpiry,
// with their bytes, and reports how many it removed. Backends that can hold
// upload bytes with no session (after a crash) are swept too, an hour later
// than sessions expire so a session is always expired before its bytes go.
func (s *Service) ExpireUploads(ctx context.Context) (int, error) {
	before := s.now().Add(-s.opts.UploadExpiry)
	removed, err := s.expireSessions(ctx, before)
	s.opts.Metrics.expired(removed, 0)
	if err != nil {
		return removed, err
	}
	if sw, ok := s.blobs.(blobstore.StaleUploadSweeper); ok {
		n, err := sw.RemoveStaleUploads(ctx, before.Add(-time.Hour))
		s.opts.Metrics.expired(0, n)
		if err != nil {
			return removed, fmt.Errorf("sweep stale uploads: %w", err)
		}
		if n > 0 {
			s.log.InfoContext(ctx, "removed upload bytes without a session", "count", n)
		}
	}
	return removed, nil
}

func (s *Service) expireSessions(ctx context.Context, before time.Time) (int, error) {
	removed := 0
	for {
		batch, err := s.meta.ExpiredUploads(ctx, before, 100)
		if err != nil {
			return removed, fmt.Errorf("list expired uploads: %w", err)
		}
		for _, u := range batch {
			unlock := s.uplock.lock(u.ID)
			s.discardUpload(ctx, u)
			unlock()
		}
		removed += len(batch)
		if len(batch) < 100 {
			return removed, nil
		}
	}
}

func rangeMismatch(start, offset int64) error {
	return &Error{Kind: ErrRangeInvalid,
		Message: fmt.Sprintf("chunk starts at byte %d but the upload has %d bytes; send the next chunk from byte %d",
			start, offset, offset),
		Detail: map[string]int64{"offset": offset}}
}

func parseDigest(s string) (digest.Digest, error) {
	d, err := oci.ParseDigest(s)
	if err != nil {
		return "", &Error{Kind: ErrDigestInvalid, Message: err.Error(), Detail: map[string]string{"digest": s}}
	}
	return d, nil
}

func digestMismatch(want, got digest.Digest) error {
	return &Error{Kind: ErrDigestInvalid,
		Message: fmt.Sprintf("provided digest %s does not match the content's digest %s; nothing was stored", want, got),
		Detail:  map[string]string{"provided": want.String(), "computed": got.String()}}
}

func marshalHash(h hash.Hash) ([]byte, error) {
	m, ok := h.(encoding.BinaryMarshaler)
	if !ok {
		return nil, errors.New("hash state cannot be saved")
	}
	return m.MarshalBinary()
}

func unmarshalHash(alg digest.Algorithm, state []byte) (hash.Hash, error) {
	if !alg.Available() {
		return nil, fmt.Errorf("upload uses unavailable digest algorithm %q", alg)
	}
	h := alg.Hash()
	u, ok := h.(encoding.BinaryUnmarshaler)
	if !ok {
		return nil, errors.New("hash state cannot be restored")
	}
	if err := u.UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("restore hash state: %w", err)
	}
	return h, nil
}

// limitedReader reads at most n bytes and notes whether r had more.
type limitedReader struct {
	r        io.Reader
	n        int64
	exceeded bool
	// bodyErr is the request body's own failure (the client went away
	// mid-body, a malformed chunked encoding): the client's fault, not the
	// store's, whatever error the store wraps it in.
	bodyErr error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 { // at the limit: any further byte is one too many
		var one [1]byte
		for {
			k, err := l.r.Read(one[:])
			if k > 0 {
				l.exceeded = true
				return 0, errors.New("blob too large")
			}
			if err != nil {
				return 0, l.note(err)
			}
		}
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, l.note(err)
}

func (l *limitedReader) note(err error) error {
	if err != nil && err != io.EOF && l.bodyErr == nil {
		l.bodyErr = err
	}
	return err
}
