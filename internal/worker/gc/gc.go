// Package gc is Berth's online garbage collector. It reclaims the space of
// blobs no repository uses any more while the registry keeps serving
// pushes and pulls: there is no read-only mode and no lock a push or pull
// waits for. The background worker runs a pass on a shared schedule, and
// `berth gc` runs one on demand; passes may overlap each other and any
// number of registry nodes.
//
// # What is collected
//
// A pass has three sweeps, each in bounded batches (no transaction and no
// listing holds more than Options.Batch keys, and nothing loads the whole
// registry into memory):
//
//  1. Links. A repository's link to a blob (repository_blobs) goes when no
//     manifest of that repository references the blob and the link was
//     last asserted more than the grace period ago.
//  2. Blobs. A blob record (blobs) with no link left, first recorded more
//     than the grace period ago, is deleted: its bytes from the blob store
//     and its record from the database.
//  3. Orphans. Bytes in the blob store without any record (a crash between
//     storing an upload's bytes and recording them, or bytes whose
//     recording was refused) are deleted once older than the grace period.
//
// Manifests and tags live in the database and are removed with the image
// or tag that holds them; they need no collection.
//
// # Why nothing a client relies on is ever deleted
//
// The invariant: every link points at a blob record that is not marked
// for deletion and whose bytes are in the blob store. Each step below is
// one write transaction of the metadata store; SQLite's single writer and
// PostgreSQL's SERIALIZABLE write transactions make each such
// check-then-write atomic against every other write, so each pair of
// steps below happens in one order or the other, and both orders are safe.
//
//   - Link sweep vs manifest push. The sweep removes a link only if, inside
//     its transaction, no manifest references it and it is still older
//     than the grace period. A manifest push checks, inside its own
//     transaction, that every blob it references is linked. Push first:
//     the reference keeps the link. Sweep first: the push fails with
//     MANIFEST_BLOB_UNKNOWN; no image was acknowledged.
//   - Link sweep vs a push in flight. Docker HEADs a layer and, when it
//     exists, skips the upload and puts the manifest later; uploads and
//     mounts link a blob and the manifest follows. Uploads and mounts set
//     linked_at to now; an existence check (HEAD of a blob, ECR's
//     BatchCheckLayerAvailability and CompleteLayerUpload) refreshes a link
//     older than half the grace period before answering, and the refresh
//     decides (a link swept meanwhile answers "unknown", so the client
//     uploads). So a client that was told a blob is present has at least
//     half the grace period to put its manifest. The grace period is
//     configuration (--gc-grace, default 1h); `berth gc --grace` shorter
//     than the servers' --gc-grace shortens this protection.
//   - Blob sweep: mark, delete bytes, remove record. Marking sets
//     blobs.deleting_at, inside a transaction that re-checks the record
//     has no link at all. Linking (an upload's completion, a mount) reads
//     the record in its transaction and refuses a marked one with
//     metastore.ErrBlobDeleting, which the registry answers with a
//     retryable 503 (UNAVAILABLE with Retry-After on /v2,
//     ServiceUnavailable on the ECR API); a mount falls back to an upload.
//     Link first: the mark finds the link and leaves the blob. Mark first:
//     the link is refused. So bytes are only deleted while their record is
//     marked and has no link. Then the record is removed, only if it still
//     carries this pass's mark.
//   - Blob sweep vs an upload storing the same bytes again. An upload
//     stores its bytes (CommitUpload, outside any transaction) and then
//     records them (FinishUpload or LinkBlob). The bytes it stored may be
//     deleted by a pass that marked the record before the upload recorded
//     them. Therefore a transaction that would create a blob record asks
//     the blob store, inside the transaction, whether the bytes are there
//     (metastore.BlobStored), and refuses with ErrBlobDeleting if not.
//     Bytes are deleted only while a mark exists, and a record is created
//     only when there is no record (marked or not): so a deletion of these
//     bytes either finished before that transaction (then the bytes it
//     sees were stored afterwards and stay) or starts after it (then it
//     needs a mark, which needs the record to have lost every link). A
//     record that already exists unmarked has stored bytes by the
//     invariant, so it needs no such check.
//   - Orphan sweep. For bytes without a record, the pass first inserts a
//     record that is already marked, only if no record exists (one
//     transaction), deletes the bytes, then removes its record. An upload
//     that recorded the blob first keeps it; one that comes after the mark
//     is refused (retryable) and one that comes after the removal asks the
//     blob store as above.
//   - A pass that dies between marking and removing leaves marked
//     records. A later pass takes over marks older than a few minutes
//     (staleMarkAge) with a mark of its own: only the new mark removes the
//     record. A pass never deletes bytes under a mark older than half that
//     age, so a slow pass cannot delete bytes after another pass finished
//     the blob and an upload stored it again (unless the process stalls
//     for a minute between that check and the delete, or nodes' clocks
//     disagree by a minute, which job claims already rule out).
//
// The grace period protects pushes in flight from being refused; the
// protocol above is what guarantees safety, whatever the grace period,
// even zero: then pushes may be refused (a manifest whose blobs were swept
// first, a retryable 503), but no acknowledged image ever loses a byte.
package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/metastore"
)

// staleMarkAge is how old a mark must be for another pass to take it
// over; a pass deletes no bytes under its own mark once it is half as old.
const staleMarkAge = 2 * time.Minute

// Options configures a Collector. Meta and Blobs are required.
type Options struct {
	Meta   metastore.GCStore
	Blobs  blobstore.Store
	Logger *slog.Logger
	Clock  func() time.Time
	// Metrics records passes; nil records nothing.
	Metrics *Metrics
	// Batch is how many keys one listing or transaction takes (default
	// and most: 1000).
	Batch int
}

// Collector runs garbage-collection passes.
type Collector struct {
	o Options
}

// New builds a Collector.
func New(o Options) (*Collector, error) {
	if o.Meta == nil || o.Blobs == nil {
		return nil, errors.New("gc: Meta and Blobs are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Batch <= 0 || o.Batch > 1000 {
		o.Batch = 1000
	}
	return &Collector{o: o}, nil
}

// PassOptions adjusts one pass.
type PassOptions struct {
	// Grace: links, blobs and orphan bytes younger than it stay.
	Grace time.Duration
	// DryRun counts what the pass would reclaim and changes nothing.
	DryRun bool
}

// Report says what a pass reclaimed (or, in a dry run, would reclaim).
type Report struct {
	DryRun bool
	Grace  time.Duration
	// LinksRemoved counts repository links to blobs removed.
	LinksRemoved int
	// BlobsDeleted and BlobBytes count blobs deleted (bytes and record).
	BlobsDeleted int
	BlobBytes    int64
	// OrphansDeleted and OrphanBytes count bytes without a record deleted.
	OrphansDeleted int
	OrphanBytes    int64
	// Duration is how long the pass took.
	Duration time.Duration
}

// ReclaimedBytes is the space the pass freed in the blob store.
func (r Report) ReclaimedBytes() int64 { return r.BlobBytes + r.OrphanBytes }

// Pass runs one garbage collection: links, then blobs, then orphans. A
// failure to list or to write metadata stops the pass; a blob whose bytes
// cannot be deleted is reported and left for a later pass, and the pass
// goes on. What a pass reclaimed stays reclaimed.
func (c *Collector) Pass(ctx context.Context, p PassOptions) (Report, error) {
	if p.Grace < 0 {
		return Report{}, fmt.Errorf("gc: negative grace period %s", p.Grace)
	}
	start := c.o.Clock()
	ps := &pass{Collector: c, cut: metastore.GCCutoffs{Before: start.Add(-p.Grace), StaleMark: start.Add(-staleMarkAge)},
		r: Report{DryRun: p.DryRun, Grace: p.Grace}}
	err := ps.sweepLinks(ctx)
	if err == nil {
		err = ps.sweepBlobs(ctx)
	}
	if err == nil {
		err = ps.sweepOrphans(ctx)
	}
	err = errors.Join(append(ps.failed, err)...)
	r := ps.r
	r.Duration = c.o.Clock().Sub(start)
	if !p.DryRun {
		c.o.Metrics.observe(r)
	}
	attrs := []any{"dry_run", r.DryRun, "grace", r.Grace, "links_removed", r.LinksRemoved,
		"blobs_deleted", r.BlobsDeleted, "blob_bytes", r.BlobBytes, "orphans_deleted", r.OrphansDeleted,
		"orphan_bytes", r.OrphanBytes, "reclaimed_bytes", r.ReclaimedBytes(), "took", r.Duration}
	if err != nil {
		c.o.Logger.WarnContext(ctx, "garbage collection pass failed", append(attrs, "err", err)...)
		return r, err
	}
	c.o.Logger.InfoContext(ctx, "garbage collection pass", attrs...)
	return r, nil
}

// pass is the state of one Pass.
type pass struct {
	*Collector
	cut    metastore.GCCutoffs
	r      Report
	failed []error // deletions that failed; the pass went on
}

// sweepLinks removes (or counts) collectable links, page by page.
func (p *pass) sweepLinks(ctx context.Context) error {
	after := metastore.BlobLink{}
	for {
		page, err := p.o.Meta.CollectableLinks(ctx, p.cut.Before, after, p.o.Batch)
		if err != nil {
			return fmt.Errorf("gc: list links: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		after = page[len(page)-1]
		if p.r.DryRun {
			p.r.LinksRemoved += len(page)
		} else {
			removed, err := p.o.Meta.RemoveLinks(ctx, page, p.cut.Before)
			if err != nil {
				return fmt.Errorf("gc: remove links: %w", err)
			}
			p.r.LinksRemoved += len(removed)
		}
		if len(page) < p.o.Batch {
			return nil
		}
	}
}

// sweepBlobs deletes (or counts) collectable blobs, page by page.
func (p *pass) sweepBlobs(ctx context.Context) error {
	var after digest.Digest
	for {
		page, err := p.o.Meta.CollectableBlobs(ctx, p.cut, after, p.o.Batch)
		if err != nil {
			return fmt.Errorf("gc: list blobs: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].Digest
		if p.r.DryRun {
			for _, b := range page {
				p.r.BlobsDeleted++
				p.r.BlobBytes += b.Size
			}
		} else {
			digests := make([]digest.Digest, len(page))
			for i, b := range page {
				digests[i] = b.Digest
			}
			marked, err := p.o.Meta.MarkBlobsDeleting(ctx, digests, p.cut)
			if err != nil {
				return fmt.Errorf("gc: mark blobs: %w", err)
			}
			n, bytes, err := p.deleteMarked(ctx, marked)
			p.r.BlobsDeleted, p.r.BlobBytes = p.r.BlobsDeleted+n, p.r.BlobBytes+bytes
			if err != nil {
				return err
			}
		}
		if len(page) < p.o.Batch {
			return nil
		}
	}
}

// deleteMarked deletes the bytes of blobs this pass marked, then their
// records. It runs to the end of the batch even when ctx ends, so marks do
// not linger (a marked blob cannot be uploaded again until its record is
// gone); the batch is bounded. It skips bytes under a mark grown too old
// (another pass may have taken it over) and leaves the records of bytes it
// could not delete marked, for a later pass to take over; both are noted
// in p.failed. The error is a failure to remove the records.
func (p *pass) deleteMarked(ctx context.Context, marked []metastore.CollectableBlob) (int, int64, error) {
	if len(marked) == 0 {
		return 0, 0, nil
	}
	ctx = context.WithoutCancel(ctx)
	var done []metastore.CollectableBlob
	var bytes int64
	for _, b := range marked {
		if age := p.o.Clock().Sub(b.DeletingAt); age >= staleMarkAge/2 {
			p.failed = append(p.failed, fmt.Errorf("gc: blob %s: marked %s ago, too long to delete safely", b.Digest, age))
			continue
		}
		if err := p.o.Blobs.Delete(ctx, b.Digest); err != nil {
			p.failed = append(p.failed, fmt.Errorf("gc: delete blob %s: %w", b.Digest, err))
			continue
		}
		done = append(done, b)
		bytes += b.Size
	}
	if len(p.failed) > 100 {
		p.failed = p.failed[:100] // enough to diagnose; a pass over a broken store must not grow without bound
	}
	if len(done) == 0 {
		return 0, 0, nil
	}
	if _, err := p.o.Meta.RemoveBlobRecords(ctx, done); err != nil {
		return 0, 0, fmt.Errorf("gc: remove blob records: %w", err)
	}
	return len(done), bytes, nil
}

// sweepOrphans walks the blob store and deletes (or counts) bytes older
// than the cutoff that have no record, a batch at a time.
func (p *pass) sweepOrphans(ctx context.Context) error {
	batch := make([]metastore.CollectableBlob, 0, p.o.Batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.collectOrphans(ctx, batch)
		batch = batch[:0]
		return err
	}
	err := p.o.Blobs.Walk(ctx, func(b blobstore.BlobInfo) error {
		if !b.ModTime.Before(p.cut.Before) {
			return nil
		}
		batch = append(batch, metastore.CollectableBlob{Digest: b.Digest, Size: b.Size})
		if len(batch) < p.o.Batch {
			return nil
		}
		return flush()
	})
	if err != nil {
		return fmt.Errorf("gc: walk the blob store: %w", err)
	}
	return flush()
}

// collectOrphans deletes (or counts) those of batch that have no record.
func (p *pass) collectOrphans(ctx context.Context, batch []metastore.CollectableBlob) error {
	digests := make([]digest.Digest, len(batch))
	for i, b := range batch {
		digests[i] = b.Digest
	}
	unrecorded, err := p.o.Meta.UnrecordedBlobs(ctx, digests)
	if err != nil {
		return fmt.Errorf("gc: look up orphans: %w", err)
	}
	want := make(map[digest.Digest]bool, len(unrecorded))
	for _, d := range unrecorded {
		want[d] = true
	}
	orphans := make([]metastore.CollectableBlob, 0, len(unrecorded))
	for _, b := range batch {
		if want[b.Digest] {
			orphans = append(orphans, b)
			delete(want, b.Digest)
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	if p.r.DryRun {
		for _, b := range orphans {
			p.r.OrphansDeleted++
			p.r.OrphanBytes += b.Size
		}
		return nil
	}
	marked, err := p.o.Meta.MarkOrphansDeleting(ctx, orphans)
	if err != nil {
		return fmt.Errorf("gc: mark orphans: %w", err)
	}
	n, bytes, err := p.deleteMarked(ctx, marked)
	p.r.OrphansDeleted, p.r.OrphanBytes = p.r.OrphansDeleted+n, p.r.OrphanBytes+bytes
	return err
}
