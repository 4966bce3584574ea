package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

// Garbage collection's statements (metastore.GCStore). The protocol is
// documented in package worker/gc; each check-then-write below runs in one
// write transaction, which SQLite's single writer (and PostgreSQL's
// SERIALIZABLE write transactions) make atomic against concurrent links,
// uploads and manifest pushes.

// maxGCBatch bounds the keys one GCStore call takes, so that no
// transaction and no IN list grows with the size of the registry.
const maxGCBatch = 1000

// linkUnreferenced holds for a link rb that no manifest of its repository
// references as a blob.
const linkUnreferenced = "NOT EXISTS (SELECT 1 FROM manifest_references mr" +
	" WHERE mr.repository_id = rb.repository_id AND mr.ref_digest = rb.digest AND mr.kind = 'blob')"

// gcQueries are GCStore's statements, rendered for the dialect. The batch
// statements hold a %s that becomes one placeholder per key (or one row of
// placeholders per key) when they run (batchSQL): a batch is one
// statement, not one per key.
type gcQueries struct {
	statLink, refreshLink, collectableLinks, collectableBlobs string // rendered
	removeLinks, markBlobs, insertOrphanMarks                 string // with %s
	removeMarked, knownBlobs                                  string // with %s
}

func newGCQueries(d dialect) gcQueries {
	// A blob b is collectable at cutoff (1st ?) when it is not marked, was
	// first recorded before the cutoff and each of its links (if any) was
	// last asserted before the cutoff (2nd ?) and is unreferenced; or when
	// its mark is stale (3rd ?).
	collectable := "(b.deleting_at = 0 AND b.created_at < ? AND NOT EXISTS (SELECT 1 FROM repository_blobs rb" +
		" WHERE rb.digest = b.digest AND (rb.linked_at >= ? OR NOT " + linkUnreferenced + "))" +
		" OR b.deleting_at > 0 AND b.deleting_at < ?)"
	q := gcQueries{
		statLink: "SELECT b.size, rb.linked_at FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest" +
			" WHERE rb.repository_id = ? AND rb.digest = ?",
		refreshLink: "UPDATE repository_blobs SET linked_at = ? WHERE repository_id = ? AND digest = ?",
		collectableLinks: "SELECT rb.repository_id, rb.digest, b.size, rb.linked_at FROM repository_blobs rb" +
			" JOIN blobs b ON b.digest = rb.digest" +
			" WHERE (rb.repository_id > ? OR rb.repository_id = ? AND rb.digest > ?) AND rb.linked_at < ? AND " +
			linkUnreferenced + " ORDER BY rb.repository_id, rb.digest LIMIT ?",
		collectableBlobs: "SELECT b.digest, b.size, b.deleting_at FROM blobs b WHERE b.digest > ? AND " + collectable +
			" ORDER BY b.digest LIMIT ?",
		// One repository's links (repository, then the digests).
		removeLinks: "DELETE FROM repository_blobs WHERE repository_id = ? AND digest IN (%s) AND linked_at < ?" +
			" AND NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.repository_id = repository_blobs.repository_id" +
			" AND mr.ref_digest = repository_blobs.digest AND mr.kind = 'blob') RETURNING digest",
		// Marking demands no link at all, not merely collectable ones.
		markBlobs: "UPDATE blobs SET deleting_at = ? WHERE digest IN (%s) AND (deleting_at = 0 AND created_at < ?" +
			" AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = blobs.digest)" +
			" OR deleting_at > 0 AND deleting_at < ?) RETURNING digest, size",
		insertOrphanMarks: "INSERT INTO blobs (digest, size, created_at, deleting_at) VALUES %s" +
			" ON CONFLICT (digest) DO NOTHING RETURNING digest",
		removeMarked: "DELETE FROM blobs WHERE deleting_at = ? AND digest IN (%s)",
		knownBlobs:   "SELECT digest FROM blobs WHERE digest IN (%s)",
	}
	for _, p := range []*string{&q.statLink, &q.refreshLink, &q.collectableLinks, &q.collectableBlobs} {
		*p = d.rebind(*p)
	}
	return q
}

// batchSQL renders a batch statement for n keys of width placeholders
// each: "?, ?" for width 1, "(?, ?), (?, ?)" for rows of 2 or more.
func (s *Store) batchSQL(query string, n, width int) string {
	one := strings.TrimSuffix(strings.Repeat("?, ", width), ", ")
	if width > 1 {
		one = "(" + one + ")"
	}
	return s.d.rebind(fmt.Sprintf(query, strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")))
}

// digestArgs appends each digest's string form to args.
func digestArgs(args []any, ds []digest.Digest) []any {
	for _, d := range ds {
		args = append(args, d.String())
	}
	return args
}

// gcBatch rejects an empty or oversized limit or batch.
func gcBatch(n int) error {
	if n <= 0 || n > maxGCBatch {
		return fmt.Errorf("batch or limit %d: must be 1 to %d", n, maxGCBatch)
	}
	return nil
}

// StatBlobLink returns a link with its blob's size and its time: the read
// behind HEAD of a blob, on the reader pool's prepared statement.
func (s *Store) StatBlobLink(ctx context.Context, repoID int64, d digest.Digest) (metastore.BlobLink, error) {
	l := metastore.BlobLink{RepositoryID: repoID, Digest: d}
	var linked int64
	err := s.rs.statLink.QueryRowContext(ctx, repoID, d.String()).Scan(&l.Size, &linked)
	if err != nil {
		return metastore.BlobLink{}, s.fail("stat blob link", err)
	}
	l.LinkedAt = fromNanos(linked)
	return l, nil
}

// RefreshBlobLink stamps the link with now; ErrNotFound when it is gone.
func (s *Store) RefreshBlobLink(ctx context.Context, repoID int64, d digest.Digest) error {
	return s.fail("refresh blob link", notFoundIfNone(s.exec(ctx, s.gq.refreshLink, nanos(s.now()), repoID, d.String())))
}

// CollectableLinks lists unreferenced links asserted before before.
func (s *Store) CollectableLinks(ctx context.Context, before time.Time, after metastore.BlobLink, limit int) ([]metastore.BlobLink, error) {
	if err := gcBatch(limit); err != nil {
		return nil, s.fail("collectable links", err)
	}
	out, err := queryAll(ctx, s.reader, scanBlobLink, s.gq.collectableLinks,
		after.RepositoryID, after.RepositoryID, after.Digest.String(), nanos(before), limit)
	return out, s.fail("collectable links", err)
}

func scanBlobLink(r scanner) (metastore.BlobLink, error) {
	var l metastore.BlobLink
	var d string
	var linked int64
	if err := r.Scan(&l.RepositoryID, &d, &l.Size, &linked); err != nil {
		return metastore.BlobLink{}, err
	}
	l.Digest, l.LinkedAt = digest.Digest(d), fromNanos(linked)
	return l, nil
}

// RemoveLinks removes the links that are still collectable, re-checked
// by the DELETE itself inside one transaction: a manifest put or a refresh
// that committed first keeps its link, and one that commits later finds
// the link gone (a manifest put then fails with a missing blob). One
// statement per repository in the batch.
func (s *Store) RemoveLinks(ctx context.Context, links []metastore.BlobLink, before time.Time) ([]metastore.BlobLink, error) {
	if err := gcBatch(len(links)); err != nil {
		return nil, s.fail("remove links", err)
	}
	byRepo := map[int64][]metastore.BlobLink{}
	var repos []int64
	for _, l := range links {
		if byRepo[l.RepositoryID] == nil {
			repos = append(repos, l.RepositoryID)
		}
		byRepo[l.RepositoryID] = append(byRepo[l.RepositoryID], l)
	}
	var removed []metastore.BlobLink
	err := s.write(ctx, "remove links", func(ctx context.Context, tx *sql.Tx) error {
		removed = removed[:0] // a retried transaction starts over
		for _, repo := range repos {
			group := byRepo[repo]
			args := []any{repo}
			for _, l := range group {
				args = append(args, l.Digest.String())
			}
			gone, err := queryAll(ctx, tx, scanString, s.batchSQL(s.gq.removeLinks, len(group), 1), append(args, nanos(before))...)
			if err != nil {
				return err
			}
			removed = append(removed, pick(group, gone, func(l metastore.BlobLink) digest.Digest { return l.Digest })...)
		}
		return nil
	})
	return removed, err
}

// pick returns the items of in whose key is among keys, in in's order.
func pick[T any](in []T, keys []string, key func(T) digest.Digest) []T {
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	var out []T
	for _, it := range in {
		if set[key(it).String()] {
			out = append(out, it)
		}
	}
	return out
}

// CollectableBlobs lists the blob records a pass at c would delete.
func (s *Store) CollectableBlobs(ctx context.Context, c metastore.GCCutoffs, after digest.Digest, limit int) ([]metastore.CollectableBlob, error) {
	if err := gcBatch(limit); err != nil {
		return nil, s.fail("collectable blobs", err)
	}
	b := nanos(c.Before)
	out, err := queryAll(ctx, s.reader, scanCollectable, s.gq.collectableBlobs,
		after.String(), b, b, nanos(c.StaleMark), limit)
	return out, s.fail("collectable blobs", err)
}

func scanCollectable(r scanner) (metastore.CollectableBlob, error) {
	var b metastore.CollectableBlob
	var d string
	var mark int64
	if err := r.Scan(&d, &b.Size, &mark); err != nil {
		return metastore.CollectableBlob{}, err
	}
	b.Digest = digest.Digest(d)
	if mark > 0 {
		b.DeletingAt = fromNanos(mark)
	}
	return b, nil
}

// MarkBlobsDeleting marks unlinked blob records (and takes over stale
// marks) with one UPDATE that re-checks every row's conditions, so a link
// made before this transaction keeps its blob, and a link attempted after
// it fails with ErrBlobDeleting.
func (s *Store) MarkBlobsDeleting(ctx context.Context, digests []digest.Digest, c metastore.GCCutoffs) ([]metastore.CollectableBlob, error) {
	if err := gcBatch(len(digests)); err != nil {
		return nil, s.fail("mark blobs deleting", err)
	}
	var marked []metastore.CollectableBlob
	err := s.write(ctx, "mark blobs deleting", func(ctx context.Context, tx *sql.Tx) error {
		mark := s.now()
		args := digestArgs([]any{nanos(mark)}, digests)
		args = append(args, nanos(c.Before), nanos(c.StaleMark))
		var err error
		marked, err = queryAll(ctx, tx, func(r scanner) (metastore.CollectableBlob, error) {
			b := metastore.CollectableBlob{DeletingAt: mark}
			var d string
			err := r.Scan(&d, &b.Size)
			b.Digest = digest.Digest(d)
			return b, err
		}, s.batchSQL(s.gq.markBlobs, len(digests), 1), args...)
		return err
	})
	return marked, err
}

// UnrecordedBlobs returns those of digests without a blobs row.
func (s *Store) UnrecordedBlobs(ctx context.Context, digests []digest.Digest) ([]digest.Digest, error) {
	if err := gcBatch(len(digests)); err != nil {
		return nil, s.fail("unrecorded blobs", err)
	}
	known, err := queryAll(ctx, s.reader, scanString, s.batchSQL(s.gq.knownBlobs, len(digests), 1),
		digestArgs(nil, digests)...)
	if err != nil {
		return nil, s.fail("unrecorded blobs", err)
	}
	seen := make(map[string]bool, len(known))
	for _, d := range known {
		seen[d] = true
	}
	out := []digest.Digest{}
	for _, d := range digests {
		if !seen[d.String()] {
			seen[d.String()] = true // a repeated digest is returned once
			out = append(out, d)
		}
	}
	return out, nil
}

// MarkOrphansDeleting records each blob still unrecorded as marked for
// deletion, with one INSERT that skips digests already recorded; an upload
// that records the blob first keeps it, and one that tries after fails
// with ErrBlobDeleting.
func (s *Store) MarkOrphansDeleting(ctx context.Context, blobs []metastore.CollectableBlob) ([]metastore.CollectableBlob, error) {
	if err := gcBatch(len(blobs)); err != nil {
		return nil, s.fail("mark orphans deleting", err)
	}
	var marked []metastore.CollectableBlob
	err := s.write(ctx, "mark orphans deleting", func(ctx context.Context, tx *sql.Tx) error {
		mark := s.now()
		args := make([]any, 0, 4*len(blobs))
		for _, b := range blobs {
			args = append(args, b.Digest.String(), b.Size, nanos(mark), nanos(mark))
		}
		inserted, err := queryAll(ctx, tx, scanString, s.batchSQL(s.gq.insertOrphanMarks, len(blobs), 4), args...)
		if err != nil {
			return err
		}
		marked = pick(blobs, inserted, func(b metastore.CollectableBlob) digest.Digest { return b.Digest })
		for i := range marked {
			marked[i].DeletingAt = mark
		}
		return nil
	})
	return marked, err
}

// RemoveBlobRecords removes the records that still carry their mark, one
// statement per mark in the batch (a batch usually has one).
func (s *Store) RemoveBlobRecords(ctx context.Context, blobs []metastore.CollectableBlob) (int, error) {
	if err := gcBatch(len(blobs)); err != nil {
		return 0, s.fail("remove blob records", err)
	}
	byMark := map[int64][]digest.Digest{}
	var marks []int64
	for _, b := range blobs {
		if b.DeletingAt.IsZero() {
			return 0, s.fail("remove blob records", fmt.Errorf("blob %s: not marked for deletion", b.Digest))
		}
		m := nanos(b.DeletingAt)
		if byMark[m] == nil {
			marks = append(marks, m)
		}
		byMark[m] = append(byMark[m], b.Digest)
	}
	removed := 0
	err := s.write(ctx, "remove blob records", func(ctx context.Context, tx *sql.Tx) error {
		removed = 0
		for _, m := range marks {
			ds := byMark[m]
			n, err := execTx(ctx, tx, s.batchSQL(s.gq.removeMarked, len(ds), 1), digestArgs([]any{m}, ds)...)
			if err != nil {
				return err
			}
			removed += int(n)
		}
		return nil
	})
	return removed, err
}
