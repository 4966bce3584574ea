// Package blobstore defines the port through which Berth keeps blob bytes.
//
// A Store holds immutable, content-addressed blobs and the bytes of uploads
// still in progress. It never interprets content and never computes digests:
// the registry service hashes in the same pass as the write and tells the
// store under which digest to commit. Everything the store needs to resume an
// upload is returned to the caller as an opaque UploadState that the caller
// persists in the metadata database, so an upload can continue on any node
// that shares the backend.
//
// Implementations: fsblob (filesystem), s3blob (S3 API). Both run the
// conformance suite in blobtest.
package blobstore

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// ErrNotFound reports that no committed blob or upload exists under the key.
var ErrNotFound = errors.New("blobstore: not found")

// ErrOffsetMismatch reports an append whose offset is not the upload's size.
var ErrOffsetMismatch = errors.New("blobstore: offset does not match upload size")

// UploadState is the backend's opaque resume token for one upload. Callers
// store it verbatim and pass the latest one back on every call.
type UploadState []byte

// Blob is an open committed blob. The filesystem backend returns *os.File so
// that net/http can use sendfile.
type Blob interface {
	io.ReadSeekCloser
}

// BlobInfo describes a committed blob, as Walk reports it.
type BlobInfo struct {
	Digest digest.Digest
	Size   int64
	// ModTime is when the blob was last committed: CommitUpload sets it
	// (also when it commits onto an existing blob), to the backend's
	// timestamp precision. Garbage collection leaves bytes without
	// metadata alone until they are older than its grace period, so a
	// commit whose metadata is still being written is not disturbed.
	ModTime time.Time
}

// Store is the blob port. All methods are safe for concurrent use, also on
// one upload: the service serializes an upload's calls on one node only, so
// two nodes holding the same recorded state may append at its offset at
// once. Each such append returns its own state, and reading or committing
// a state yields exactly the bytes of the appends that produced it,
// whichever of them the caller records (blobtest checks this).
type Store interface {
	// Stat returns the size of a committed blob, or ErrNotFound.
	Stat(ctx context.Context, d digest.Digest) (int64, error)
	// Open returns a reader over a committed blob, or ErrNotFound.
	Open(ctx context.Context, d digest.Digest) (Blob, error)
	// Delete removes a committed blob; deleting a missing blob is not an error.
	Delete(ctx context.Context, d digest.Digest) error
	// Walk calls fn for every committed blob (order unspecified) until fn
	// returns an error, which Walk then returns. A blob deleted or
	// committed while the walk runs may or may not be reported.
	Walk(ctx context.Context, fn func(b BlobInfo) error) error

	// CreateUpload reserves storage for a new upload.
	CreateUpload(ctx context.Context, id string) (UploadState, error)
	// AppendUpload writes r at offset, which must equal the bytes already
	// written (else ErrOffsetMismatch), and returns the count written and the
	// new state. On error the upload keeps its previous content and state.
	AppendUpload(ctx context.Context, st UploadState, offset int64, r io.Reader) (int64, UploadState, error)
	// CommitUpload makes the upload's size bytes durable and visible under d,
	// then releases the upload. Committing onto an existing blob is allowed
	// (content addressing makes it identical) and leaves one copy; either
	// way the blob's ModTime becomes the time of this commit.
	CommitUpload(ctx context.Context, st UploadState, size int64, d digest.Digest) error
	// ReadUpload reads back the first size bytes of an upload, for a client
	// that names the digest algorithm only when completing.
	ReadUpload(ctx context.Context, st UploadState, size int64) (io.ReadCloser, error)
	// AbortUpload discards an upload; aborting a missing upload is not an error.
	AbortUpload(ctx context.Context, st UploadState) error
}

// StaleUploadSweeper is an optional ability: a backend whose uploads can
// outlive their metadata (a crash between creating an upload and recording
// it) removes uploads untouched since before, and says how many it removed.
type StaleUploadSweeper interface {
	RemoveStaleUploads(ctx context.Context, before time.Time) (int, error)
}

// Pinger is an optional ability: a backend that can fail in ways Stat of a
// missing blob does not show (a missing S3 bucket answers HEAD of any key
// with 404) checks that it is usable, for readiness probes.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Redirector is an optional ability: a backend that can hand clients a
// short-lived URL to fetch a blob directly (S3 presigned GET).
type Redirector interface {
	RedirectURL(ctx context.Context, d digest.Digest) (string, error)
}
