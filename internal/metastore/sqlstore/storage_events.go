package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/berth-registry/berth/internal/metastore"
)

// emitStorageChanges writes the UPDATE_STORAGE_CLASS events (spec §9.3,
// §9.4) of changes, inside the transaction that made them. An image that
// reached ARCHIVED reports target ARCHIVE; one whose restore completed
// (ACTIVE) reports target STANDARD with last-activated-at, as ECR does. A
// restore that has only started (ACTIVATING) is not an event yet. A
// referrer's change is an "ECR Referrer Action".
func (s *Store) emitStorageChanges(ctx context.Context, tx *sql.Tx, changes []metastore.StorageChange) error {
	if s.noOutbox {
		return nil
	}
	type repoName struct{ account, name string }
	repos := map[int64]repoName{}
	for _, c := range changes {
		detail := map[string]string{}
		switch c.To {
		case metastore.ImageArchived:
			detail["target-storage-class"] = "ARCHIVE"
		case metastore.ImageActive:
			detail["target-storage-class"] = "STANDARD"
			detail["last-activated-at"] = c.At.UTC().Format("2006-01-02T15:04:05.000Z")
		default:
			continue
		}
		r, ok := repos[c.RepositoryID]
		if !ok {
			var err error
			if r.account, r.name, err = s.repositoryOf(ctx, tx, c.RepositoryID); err != nil {
				return err
			}
			repos[c.RepositoryID] = r
		}
		body, err := json.Marshal(detail)
		if err != nil {
			return err
		}
		dt := metastore.DetailTypeImageAction
		if c.Subject != "" {
			dt = metastore.DetailTypeReferrerAction
		}
		if err := s.emit(ctx, tx, metastore.Event{AccountID: r.account, Repository: r.name, DetailType: dt,
			ActionType: metastore.ActionUpdateStorageClass, Digest: c.Digest, ManifestMediaType: c.MediaType,
			ArtifactMediaType: c.ArtifactType, Detail: body, Time: c.At}); err != nil {
			return err
		}
	}
	return nil
}
