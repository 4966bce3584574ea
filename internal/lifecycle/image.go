package lifecycle

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// Image is one image of the repository as lifecycle sees it. Pass every
// image (manifest, index, referrer) of the repository, each digest once.
type Image struct {
	Digest digest.Digest
	Tags   []string // none for an untagged image

	// PushedAt is when the image was pushed (ImageDetail.imagePushedAt).
	PushedAt time.Time
	// LastRecordedPullTime is the last recorded pull; zero if never pulled.
	LastRecordedPullTime time.Time
	// LastArchivedAt is when the image last moved to Archive; zero if never.
	LastArchivedAt time.Time
	// LastActivatedAt is when the image was last restored from Archive; zero
	// if never. A restored image counts as pushed at this time. An image
	// whose restore is under way (ACTIVATING) is best passed as Standard with
	// LastActivatedAt set to the restore request: it then behaves like the
	// fresh push it is about to become.
	LastActivatedAt time.Time
	// StorageClass is Standard or Archive; the zero value means Standard.
	StorageClass StorageClass

	// ReferencedBy lists the image indexes (manifest lists) in the
	// repository whose manifests list this image; nil for most images.
	ReferencedBy []digest.Digest
	// Subject is the image this one refers to (an OCI subject: signature,
	// SBOM, attestation); empty for ordinary images.
	Subject digest.Digest
}

// storage class codes used during evaluation.
const (
	classOther uint8 = iota // neither Standard nor Archive: no rule selects it
	classStandard
	classArchive
)

func classCode(c StorageClass) uint8 {
	switch c {
	case "", Standard:
		return classStandard
	case Archive:
		return classArchive
	}
	return classOther
}

// effectivePush is the image's push time for ordering and for
// sinceImagePushed: a restore counts as a fresh push.
func (img *Image) effectivePush() time.Time {
	if img.LastActivatedAt.After(img.PushedAt) {
		return img.LastActivatedAt
	}
	return img.PushedAt
}
