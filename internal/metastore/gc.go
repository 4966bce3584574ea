package metastore

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

// ErrBlobDeleting reports a blob that garbage collection is deleting, or
// whose bytes it has just deleted: it cannot be linked now. The condition
// passes within moments (the collection finishes the blob), after which an
// upload stores the blob afresh, so callers answer "retry".
var ErrBlobDeleting = errors.New("metastore: blob is being deleted by garbage collection")

// BlobStored reports whether the blob store holds d's bytes (the blob
// store's Stat). LinkBlob and FinishUpload call it, inside their
// transaction, before they create the record of a blob not yet recorded;
// see BlobIndex.LinkBlob.
type BlobStored func(ctx context.Context, d digest.Digest) (bool, error)

// BlobLink is one repository's link to a blob.
type BlobLink struct {
	RepositoryID int64
	Digest       digest.Digest
	Size         int64 // the blob's size
	// LinkedAt is when the link was last asserted (an upload, a mount, a
	// refresh); garbage collection's grace period counts from it.
	LinkedAt time.Time
}

// CollectableBlob is a blob record garbage collection may delete.
type CollectableBlob struct {
	Digest digest.Digest
	Size   int64
	// DeletingAt is when a collection marked the blob for deletion; zero
	// for a blob not marked. A mark is also the token that lets only its
	// own collection remove the record (RemoveBlobRecords).
	DeletingAt time.Time
}

// GCCutoffs are the times one garbage-collection pass decides by.
type GCCutoffs struct {
	// Before: links last asserted before it, and blobs first recorded
	// before it, may be collected (the pass's start less the grace period).
	Before time.Time
	// StaleMark: marks older than it belong to a collection that died
	// mid-delete; the pass takes those blobs over.
	StaleMark time.Time
}

// GCStore is the metadata side of online garbage collection. The protocol
// these methods implement, and why it cannot lose a blob a push relies on,
// is documented in package worker/gc. Listings page in key order and are
// bounded by limit (positive); every removal re-checks its conditions in
// its own transaction, so what a listing returned may since have changed.
type GCStore interface {
	// StatBlobLink returns the link of d to the repository, with the
	// blob's size; ErrNotFound when d is not linked there.
	StatBlobLink(ctx context.Context, repoID int64, d digest.Digest) (BlobLink, error)
	// RefreshBlobLink sets the link's LinkedAt to now; ErrNotFound when d
	// is not (or no longer) linked to the repository.
	RefreshBlobLink(ctx context.Context, repoID int64, d digest.Digest) error

	// CollectableLinks lists links after `after` in (RepositoryID, Digest)
	// order that were last asserted before `before` and that no manifest of
	// their repository references.
	CollectableLinks(ctx context.Context, before time.Time, after BlobLink, limit int) ([]BlobLink, error)
	// RemoveLinks removes, in one transaction, those of links that are
	// still collectable at `before` and returns them.
	RemoveLinks(ctx context.Context, links []BlobLink, before time.Time) ([]BlobLink, error)

	// CollectableBlobs lists, after digest `after` in byte order, the blob
	// records a pass at c would delete: records first made before
	// c.Before, not marked, whose links (if any) are all collectable at
	// c.Before; and records marked before c.StaleMark.
	CollectableBlobs(ctx context.Context, c GCCutoffs, after digest.Digest, limit int) ([]CollectableBlob, error)
	// MarkBlobsDeleting marks for deletion, in one transaction, those of
	// digests whose record was made before c.Before, is not marked and has
	// no link at all, and takes over those marked before c.StaleMark. It
	// returns the records it marked, each with its new mark.
	MarkBlobsDeleting(ctx context.Context, digests []digest.Digest, c GCCutoffs) ([]CollectableBlob, error)
	// UnrecordedBlobs returns those of digests (at most 1000) that have no
	// record at all, marked or not.
	UnrecordedBlobs(ctx context.Context, digests []digest.Digest) ([]digest.Digest, error)
	// MarkOrphansDeleting records, in one transaction, each of blobs that
	// still has no record as marked for deletion (an orphan's bytes are
	// about to be deleted) and returns the records it made.
	MarkOrphansDeleting(ctx context.Context, blobs []CollectableBlob) ([]CollectableBlob, error)
	// RemoveBlobRecords removes, in one transaction, the records of blobs
	// that still carry the mark given (DeletingAt) and reports how many.
	RemoveBlobRecords(ctx context.Context, blobs []CollectableBlob) (int, error)
}
