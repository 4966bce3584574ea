package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/metastore"
)

// BlobContent is an opened blob: either Body to stream, or RedirectURL
// when the backend serves the bytes itself.
type BlobContent struct {
	Digest      digest.Digest
	Size        int64
	Body        blobstore.Blob // nil when RedirectURL is set
	RedirectURL string
}

// blobSize authorizes action and returns the size of a blob linked to r.
// With assert, the lookup is an existence check that a push acts on (see
// assertedBlob).
func (s *Service) blobSize(ctx context.Context, who auth.Principal, action string, r RepoRef, dgst string, assert bool) (digest.Digest, int64, error) {
	d, err := parseDigest(dgst)
	if err != nil {
		return "", 0, err
	}
	repo, err := s.repository(ctx, who, action, r, false)
	if err != nil {
		return "", 0, err
	}
	var size int64
	if assert {
		size, err = s.assertedBlob(ctx, repo.ID, d)
	} else {
		size, err = s.meta.BlobSize(ctx, repo.ID, d)
	}
	if errors.Is(err, metastore.ErrNotFound) {
		return "", 0, &Error{Kind: ErrBlobUnknown, Message: fmt.Sprintf("blob %s not found in repository %s", d, r.Name),
			Detail: map[string]string{"digest": d.String()}}
	}
	if err != nil {
		return "", 0, fmt.Errorf("look up blob: %w", err)
	}
	return d, size, nil
}

// assertedBlob returns the size of d linked to the repository, for an
// existence check: a push that finds a blob present skips uploading it and
// puts its manifest later, and garbage collection removes links no
// manifest references once they are older than its grace period. So a
// link older than half the grace period is refreshed before the answer,
// and the refresh decides: a link removed meanwhile is ErrNotFound (the
// client uploads the blob). A younger link stays at least half the grace
// period more, without a write on this hot path.
func (s *Service) assertedBlob(ctx context.Context, repoID int64, d digest.Digest) (int64, error) {
	l, err := s.meta.StatBlobLink(ctx, repoID, d)
	if err != nil {
		return 0, err
	}
	if g := s.opts.GCGrace; g > 0 && s.now().Sub(l.LinkedAt) >= g/2 {
		if err := s.meta.RefreshBlobLink(ctx, repoID, d); err != nil {
			return 0, err
		}
	}
	return l.Size, nil
}

// blobStored reports whether the blob store holds d: the check LinkBlob
// and FinishUpload make, inside their transaction, before recording a blob
// that has no record yet.
func (s *Service) blobStored(ctx context.Context, d digest.Digest) (bool, error) {
	_, err := s.blobs.Stat(ctx, d)
	if errors.Is(err, blobstore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// collecting is the answer to a blob being deleted by garbage collection
// as it is stored or linked: a retryable error.
func collecting(d digest.Digest) error {
	return &Error{Kind: ErrUnavailable,
		Message: fmt.Sprintf("blob %s is being deleted by garbage collection; retry in a moment", d),
		Detail:  map[string]string{"digest": d.String()}}
}

// StatBlob returns a blob's size if it exists in r. A push acts on the
// answer, so it is an existence check that keeps the link (assertedBlob).
func (s *Service) StatBlob(ctx context.Context, who auth.Principal, r RepoRef, dgst string) (digest.Digest, int64, error) {
	return s.blobSize(ctx, who, ActionBatchCheckLayerAvailability, r, dgst, true)
}

// OpenBlob opens a blob of r for download; the caller closes Body.
// allowRedirect says the caller can send the client elsewhere: then, with
// BlobRedirects on and a backend that serves bytes itself, the answer is
// a RedirectURL instead of a Body.
func (s *Service) OpenBlob(ctx context.Context, who auth.Principal, r RepoRef, dgst string, allowRedirect bool) (BlobContent, error) {
	d, size, err := s.blobSize(ctx, who, ActionGetDownloadURLForLayer, r, dgst, false)
	if err != nil {
		return BlobContent{}, err
	}
	if allowRedirect {
		u, ok, err := s.redirectURL(ctx, d)
		if err != nil {
			return BlobContent{}, err
		}
		if ok {
			return BlobContent{Digest: d, Size: size, RedirectURL: u}, nil
		}
	}
	b, err := s.blobs.Open(ctx, d)
	if errors.Is(err, blobstore.ErrNotFound) {
		// Linked in SQL but absent from storage: the store lost data.
		s.log.ErrorContext(ctx, "linked blob missing from blob store", "digest", d)
		return BlobContent{}, fmt.Errorf("blob %s missing from storage: %w", d, err)
	}
	if err != nil {
		return BlobContent{}, fmt.Errorf("open blob: %w", err)
	}
	return BlobContent{Digest: d, Size: size, Body: b}, nil
}

// redirectURL is a URL from which the backend serves blob d, and true,
// when redirects are on and the backend can; else "", false.
func (s *Service) redirectURL(ctx context.Context, d digest.Digest) (string, bool, error) {
	rd, ok := s.blobs.(blobstore.Redirector)
	if !ok || !s.opts.BlobRedirects {
		return "", false, nil
	}
	u, err := rd.RedirectURL(ctx, d)
	if err != nil {
		return "", false, fmt.Errorf("redirect blob: %w", err)
	}
	return u, true, nil
}

// DeleteBlob removes a blob from r. The bytes are reclaimed later by
// garbage collection once no repository links them.
func (s *Service) DeleteBlob(ctx context.Context, who auth.Principal, r RepoRef, dgst string) error {
	d, err := parseDigest(dgst)
	if err != nil {
		return err
	}
	repo, err := s.repository(ctx, who, ActionBatchDeleteImage, r, false)
	if err != nil {
		return err
	}
	err = s.meta.UnlinkBlob(ctx, repo.ID, d)
	if errors.Is(err, metastore.ErrNotFound) {
		return &Error{Kind: ErrBlobUnknown, Message: fmt.Sprintf("blob %s not found in repository %s", d, r.Name),
			Detail: map[string]string{"digest": d.String()}}
	}
	return err
}

// MountBlob links blob dgst into target without copying bytes. With from,
// the blob must exist in from and the caller must be allowed to read it;
// without from, any repository of the target's account that holds it
// serves. It reports false (and no error) when the blob cannot be mounted,
// in which case the client uploads it instead.
func (s *Service) MountBlob(ctx context.Context, who auth.Principal, target RepoRef, from *RepoRef, dgst string) (bool, error) {
	d, err := parseDigest(dgst)
	if err != nil {
		return false, err
	}
	repo, err := s.repository(ctx, who, ActionInitiateLayerUpload, target, true)
	if err != nil {
		return false, err
	}
	size, ok, err := s.mountSource(ctx, who, target, from, d)
	if err != nil || !ok {
		return false, err
	}
	err = s.meta.LinkBlob(ctx, repo.ID, d, size, s.blobStored)
	if errors.Is(err, metastore.ErrBlobDeleting) {
		return false, nil // garbage collection is taking it: upload instead
	}
	if err != nil {
		return false, fmt.Errorf("link mounted blob: %w", err)
	}
	return true, nil
}

// mountSource finds the size of d where the caller may mount it from: the
// named source, or, without one, any repository of the target's account
// that holds d and that the caller may read. Denials and absences are not
// errors: they mean "upload instead", and reveal nothing about
// repositories the caller cannot read.
func (s *Service) mountSource(ctx context.Context, who auth.Principal, target RepoRef, from *RepoRef, d digest.Digest) (int64, bool, error) {
	sources := []RepoRef{}
	if from != nil {
		sources = append(sources, *from)
	} else {
		names, err := s.meta.BlobHolders(ctx, target.AccountID, d, 20)
		if err != nil {
			return 0, false, fmt.Errorf("find blob holders: %w", err)
		}
		for _, n := range names {
			sources = append(sources, RepoRef{AccountID: target.AccountID, Name: n})
		}
	}
	for _, src := range sources {
		_, size, err := s.blobSize(ctx, who, ActionGetDownloadURLForLayer, src, d.String(), false)
		var de *Error
		switch {
		case err == nil:
			return size, true, nil
		case errors.As(err, &de):
			continue // not there, or not readable by the caller
		default:
			return 0, false, err
		}
	}
	return 0, false, nil
}
