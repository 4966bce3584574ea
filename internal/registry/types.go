package registry

import "github.com/berth-registry/berth/internal/metastore"

// Records the service hands to front ends. Front ends use these names and
// never import the metadata store (a layering test enforces it).
type (
	Repository  = metastore.Repository
	ResourceTag = metastore.ResourceTag
	Image       = metastore.Image
	Manifest    = metastore.Manifest
	TagStatus   = metastore.TagStatus
)

// Tag-status filters.
const (
	TagStatusAny      = metastore.TagStatusAny
	TagStatusTagged   = metastore.TagStatusTagged
	TagStatusUntagged = metastore.TagStatusUntagged
)
