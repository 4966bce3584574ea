package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

// storageQueries are the statements of StorageClassStore and PullTimeStore
// (storage.go, pulltimes.go), rendered for the dialect. Predicates on
// image_status other than ACTIVE repeat "image_status <> 'ACTIVE'" so SQLite
// uses the partial index manifests_by_status.
type storageQueries struct {
	// listImages holds ListImages's statements for the image-status
	// filters other than ACTIVE (those are prepared: readStmts).
	listImages map[metastore.ImageFilter]string

	node, children, parents, referrers string
	archive, activating, activate      string
	activatingPage, blobUse            string
	lifecycle, lifecycleTags           string
	lifecycleParents                   string

	recordPull, insertExclusion, countExclusions string
	deleteExclusion, listExclusions              string
}

const (
	// nodeCols are what a storage-class change needs of a manifest.
	nodeCols = "digest, image_status, media_type, artifact_type, subject_digest"
	// lifecycleCols are a manifest's Image columns without its tags.
	lifecycleCols = "digest, media_type, artifact_type, subject_digest, size, image_size, pushed_at," +
		" image_status, last_pulled_at, last_archived_at, last_activated_at"
)

func newStorageQueries(d dialect) storageQueries {
	q := storageQueries{
		listImages: map[metastore.ImageFilter]string{},
		node:       "SELECT " + nodeCols + " FROM manifests WHERE repository_id = ? AND digest = ?",
		children: "SELECT c.digest, c.image_status, c.media_type, c.artifact_type, c.subject_digest" +
			" FROM manifest_references r JOIN manifests c ON c.repository_id = r.repository_id AND c.digest = r.ref_digest" +
			" WHERE r.repository_id = ? AND r.manifest_digest = ? AND r.kind = 'manifest' ORDER BY c.digest",
		parents: "SELECT p.digest, p.image_status FROM manifest_references r" +
			" JOIN manifests p ON p.repository_id = r.repository_id AND p.digest = r.manifest_digest" +
			" WHERE r.repository_id = ? AND r.ref_digest = ? AND r.kind = 'manifest' ORDER BY p.digest",
		referrers: "SELECT " + nodeCols + " FROM manifests WHERE repository_id = ? AND subject_digest = ? ORDER BY digest",
		archive: "UPDATE manifests SET image_status = 'ARCHIVED', last_archived_at = ?" +
			" WHERE repository_id = ? AND digest = ? AND image_status = 'ACTIVE'",
		activating: "UPDATE manifests SET image_status = 'ACTIVATING'" +
			" WHERE repository_id = ? AND digest = ? AND image_status <> 'ACTIVE' AND image_status = 'ARCHIVED'",
		activate: "UPDATE manifests SET image_status = 'ACTIVE', last_activated_at = ?" +
			" WHERE repository_id = ? AND digest = ? AND image_status <> 'ACTIVE'",
		activatingPage: "SELECT repository_id, " + nodeCols + " FROM manifests" +
			" WHERE image_status <> 'ACTIVE' AND image_status = 'ACTIVATING' ORDER BY repository_id, digest LIMIT ?",
		// One row: whether an ACTIVE manifest references the blob, and
		// whether any manifest does.
		blobUse: "SELECT" +
			" EXISTS (SELECT 1 FROM manifest_references r JOIN manifests m" +
			" ON m.repository_id = r.repository_id AND m.digest = r.manifest_digest" +
			" WHERE r.repository_id = ? AND r.ref_digest = ? AND r.kind = 'blob' AND m.image_status = 'ACTIVE')," +
			" EXISTS (SELECT 1 FROM manifest_references WHERE repository_id = ? AND ref_digest = ? AND kind = 'blob')",
		// A page of images, then the tags and the parent links of the
		// page's digest range: three index range scans merged in Go,
		// several times faster than a correlated subquery per image.
		lifecycle: "SELECT " + lifecycleCols + " FROM manifests" +
			" WHERE repository_id = ? AND digest > ? ORDER BY digest LIMIT ?",
		lifecycleTags: "SELECT digest, name FROM tags WHERE repository_id = ? AND digest > ? AND digest <= ?" +
			" ORDER BY digest, name",
		lifecycleParents: "SELECT ref_digest, manifest_digest FROM manifest_references" +
			" WHERE repository_id = ? AND ref_digest > ? AND ref_digest <= ? AND kind = 'manifest'",

		recordPull:      "UPDATE manifests SET last_pulled_at = ? WHERE repository_id = ? AND digest = ? AND last_pulled_at < ?",
		insertExclusion: insertSQL("pull_time_exclusions", []string{"account_id", "principal_arn", "created_at"}),
		countExclusions: "SELECT count(*) FROM pull_time_exclusions WHERE account_id = ?",
		deleteExclusion: "DELETE FROM pull_time_exclusions WHERE account_id = ? AND principal_arn = ?",
		listExclusions: "SELECT account_id, principal_arn, created_at FROM pull_time_exclusions" +
			" WHERE account_id = ? AND principal_arn > ? ORDER BY principal_arn LIMIT ?",
	}
	for _, tag := range []metastore.TagStatus{metastore.TagStatusAny, metastore.TagStatusTagged, metastore.TagStatusUntagged} {
		for _, st := range []metastore.ImageStatus{metastore.ImageArchived, metastore.ImageActivating, metastore.ImageStatusAny} {
			q.listImages[metastore.ImageFilter{TagStatus: tag, Status: st}] = d.rebind(listImagesSQL(tag, st))
		}
	}
	for _, p := range []*string{&q.node, &q.children, &q.parents, &q.referrers, &q.archive, &q.activating,
		&q.activate, &q.activatingPage, &q.blobUse, &q.lifecycle, &q.lifecycleTags, &q.lifecycleParents,
		&q.recordPull, &q.insertExclusion, &q.countExclusions, &q.deleteExclusion, &q.listExclusions} {
		*p = d.rebind(*p)
	}
	return q
}

// listImagesSQL renders ListImages's query for one filter. Statuses are
// package constants, never caller input.
func listImagesSQL(tag metastore.TagStatus, status metastore.ImageStatus) string {
	q := "SELECT " + imageColsM + " FROM manifests m WHERE m.repository_id = ? AND m.digest > ?"
	switch status {
	case metastore.ImageActive:
		q += " AND m.image_status = 'ACTIVE'"
	case metastore.ImageArchived, metastore.ImageActivating:
		q += " AND m.image_status <> 'ACTIVE' AND m.image_status = '" + string(status) + "'"
	}
	switch tag {
	case metastore.TagStatusTagged:
		q += " AND " + isTaggedM
	case metastore.TagStatusUntagged:
		q += " AND NOT " + isTaggedM
	}
	return q + " ORDER BY m.digest LIMIT ?"
}

// maxStorageClosure bounds how many images one storage-class change moves.
const maxStorageClosure = 10000

// storageNode is a manifest as a storage-class change sees it.
type storageNode struct {
	digest       digest.Digest
	status       metastore.ImageStatus
	mediaType    string
	artifactType string
	subject      digest.Digest
}

func scanStorageNode(r scanner) (storageNode, error) {
	var n storageNode
	var d, status string
	var subject sql.NullString
	if err := r.Scan(&d, &status, &n.mediaType, &n.artifactType, &subject); err != nil {
		return storageNode{}, err
	}
	n.digest, n.status, n.subject = digest.Digest(d), metastore.ImageStatus(status), digest.Digest(subject.String)
	return n, nil
}

func (n storageNode) change(repoID int64, to metastore.ImageStatus, at time.Time) metastore.StorageChange {
	return metastore.StorageChange{RepositoryID: repoID, Digest: n.digest, MediaType: n.mediaType,
		ArtifactType: n.artifactType, Subject: n.subject, From: n.status, To: to, At: at}
}

// UpdateStorageClass archives or starts restoring an image and what goes
// with it, in one write transaction.
func (s *Store) UpdateStorageClass(ctx context.Context, repoID int64, d digest.Digest, target metastore.StorageClass) ([]metastore.StorageChange, error) {
	if target != metastore.StorageArchive && target != metastore.StorageStandard {
		return nil, s.fail("update storage class", fmt.Errorf("unknown storage class %q", target))
	}
	var out []metastore.StorageChange
	err := s.write(ctx, "update storage class", func(ctx context.Context, tx *sql.Tx) error {
		out = nil
		root, err := scanStorageNode(tx.QueryRowContext(ctx, s.sq.node, repoID, d.String()))
		if err != nil {
			return err
		}
		refused := &metastore.StorageClassError{Digest: d, Status: root.status, Target: target}
		now := s.now()
		if target == metastore.StorageStandard {
			if root.status != metastore.ImageArchived {
				return refused
			}
			out, err = s.restoreClosure(ctx, tx, repoID, root, metastore.ImageActivating, now)
			return err // ACTIVATING is not an event yet: CompleteActivations emits the restore
		}
		out, err = s.archiveTx(ctx, tx, repoID, root, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// archiveTx archives root and what goes with it inside tx, with the events
// (UpdateStorageClass to ARCHIVE, and lifecycle's transitions).
func (s *Store) archiveTx(ctx context.Context, tx *sql.Tx, repoID int64, root storageNode, now time.Time) ([]metastore.StorageChange, error) {
	refused := &metastore.StorageClassError{Digest: root.digest, Status: root.status, Target: metastore.StorageArchive}
	if root.status != metastore.ImageActive {
		return nil, refused
	}
	var err error
	if refused.Parent, err = s.liveParent(ctx, tx, repoID, root.digest, nil); err != nil {
		return nil, err
	}
	if refused.Parent != "" {
		return nil, refused
	}
	out, err := s.archiveClosure(ctx, tx, repoID, root, now)
	if err != nil {
		return nil, err
	}
	return out, s.emitStorageChanges(ctx, tx, out)
}

// liveParent returns an index listing d that is not archived and not in
// skip, or "".
func (s *Store) liveParent(ctx context.Context, tx *sql.Tx, repoID int64, d digest.Digest, skip map[digest.Digest]bool) (digest.Digest, error) {
	rows, err := tx.QueryContext(ctx, s.sq.parents, repoID, d.String())
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var p, status string
		if err := rows.Scan(&p, &status); err != nil {
			return "", err
		}
		if metastore.ImageStatus(status) != metastore.ImageArchived && !skip[digest.Digest(p)] {
			return digest.Digest(p), nil
		}
	}
	return "", rows.Err()
}

// archiveClosure archives root (ACTIVE, no live parent) and, transitively,
// the ACTIVE children no live index outside the closure lists and the
// ACTIVE referrers.
func (s *Store) archiveClosure(ctx context.Context, tx *sql.Tx, repoID int64, root storageNode, now time.Time) ([]metastore.StorageChange, error) {
	in := map[digest.Digest]bool{root.digest: true}
	queue := []storageNode{root}
	var out []metastore.StorageChange
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		// The update re-checks ACTIVE: a concurrent change (on an engine
		// with concurrent writers) wins, and this one skips the image.
		k, err := execTx(ctx, tx, s.sq.archive, nanos(now), repoID, n.digest.String())
		switch {
		case err != nil:
			return nil, err
		case k == 0 && n.digest == root.digest:
			return nil, &metastore.StorageClassError{Digest: root.digest, Status: metastore.ImageArchived, Target: metastore.StorageArchive}
		case k == 0:
			continue
		}
		out = append(out, n.change(repoID, metastore.ImageArchived, now))
		next, err := s.related(ctx, tx, repoID, n.digest, true)
		if err != nil {
			return nil, err
		}
		for _, c := range next {
			if in[c.node.digest] || c.node.status != metastore.ImageActive {
				continue
			}
			// An image stays while an index that stays live lists it.
			p, err := s.liveParent(ctx, tx, repoID, c.node.digest, in)
			if err != nil {
				return nil, err
			}
			if p != "" {
				continue
			}
			if len(in) >= maxStorageClosure {
				return nil, fmt.Errorf("archiving %s would move more than %d images", root.digest, maxStorageClosure)
			}
			in[c.node.digest] = true
			queue = append(queue, c.node)
		}
	}
	return out, nil
}

// restoreClosure moves root (not ACTIVE) to status to (ACTIVATING for a
// requested restore, ACTIVE for a re-push) and, transitively, its children
// and referrers that are not ACTIVE. A restore to ACTIVATING leaves images
// already ACTIVATING alone.
func (s *Store) restoreClosure(ctx context.Context, tx *sql.Tx, repoID int64, root storageNode, to metastore.ImageStatus, now time.Time) ([]metastore.StorageChange, error) {
	in := map[digest.Digest]bool{root.digest: true}
	queue := []storageNode{root}
	var out []metastore.StorageChange
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		changed, err := s.restoreOne(ctx, tx, repoID, n, to, now)
		if err != nil {
			return nil, err
		}
		if changed {
			out = append(out, n.change(repoID, to, now))
		} else if n.digest == root.digest && to == metastore.ImageActivating {
			// A concurrent change got there first (see archiveClosure).
			return nil, &metastore.StorageClassError{Digest: root.digest, Status: metastore.ImageActivating, Target: metastore.StorageStandard}
		}
		next, err := s.related(ctx, tx, repoID, n.digest, true)
		if err != nil {
			return nil, err
		}
		for _, c := range next {
			if in[c.node.digest] || c.node.status == metastore.ImageActive {
				continue
			}
			if len(in) >= maxStorageClosure {
				return nil, fmt.Errorf("restoring %s would move more than %d images", root.digest, maxStorageClosure)
			}
			in[c.node.digest] = true
			queue = append(queue, c.node)
		}
	}
	return out, nil
}

func (s *Store) restoreOne(ctx context.Context, tx *sql.Tx, repoID int64, n storageNode, to metastore.ImageStatus, now time.Time) (bool, error) {
	var res sql.Result
	var err error
	if to == metastore.ImageActive {
		res, err = tx.ExecContext(ctx, s.sq.activate, nanos(now), repoID, n.digest.String())
	} else {
		res, err = tx.ExecContext(ctx, s.sq.activating, repoID, n.digest.String())
	}
	if err != nil {
		return false, err
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// relatedNode is a child (index entry) or a referrer of a manifest.
type relatedNode struct {
	node  storageNode
	child bool
}

// related lists d's children and, with referrers, the manifests whose
// subject is d.
func (s *Store) related(ctx context.Context, tx *sql.Tx, repoID int64, d digest.Digest, referrers bool) ([]relatedNode, error) {
	children, err := queryAll(ctx, tx, scanStorageNode, s.sq.children, repoID, d.String())
	if err != nil {
		return nil, err
	}
	out := make([]relatedNode, 0, len(children))
	for _, c := range children {
		out = append(out, relatedNode{node: c, child: true})
	}
	if !referrers {
		return out, nil
	}
	refs, err := queryAll(ctx, tx, scanStorageNode, s.sq.referrers, repoID, d.String())
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		out = append(out, relatedNode{node: r})
	}
	return out, nil
}

// restoreOnPush makes a pushed manifest pullable at once, inside
// PutManifest's transaction: an archived or restoring d comes back ACTIVE
// with its closure (as a restore would bring back), and an index d that is
// already ACTIVE gets its children that are not ACTIVE back, so an ACTIVE
// index never lists an image that cannot be pulled. fresh says d was just
// inserted (so ACTIVE); refs are d's references. It returns the changes
// (for UPDATE_STORAGE_CLASS events). A fresh image costs no query.
func (s *Store) restoreOnPush(ctx context.Context, tx *sql.Tx, repoID int64, d digest.Digest, fresh bool, refs []metastore.Reference, now time.Time) ([]metastore.StorageChange, error) {
	index := slices.ContainsFunc(refs, func(r metastore.Reference) bool { return r.Kind == metastore.RefManifest })
	if fresh && !index {
		return nil, nil
	}
	root, err := scanStorageNode(tx.QueryRowContext(ctx, s.sq.node, repoID, d.String()))
	if err != nil {
		return nil, err
	}
	if root.status != metastore.ImageActive {
		return s.restoreClosure(ctx, tx, repoID, root, metastore.ImageActive, now)
	}
	children, err := s.related(ctx, tx, repoID, d, false)
	if err != nil {
		return nil, err
	}
	var out []metastore.StorageChange
	for _, c := range children {
		if c.node.status == metastore.ImageActive {
			continue
		}
		more, err := s.restoreClosure(ctx, tx, repoID, c.node, metastore.ImageActive, now)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// CompleteActivations finishes up to limit restores, oldest repository
// first, in one write transaction.
func (s *Store) CompleteActivations(ctx context.Context, limit int) ([]metastore.StorageChange, error) {
	if limit <= 0 {
		return nil, s.fail("complete activations", errBadLimit)
	}
	var out []metastore.StorageChange
	err := s.write(ctx, "complete activations", func(ctx context.Context, tx *sql.Tx) error {
		out = nil
		type pending struct {
			repoID int64
			node   storageNode
		}
		ps, err := queryAll(ctx, tx, func(r scanner) (pending, error) {
			var p pending
			var d, status string
			var subject sql.NullString
			err := r.Scan(&p.repoID, &d, &status, &p.node.mediaType, &p.node.artifactType, &subject)
			p.node.digest, p.node.status, p.node.subject = digest.Digest(d), metastore.ImageStatus(status), digest.Digest(subject.String)
			return p, err
		}, s.sq.activatingPage, limit)
		if err != nil {
			return err
		}
		now := s.now()
		for _, p := range ps {
			if _, err := tx.ExecContext(ctx, s.sq.activate, nanos(now), p.repoID, p.node.digest.String()); err != nil {
				return err
			}
			out = append(out, p.node.change(p.repoID, metastore.ImageActive, now))
		}
		return s.emitStorageChanges(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// BlobArchived reports whether every manifest of the repository that
// references d is not ACTIVE, and at least one does.
func (s *Store) BlobArchived(ctx context.Context, repoID int64, d digest.Digest) (bool, error) {
	var active, used bool
	err := s.reader.QueryRowContext(ctx, s.sq.blobUse, repoID, d.String(), repoID, d.String()).Scan(&active, &used)
	if err != nil {
		return false, s.fail("blob archived", err)
	}
	return used && !active, nil
}

// LifecycleCandidates returns a page of images with their storage state
// and parent indexes: three range scans on indexes in one read transaction
// (no query per image).
func (s *Store) LifecycleCandidates(ctx context.Context, repoID int64, p metastore.Page) ([]metastore.LifecycleImage, error) {
	if p.Limit <= 0 {
		return nil, s.fail("lifecycle candidates", errBadLimit)
	}
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, s.fail("lifecycle candidates", err)
	}
	defer func() { _ = tx.Rollback() }()
	first := after(p)
	out, err := queryAll(ctx, tx, scanLifecycleImage, s.sq.lifecycle, repoID, first, p.Limit)
	if err != nil || len(out) == 0 {
		return out, s.fail("lifecycle candidates", err)
	}
	last := out[len(out)-1].Digest.String()
	at := make(map[digest.Digest]*metastore.LifecycleImage, len(out))
	for i := range out {
		at[out[i].Digest] = &out[i]
	}
	err = eachPair(ctx, tx, s.sq.lifecycleTags, []any{repoID, first, last}, func(d digest.Digest, tag string) {
		if li := at[d]; li != nil {
			li.Tags = append(li.Tags, tag)
		}
	})
	if err == nil {
		err = eachPair(ctx, tx, s.sq.lifecycleParents, []any{repoID, first, last}, func(d digest.Digest, parent string) {
			if li := at[d]; li != nil {
				li.Parents = append(li.Parents, digest.Digest(parent))
			}
		})
	}
	for i := range out {
		slices.Sort(out[i].Parents)
	}
	return out, s.fail("lifecycle candidates", err)
}

// eachPair runs a query of (digest, string) rows and calls fn per row.
func eachPair(ctx context.Context, tx *sql.Tx, query string, args []any, fn func(digest.Digest, string)) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var d, v string
		if err := rows.Scan(&d, &v); err != nil {
			return err
		}
		fn(digest.Digest(d), v)
	}
	return rows.Err()
}

func scanLifecycleImage(r scanner) (metastore.LifecycleImage, error) {
	var li metastore.LifecycleImage
	var d, status string
	var subject sql.NullString
	var pushed, pulled, archived, activated int64
	err := r.Scan(&d, &li.MediaType, &li.ArtifactType, &subject, &li.Size, &li.ImageSize, &pushed,
		&status, &pulled, &archived, &activated)
	if err != nil {
		return li, err
	}
	li.Digest, li.Subject, li.PushedAt = digest.Digest(d), digest.Digest(subject.String), fromNanos(pushed)
	li.Status = metastore.ImageStatus(status)
	li.LastPulledAt, li.LastArchivedAt, li.LastActivatedAt = optionalTime(pulled), optionalTime(archived), optionalTime(activated)
	return li, nil
}
