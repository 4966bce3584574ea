package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

// maxImagesPerQuery bounds the IN list of one GetImages query; ECR's
// DescribeImages and BatchGetImage take at most 100 image ids.
const maxImagesPerQuery = 100

// ListImages returns up to p.Limit images of the repository with digests
// after p.Last, in byte order, each with its tags: one query on the reader
// pool (prepared for the default ACTIVE filter), tags gathered by a
// correlated subquery (no query per image). A missing repository has no
// images; an unknown filter is an error.
func (s *Store) ListImages(ctx context.Context, repoID int64, f metastore.ImageFilter, p metastore.Page) ([]metastore.Image, error) {
	if p.Limit <= 0 {
		return nil, s.fail("list images", errBadLimit)
	}
	var rows *sql.Rows
	var err error
	if f.Status == metastore.ImageActive {
		var st *sql.Stmt
		switch f.TagStatus {
		case metastore.TagStatusAny:
			st = s.rs.listImagesAny
		case metastore.TagStatusTagged:
			st = s.rs.listImagesTagged
		case metastore.TagStatusUntagged:
			st = s.rs.listImagesUntagged
		default:
			return nil, s.fail("list images", fmt.Errorf("unknown tag status %q", f.TagStatus))
		}
		rows, err = st.QueryContext(ctx, repoID, after(p), p.Limit)
	} else {
		query, ok := s.sq.listImages[f]
		if !ok {
			return nil, s.fail("list images", fmt.Errorf("unknown filter tag status %q, image status %q", f.TagStatus, f.Status))
		}
		rows, err = s.reader.QueryContext(ctx, query, repoID, after(p), p.Limit)
	}
	out, err := collect(rows, err, scanImage)
	return out, s.fail("list images", err)
}

// GetImages returns the stored images among digests, in the order given,
// each once (at its first occurrence); missing digests are skipped. One
// query per maxImagesPerQuery digests.
func (s *Store) GetImages(ctx context.Context, repoID int64, digests []digest.Digest) ([]metastore.Image, error) {
	found := make(map[digest.Digest]metastore.Image, len(digests))
	for chunk := range slices.Chunk(digests, maxImagesPerQuery) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, repoID)
		for _, d := range chunk {
			args = append(args, d.String())
		}
		query := s.d.rebind(s.q.getImagesPrefix + strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ") + ")")
		imgs, err := queryAll(ctx, s.reader, scanImage, query, args...)
		if err != nil {
			return nil, s.fail("get images", err)
		}
		for _, img := range imgs {
			found[img.Digest] = img
		}
	}
	out := make([]metastore.Image, 0, len(found))
	for _, d := range digests {
		if img, ok := found[d]; ok {
			out = append(out, img)
			delete(found, d) // a repeated digest is returned once
		}
	}
	return out, nil
}

// scanImage reads imageColsM. The tag list arrives joined by ',' (which no
// valid tag contains) in no guaranteed order, so it is sorted here: byte
// order, as ListTags returns tags.
func scanImage(r scanner) (metastore.Image, error) {
	var img metastore.Image
	var d, status string
	var subject, tags sql.NullString
	var pushed, pulled, archived, activated int64
	err := r.Scan(&d, &img.MediaType, &img.ArtifactType, &subject, &img.Size, &img.ImageSize, &pushed,
		&status, &pulled, &archived, &activated, &tags)
	if err != nil {
		return metastore.Image{}, err
	}
	img.Digest, img.Subject, img.PushedAt = digest.Digest(d), digest.Digest(subject.String), fromNanos(pushed)
	img.Status = metastore.ImageStatus(status)
	img.LastPulledAt, img.LastArchivedAt, img.LastActivatedAt = optionalTime(pulled), optionalTime(archived), optionalTime(activated)
	if tags.Valid {
		img.Tags = strings.Split(tags.String, ",")
		slices.Sort(img.Tags)
	}
	return img, nil
}
