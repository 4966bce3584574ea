package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
)

// lifecycleQueries are the statements of LifecycleStore and
// LifecyclePreviewStore (migration 0011), rendered for the dialect.
type lifecycleQueries struct {
	getPolicy, putPolicy, deletePolicy, listPolicies, markEvaluated string
	imageState                                                      string
	getPreview, upsertPreview, pendingPreviews, finishPreview       string
	deleteResults, insertChunk, chunks                              string
}

const (
	lifecyclePolicyCols = "repository_id, policy_text, policy_id, policy_version, updated_at, last_evaluated_at"
	previewCols         = "repository_id, generation, status, policy_text, expiring_count, transitioning_count, failure," +
		" created_at, finished_at"
	// previewChunk is how many results one lifecycle_preview_results row holds.
	previewChunk = 1000
)

func newLifecycleQueries(d dialect) lifecycleQueries {
	q := lifecycleQueries{
		getPolicy: "SELECT " + lifecyclePolicyCols + " FROM lifecycle_policies WHERE repository_id = ?",
		putPolicy: "INSERT INTO lifecycle_policies (" + lifecyclePolicyCols + ") VALUES (?, ?, ?, 1, ?, 0)" +
			" ON CONFLICT (repository_id) DO UPDATE SET policy_text = excluded.policy_text, policy_id = excluded.policy_id," +
			" policy_version = lifecycle_policies.policy_version + 1, updated_at = excluded.updated_at, last_evaluated_at = 0" +
			" RETURNING " + lifecyclePolicyCols,
		deletePolicy: "DELETE FROM lifecycle_policies WHERE repository_id = ? RETURNING " + lifecyclePolicyCols,
		listPolicies: "SELECT p.repository_id, p.policy_text, p.policy_id, p.policy_version, p.updated_at, p.last_evaluated_at," +
			" r.account_id, r.name FROM lifecycle_policies p JOIN repositories r ON r.id = p.repository_id" +
			" WHERE p.repository_id > ? ORDER BY p.repository_id LIMIT ?",
		markEvaluated: "UPDATE lifecycle_policies SET last_evaluated_at = ? WHERE repository_id = ? AND policy_id = ?",
		imageState: "SELECT " + nodeCols + ", pushed_at, last_pulled_at, last_activated_at FROM manifests" +
			" WHERE repository_id = ? AND digest = ?",

		getPreview: "SELECT " + previewCols + " FROM lifecycle_previews WHERE repository_id = ?",
		upsertPreview: "INSERT INTO lifecycle_previews (repository_id, generation, status, policy_text, created_at)" +
			" VALUES (?, 1, 'IN_PROGRESS', ?, ?) ON CONFLICT (repository_id) DO UPDATE SET" +
			" generation = lifecycle_previews.generation + 1, status = 'IN_PROGRESS', policy_text = excluded.policy_text," +
			" expiring_count = 0, transitioning_count = 0, failure = '', created_at = excluded.created_at, finished_at = 0" +
			" WHERE lifecycle_previews.status <> 'IN_PROGRESS' RETURNING " + previewCols,
		pendingPreviews: "SELECT " + previewCols + " FROM lifecycle_previews WHERE status = 'IN_PROGRESS'" +
			" ORDER BY created_at, repository_id LIMIT ?",
		finishPreview: "UPDATE lifecycle_previews SET status = ?, expiring_count = ?, transitioning_count = ?, failure = ?," +
			" finished_at = ? WHERE repository_id = ? AND generation = ? AND status = 'IN_PROGRESS'",
		deleteResults: "DELETE FROM lifecycle_preview_results WHERE repository_id = ?",
		insertChunk:   "INSERT INTO lifecycle_preview_results (repository_id, chunk, results) VALUES (?, ?, ?)",
		chunks: "SELECT chunk, results FROM lifecycle_preview_results WHERE repository_id = ? AND chunk >= ?" +
			" ORDER BY chunk LIMIT ?",
	}
	for _, p := range []*string{&q.getPolicy, &q.putPolicy, &q.deletePolicy, &q.listPolicies, &q.markEvaluated,
		&q.imageState, &q.getPreview, &q.upsertPreview, &q.pendingPreviews, &q.finishPreview, &q.deleteResults,
		&q.insertChunk, &q.chunks} {
		*p = d.rebind(*p)
	}
	return q
}

// PutLifecyclePolicy stores the repository's policy, counting versions.
func (s *Store) PutLifecyclePolicy(ctx context.Context, p metastore.LifecyclePolicy) (metastore.LifecyclePolicy, error) {
	var out metastore.LifecyclePolicy
	err := s.write(ctx, "put lifecycle policy", func(ctx context.Context, tx *sql.Tx) error {
		if err := s.requireRepository(ctx, tx, p.RepositoryID); err != nil {
			return err
		}
		var err error
		out, err = scanLifecyclePolicy(tx.QueryRowContext(ctx, s.lq.putPolicy, p.RepositoryID, p.Text, p.PolicyID, nanos(s.now())))
		return err
	})
	return out, err
}

// GetLifecyclePolicy returns the repository's policy, or ErrNotFound.
func (s *Store) GetLifecyclePolicy(ctx context.Context, repoID int64) (metastore.LifecyclePolicy, error) {
	p, err := scanLifecyclePolicy(s.reader.QueryRowContext(ctx, s.lq.getPolicy, repoID))
	return p, s.fail("get lifecycle policy", err)
}

// DeleteLifecyclePolicy removes the policy and returns it, or ErrNotFound.
func (s *Store) DeleteLifecyclePolicy(ctx context.Context, repoID int64) (metastore.LifecyclePolicy, error) {
	var out metastore.LifecyclePolicy
	err := s.write(ctx, "delete lifecycle policy", func(ctx context.Context, tx *sql.Tx) error {
		var err error
		out, err = scanLifecyclePolicy(tx.QueryRowContext(ctx, s.lq.deletePolicy, repoID))
		return err
	})
	return out, err
}

// ListLifecyclePolicies pages through every repository's policy by repository id.
func (s *Store) ListLifecyclePolicies(ctx context.Context, afterRepoID int64, limit int) ([]metastore.LifecyclePolicy, error) {
	if limit <= 0 {
		return nil, s.fail("list lifecycle policies", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, func(r scanner) (metastore.LifecyclePolicy, error) {
		var p metastore.LifecyclePolicy
		var updated, evaluated int64
		err := r.Scan(&p.RepositoryID, &p.Text, &p.PolicyID, &p.Version, &updated, &evaluated, &p.AccountID, &p.RepositoryName)
		p.UpdatedAt, p.LastEvaluatedAt = fromNanos(updated), optionalTime(evaluated)
		return p, err
	}, s.lq.listPolicies, afterRepoID, limit)
	return out, s.fail("list lifecycle policies", err)
}

// MarkLifecycleEvaluated stamps lastEvaluatedAt if policyID is still the policy.
func (s *Store) MarkLifecycleEvaluated(ctx context.Context, repoID int64, policyID string, at time.Time) error {
	n, err := s.exec(ctx, s.lq.markEvaluated, nanos(at), repoID, policyID)
	return s.fail("mark lifecycle evaluated", notFoundIfNone(n, err))
}

func scanLifecyclePolicy(r scanner) (metastore.LifecyclePolicy, error) {
	var p metastore.LifecyclePolicy
	var updated, evaluated int64
	if err := r.Scan(&p.RepositoryID, &p.Text, &p.PolicyID, &p.Version, &updated, &evaluated); err != nil {
		return metastore.LifecyclePolicy{}, err
	}
	p.UpdatedAt, p.LastEvaluatedAt = fromNanos(updated), optionalTime(evaluated)
	return p, nil
}

// ApplyLifecycleAction expires or archives an image only if it is still as
// the run saw it. The check and the change are one transaction, so nothing
// (a tag moved onto the image, a pull, a restore) can slip in between.
func (s *Store) ApplyLifecycleAction(ctx context.Context, repoID int64, want metastore.LifecycleImage, action metastore.LifecycleAction) ([]metastore.StorageChange, error) {
	if action != metastore.LifecycleExpire && action != metastore.LifecycleArchive {
		return nil, s.fail("apply lifecycle action", fmt.Errorf("unknown lifecycle action %q", action))
	}
	var out []metastore.StorageChange
	err := s.write(ctx, "apply lifecycle action", func(ctx context.Context, tx *sql.Tx) error {
		out = nil
		var n storageNode
		var d, status string
		var subject sql.NullString
		var pushed, pulled, activated int64
		err := tx.QueryRowContext(ctx, s.lq.imageState, repoID, want.Digest.String()).Scan(&d, &status, &n.mediaType,
			&n.artifactType, &subject, &pushed, &pulled, &activated)
		if err != nil {
			return err // sql.ErrNoRows: ErrNotFound
		}
		n.digest, n.status, n.subject = digest.Digest(d), metastore.ImageStatus(status), digest.Digest(subject.String)
		tags, err := queryAll(ctx, tx, scanString, s.eq.tagsOf, repoID, d)
		if err != nil {
			return err
		}
		wantTags := slices.Sorted(slices.Values(want.Tags))
		if n.status != want.Status || pushed != nanos(want.PushedAt) || pulled != timeNanos(want.LastPulledAt) ||
			activated != timeNanos(want.LastActivatedAt) || !slices.Equal(tags, wantTags) {
			return fmt.Errorf("image %s changed since the lifecycle evaluation: %w", want.Digest, metastore.ErrConflict)
		}
		if action == metastore.LifecycleExpire {
			return s.deleteManifestTx(ctx, tx, repoID, n.digest)
		}
		out, err = s.archiveTx(ctx, tx, repoID, n, s.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// timeNanos encodes a time whose zero value means never (stored as 0).
func timeNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return nanos(t)
}

// StartLifecyclePreview makes a new IN_PROGRESS preview the latest.
func (s *Store) StartLifecyclePreview(ctx context.Context, repoID int64, text string) (metastore.LifecyclePreview, error) {
	var out metastore.LifecyclePreview
	err := s.write(ctx, "start lifecycle preview", func(ctx context.Context, tx *sql.Tx) error {
		if err := s.requireRepository(ctx, tx, repoID); err != nil {
			return err
		}
		var err error
		out, err = scanPreview(tx.QueryRowContext(ctx, s.lq.upsertPreview, repoID, text, nanos(s.now())))
		if errors.Is(err, sql.ErrNoRows) { // the WHERE refused: one is in progress
			return fmt.Errorf("repository %d: a preview is in progress: %w", repoID, metastore.ErrConflict)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.lq.deleteResults, repoID)
		return err
	})
	return out, err
}

// GetLifecyclePreview returns the latest preview, or ErrNotFound.
func (s *Store) GetLifecyclePreview(ctx context.Context, repoID int64) (metastore.LifecyclePreview, error) {
	p, err := scanPreview(s.reader.QueryRowContext(ctx, s.lq.getPreview, repoID))
	return p, s.fail("get lifecycle preview", err)
}

// PendingLifecyclePreviews lists IN_PROGRESS previews, oldest first.
func (s *Store) PendingLifecyclePreviews(ctx context.Context, limit int) ([]metastore.LifecyclePreview, error) {
	if limit <= 0 {
		return nil, s.fail("pending lifecycle previews", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, scanPreview, s.lq.pendingPreviews, limit)
	return out, s.fail("pending lifecycle previews", err)
}

// FinishLifecyclePreview records a preview's outcome and results in one
// transaction, in multi-row INSERTs.
func (s *Store) FinishLifecyclePreview(ctx context.Context, p metastore.LifecyclePreview, results []metastore.LifecyclePreviewResult) error {
	if p.Status != metastore.PreviewComplete && p.Status != metastore.PreviewFailed {
		return s.fail("finish lifecycle preview", fmt.Errorf("a preview finishes COMPLETE or FAILED, not %q", p.Status))
	}
	return s.write(ctx, "finish lifecycle preview", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.lq.finishPreview, p.Status, p.ExpiringCount, p.TransitioningCount, p.Failure,
			nanos(s.now()), p.RepositoryID, p.Generation)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = s.previewGone(ctx, tx, p.RepositoryID)
			}
			return err
		}
		if p.Status != metastore.PreviewComplete {
			return nil
		}
		return s.insertPreviewResults(ctx, tx, p.RepositoryID, results)
	})
}

// previewGone explains why a finish matched nothing.
func (s *Store) previewGone(ctx context.Context, tx *sql.Tx, repoID int64) error {
	if _, err := scanPreview(tx.QueryRowContext(ctx, s.lq.getPreview, repoID)); err != nil {
		return err // sql.ErrNoRows: ErrNotFound
	}
	return fmt.Errorf("repository %d: the preview was replaced or finished: %w", repoID, metastore.ErrConflict)
}

// chunkResult is one result as lifecycle_preview_results stores it.
type chunkResult struct {
	Digest       string   `json:"d"`
	Tags         []string `json:"t,omitempty"`
	PushedAt     int64    `json:"p"`
	Action       string   `json:"a"`
	Target       string   `json:"s,omitempty"`
	RulePriority int      `json:"r"`
	StorageClass string   `json:"c"`
}

// insertPreviewResults writes the results in chunks of previewChunk.
func (s *Store) insertPreviewResults(ctx context.Context, tx *sql.Tx, repoID int64, results []metastore.LifecyclePreviewResult) error {
	chunk := make([]chunkResult, 0, previewChunk)
	for start := 0; start < len(results); start += previewChunk {
		chunk = chunk[:0]
		for _, r := range results[start:min(start+previewChunk, len(results))] {
			chunk = append(chunk, chunkResult{Digest: r.Digest.String(), Tags: r.Tags, PushedAt: nanos(r.PushedAt), Action: r.Action,
				Target: r.TargetStorageClass, RulePriority: r.RulePriority, StorageClass: string(r.StorageClass)})
		}
		body, err := json.Marshal(chunk)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.lq.insertChunk, repoID, start/previewChunk, string(body)); err != nil {
			return err
		}
	}
	return nil
}

// LifecyclePreviewResults pages through the latest preview's results,
// decoding the chunks from the one holding afterPosition+1 on until the
// page is full.
func (s *Store) LifecyclePreviewResults(ctx context.Context, repoID int64, f metastore.PreviewResultFilter, afterPosition int64, limit int) ([]metastore.LifecyclePreviewResult, error) {
	if limit <= 0 {
		return nil, s.fail("lifecycle preview results", errBadLimit)
	}
	switch f.TagStatus {
	case "", metastore.TagStatusAny, metastore.TagStatusTagged, metastore.TagStatusUntagged:
	default:
		return nil, s.fail("lifecycle preview results", fmt.Errorf("unknown tag status %q", f.TagStatus))
	}
	var want map[string]bool
	if len(f.Digests) > 0 {
		want = make(map[string]bool, len(f.Digests))
		for _, d := range f.Digests {
			want[d.String()] = true
		}
	}
	var out []metastore.LifecyclePreviewResult
	from := max(afterPosition, 0) / previewChunk
	for len(out) < limit {
		last, n, err := s.previewChunks(ctx, repoID, from, func(n int64, chunk []chunkResult) bool {
			for i, c := range chunk {
				pos := n*previewChunk + int64(i) + 1
				tagged := len(c.Tags) > 0
				if pos <= afterPosition || (want != nil && !want[c.Digest]) ||
					(f.TagStatus == metastore.TagStatusTagged && !tagged) || (f.TagStatus == metastore.TagStatusUntagged && tagged) {
					continue
				}
				out = append(out, metastore.LifecyclePreviewResult{Position: pos, Digest: digest.Digest(c.Digest), Tags: c.Tags,
					PushedAt: fromNanos(c.PushedAt), Action: c.Action, TargetStorageClass: c.Target, RulePriority: c.RulePriority,
					StorageClass: metastore.StorageClass(c.StorageClass)})
				if len(out) == limit {
					return false
				}
			}
			return true
		})
		if err != nil {
			return nil, s.fail("lifecycle preview results", err)
		}
		if n < previewChunksRead {
			break // no chunks left
		}
		from = last + 1
	}
	return out, nil
}

// previewChunksRead is how many result chunks one query reads: a page
// needs one or two unless a filter skips most results, and a query
// without a limit would make PostgreSQL send every remaining chunk even
// when the page is full after the first.
const previewChunksRead = 4

// previewChunks decodes up to previewChunksRead chunks from chunk from on
// and hands each to use until it returns false; it returns the last chunk
// number read and how many were read.
func (s *Store) previewChunks(ctx context.Context, repoID, from int64, use func(n int64, chunk []chunkResult) bool) (last int64, read int, err error) {
	rows, err := s.reader.QueryContext(ctx, s.lq.chunks, repoID, from, previewChunksRead)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var body string
		if err := rows.Scan(&last, &body); err != nil {
			return 0, 0, err
		}
		read++
		var chunk []chunkResult // fresh: decoding into used elements would keep fields the JSON omits
		if err := json.Unmarshal([]byte(body), &chunk); err != nil {
			return 0, 0, fmt.Errorf("chunk %d: %w", last, err)
		}
		if !use(last, chunk) {
			break // the page is full: read no further
		}
	}
	return last, read, rows.Err()
}

func scanPreview(r scanner) (metastore.LifecyclePreview, error) {
	var p metastore.LifecyclePreview
	var created, finished int64
	err := r.Scan(&p.RepositoryID, &p.Generation, &p.Status, &p.PolicyText, &p.ExpiringCount, &p.TransitioningCount,
		&p.Failure, &created, &finished)
	p.CreatedAt, p.FinishedAt = fromNanos(created), optionalTime(finished)
	return p, err
}
