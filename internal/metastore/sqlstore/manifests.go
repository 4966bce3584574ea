package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

// PutManifest stores m, its references and its tags in one write
// transaction. Every reference must resolve in the repository (a blob
// linked to it, a manifest stored in it), else the first unresolved one is
// returned as a *metastore.MissingReferenceError and nothing is written.
// Re-putting a stored digest keeps the stored row (first PushedAt, body) and
// only moves the tags; it restores an archived image at once (restoreOnPush).
// ErrNotFound when the repository does not exist.
func (s *Store) PutManifest(ctx context.Context, m metastore.Manifest, refs []metastore.Reference, tags []string, opts metastore.PutOptions) error {
	now := s.now()
	if m.PushedAt.IsZero() {
		m.PushedAt = now
	}
	ann, err := encodeAnnotations(m.Annotations)
	if err != nil {
		return s.fail("put manifest", err)
	}
	return s.write(ctx, "put manifest", func(ctx context.Context, tx *sql.Tx) error {
		acct, repo, err := s.repositoryOf(ctx, tx, m.RepositoryID)
		if err != nil {
			return err
		}
		if err := s.checkReferences(ctx, tx, m.RepositoryID, refs); err != nil {
			return err
		}
		inserted, err := execTx(ctx, tx, s.q.insertManifest, m.RepositoryID, m.Digest.String(), m.MediaType,
			m.ArtifactType, nullDigest(m.Subject), ann, m.Size, nonNil(m.Body), m.ImageSize, nanos(m.PushedAt))
		if err != nil {
			return err
		}
		for _, r := range refs {
			_, err := tx.ExecContext(ctx, s.q.insertReference, m.RepositoryID, m.Digest.String(), string(r.Kind), r.Digest.String())
			if err != nil {
				return err
			}
		}
		for _, t := range tags {
			if opts.Immutable != nil && opts.Immutable(t) {
				var cur string
				err := tx.QueryRowContext(ctx, s.q.resolveTag, m.RepositoryID, t).Scan(&cur)
				if err == nil {
					return &metastore.TagExistsError{Tag: t, Digest: digest.Digest(cur)}
				}
				if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, s.q.upsertTag, m.RepositoryID, t, m.Digest.String(), nanos(now)); err != nil {
				return err
			}
		}
		restored, err := s.restoreOnPush(ctx, tx, m.RepositoryID, m.Digest, inserted == 1, refs, now)
		if err != nil {
			return err
		}
		if err := s.emitStorageChanges(ctx, tx, restored); err != nil {
			return err
		}
		return s.emitAll(ctx, tx, imageEvents(metastore.Event{AccountID: acct, Repository: repo,
			DetailType: metastore.DetailTypeImageAction, ActionType: metastore.ActionPush, Digest: m.Digest,
			ManifestMediaType: m.MediaType, ArtifactMediaType: m.ArtifactType, Time: now}, tags))
	})
}

// checkReferences returns the first reference that does not resolve in the
// repository as a *metastore.MissingReferenceError.
func (s *Store) checkReferences(ctx context.Context, tx *sql.Tx, repoID int64, refs []metastore.Reference) error {
	for _, r := range refs {
		var query string
		switch r.Kind {
		case metastore.RefBlob:
			query = s.q.blobSize
		case metastore.RefManifest:
			query = s.q.manifestExists
		default:
			return fmt.Errorf("reference %s: unknown kind %q", r.Digest, r.Kind)
		}
		ok, err := exists(ctx, tx, query, repoID, r.Digest.String())
		if err != nil {
			return err
		}
		if !ok {
			return &metastore.MissingReferenceError{Kind: r.Kind, Digest: r.Digest}
		}
	}
	return nil
}

// GetManifest returns the manifest or ErrNotFound.
func (s *Store) GetManifest(ctx context.Context, repoID int64, d digest.Digest) (metastore.Manifest, error) {
	m, err := scanManifest(s.rs.getManifest.QueryRowContext(ctx, repoID, d.String()))
	return m, s.fail("get manifest", err)
}

// ResolveTag returns the digest a tag points to, or ErrNotFound.
func (s *Store) ResolveTag(ctx context.Context, repoID int64, tag string) (digest.Digest, error) {
	var d string
	err := s.rs.resolveTag.QueryRowContext(ctx, repoID, tag).Scan(&d)
	return digest.Digest(d), s.fail("resolve tag", err)
}

// GetManifestByTag returns the manifest a tag points to, or ErrNotFound: one
// primary-key join on the reader pool, the hottest read in the registry.
func (s *Store) GetManifestByTag(ctx context.Context, repoID int64, tag string) (metastore.Manifest, error) {
	m, err := scanManifest(s.rs.getManifestByTag.QueryRowContext(ctx, repoID, tag))
	return m, s.fail("get manifest by tag", err)
}

// DeleteManifest removes a manifest with its tags and reference rows.
// ErrNotFound when missing; ErrReferenced while another manifest of the
// repository (an index) lists it as a child. Events: one DELETE per tag the
// image had, or one without a tag when it had none.
func (s *Store) DeleteManifest(ctx context.Context, repoID int64, d digest.Digest) error {
	return s.write(ctx, "delete manifest", func(ctx context.Context, tx *sql.Tx) error {
		return s.deleteManifestTx(ctx, tx, repoID, d)
	})
}

// deleteManifestTx is DeleteManifest inside tx (also lifecycle's expiry).
func (s *Store) deleteManifestTx(ctx context.Context, tx *sql.Tx, repoID int64, d digest.Digest) error {
	var mediaType, artifactType string
	err := tx.QueryRowContext(ctx, s.eq.manifestTypes, repoID, d.String()).Scan(&mediaType, &artifactType)
	if err != nil {
		return err // sql.ErrNoRows: ErrNotFound
	}
	child, err := exists(ctx, tx, s.q.manifestIsChild, repoID, d.String(), d.String())
	if err != nil {
		return err
	}
	if child {
		return metastore.ErrReferenced
	}
	var tags []string
	if !s.noOutbox {
		if tags, err = queryAll(ctx, tx, scanString, s.eq.tagsOf, repoID, d.String()); err != nil {
			return err
		}
	}
	if _, err = tx.ExecContext(ctx, s.q.deleteManifest, repoID, d.String()); err != nil {
		return err
	}
	return s.emitImageDelete(ctx, tx, repoID, d, mediaType, artifactType, tags)
}

// DeleteTag removes one tag; ErrNotFound if missing. The manifest stays.
// Event: a DELETE of the image the tag named, with the tag.
func (s *Store) DeleteTag(ctx context.Context, repoID int64, tag string) error {
	if s.noOutbox {
		return s.fail("delete tag", notFoundIfNone(s.exec(ctx, s.q.deleteTag, repoID, tag)))
	}
	return s.write(ctx, "delete tag", func(ctx context.Context, tx *sql.Tx) error {
		var d string
		if err := tx.QueryRowContext(ctx, s.eq.deleteTagReturning, repoID, tag).Scan(&d); err != nil {
			return err // sql.ErrNoRows: ErrNotFound
		}
		var mediaType, artifactType string
		err := tx.QueryRowContext(ctx, s.eq.manifestTypes, repoID, d).Scan(&mediaType, &artifactType)
		if err != nil {
			return err
		}
		return s.emitImageDelete(ctx, tx, repoID, digest.Digest(d), mediaType, artifactType, []string{tag})
	})
}

// emitImageDelete writes the DELETE events of an image removed with tags.
func (s *Store) emitImageDelete(ctx context.Context, tx *sql.Tx, repoID int64, d digest.Digest, mediaType, artifactType string, tags []string) error {
	if s.noOutbox {
		return nil
	}
	acct, repo, err := s.repositoryOf(ctx, tx, repoID)
	if err != nil {
		return err
	}
	return s.emitAll(ctx, tx, imageEvents(metastore.Event{AccountID: acct, Repository: repo,
		DetailType: metastore.DetailTypeImageAction, ActionType: metastore.ActionDelete, Digest: d,
		ManifestMediaType: mediaType, ArtifactMediaType: artifactType}, tags))
}

func scanString(r scanner) (string, error) {
	var v string
	return v, r.Scan(&v)
}

// ListTags returns up to p.Limit tags named after p.Last, in byte order. A
// missing repository has no tags.
func (s *Store) ListTags(ctx context.Context, repoID int64, p metastore.Page) ([]metastore.Tag, error) {
	if p.Limit <= 0 {
		return nil, s.fail("list tags", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, scanTag, s.q.listTags, repoID, after(p), p.Limit)
	return out, s.fail("list tags", err)
}

// Referrers returns a page of the manifests whose subject is d, ordered by
// digest, only those of artifactType when it is not empty. d need not be
// stored.
func (s *Store) Referrers(ctx context.Context, repoID int64, d digest.Digest, artifactType string, p metastore.Page) ([]metastore.Manifest, error) {
	if p.Limit <= 0 {
		return nil, s.fail("referrers", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, scanManifest, s.q.referrers, repoID, d.String(), artifactType, artifactType,
		after(p), p.Limit)
	return out, s.fail("referrers", err)
}

func scanTag(r scanner) (metastore.Tag, error) {
	var t metastore.Tag
	var d string
	var updated int64
	if err := r.Scan(&t.Name, &d, &updated); err != nil {
		return metastore.Tag{}, err
	}
	t.Digest, t.UpdatedAt = digest.Digest(d), fromNanos(updated)
	return t, nil
}

func scanManifest(r scanner) (metastore.Manifest, error) {
	var m metastore.Manifest
	var d string
	var subject, ann sql.NullString
	var pushed int64
	var status string
	err := r.Scan(&m.RepositoryID, &d, &m.MediaType, &m.ArtifactType, &subject, &ann,
		&m.Size, &m.Body, &m.ImageSize, &pushed, &status)
	if err != nil {
		return metastore.Manifest{}, err
	}
	m.Digest, m.Subject, m.PushedAt = digest.Digest(d), digest.Digest(subject.String), fromNanos(pushed)
	m.Status = metastore.ImageStatus(status)
	if ann.Valid {
		if err := json.Unmarshal([]byte(ann.String), &m.Annotations); err != nil {
			return metastore.Manifest{}, fmt.Errorf("manifest %s: decode annotations: %w", d, err)
		}
	}
	return m, nil
}

// encodeAnnotations stores no annotations as NULL, others as a JSON object.
func encodeAnnotations(a map[string]string) (sql.NullString, error) {
	if len(a) == 0 {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// nullDigest stores an absent digest as NULL.
func nullDigest(d digest.Digest) sql.NullString {
	return sql.NullString{String: d.String(), Valid: d != ""}
}
