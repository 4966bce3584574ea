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

	ImageStatus       = metastore.ImageStatus
	ImageFilter       = metastore.ImageFilter
	StorageClass      = metastore.StorageClass
	StorageChange     = metastore.StorageChange
	PullTimeExclusion = metastore.PullTimeExclusion

	LifecyclePolicy        = metastore.LifecyclePolicy
	LifecyclePreview       = metastore.LifecyclePreview
	LifecyclePreviewResult = metastore.LifecyclePreviewResult
)

// Lifecycle preview statuses.
const (
	PreviewInProgress = metastore.PreviewInProgress
	PreviewComplete   = metastore.PreviewComplete
	PreviewExpired    = metastore.PreviewExpired
	PreviewFailed     = metastore.PreviewFailed
)

// Tag-status filters.
const (
	TagStatusAny      = metastore.TagStatusAny
	TagStatusTagged   = metastore.TagStatusTagged
	TagStatusUntagged = metastore.TagStatusUntagged
)

// Image statuses (ImageStatusAny only as a filter) and storage classes.
const (
	ImageActive     = metastore.ImageActive
	ImageArchived   = metastore.ImageArchived
	ImageActivating = metastore.ImageActivating
	ImageStatusAny  = metastore.ImageStatusAny
	StorageStandard = metastore.StorageStandard
	StorageArchive  = metastore.StorageArchive
)
