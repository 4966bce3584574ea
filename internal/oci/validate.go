package oci

import (
	"math"
	"strconv"

	"github.com/opencontainers/go-digest"
)

// parseImage validates a Docker schema 2 or OCI image manifest.
//
// It checks what a registry relies on (schema version, config and layer descriptors, the
// subject) and no more: image-spec rules a registry does not act on, such as "artifactType MUST
// be set when config is the empty descriptor" or "layers SHOULD have at least one entry", are
// left to clients, because rejecting what other registries store breaks copying between them.
// For the same reason a missing or null "layers" is read as no layers (Go clients marshal a nil
// slice as null).
func parseImage(mediaType string, w *wireManifest) (*Manifest, error) {
	if err := checkSchemaVersion(w.SchemaVersion, 2, mediaType); err != nil {
		return nil, err
	}
	// An image that also carries "manifests" could be read as an index by a client that
	// ignores mediaType (CVE-2021-41190); refuse to store such ambiguous content.
	if w.Manifests != nil {
		return nil, newError(ErrManifestInvalid,
			"an image manifest (%s) must not have a \"manifests\" field", mediaType)
	}
	if w.Config == nil {
		return nil, newError(ErrManifestInvalid, "config is required in an image manifest (%s)",
			mediaType)
	}
	if err := checkDescriptor(w.Config, "config", -1); err != nil {
		return nil, err
	}
	total := w.Config.Size
	for i := range w.Layers {
		if err := checkDescriptor(&w.Layers[i], "layers", i); err != nil {
			return nil, err
		}
		if total > math.MaxInt64-w.Layers[i].Size {
			return nil, newError(ErrManifestInvalid,
				"the sizes of config and layers add up to more than %d bytes", int64(math.MaxInt64))
		}
		total += w.Layers[i].Size
	}
	m := &Manifest{
		MediaType:    mediaType,
		Kind:         KindImage,
		Config:       w.Config,
		Layers:       w.Layers,
		ArtifactType: w.Config.MediaType,
	}
	if mediaType == MediaTypeImageManifest {
		if err := setOCIFields(m, w); err != nil {
			return nil, err
		}
		if w.ArtifactType != "" {
			m.ArtifactType = w.ArtifactType
		}
	}
	return m, nil
}

// parseIndex validates a Docker manifest list or OCI image index. A missing or null "manifests"
// is read as an empty index, for the same reason as null layers in parseImage.
func parseIndex(mediaType string, w *wireManifest) (*Manifest, error) {
	if err := checkSchemaVersion(w.SchemaVersion, 2, mediaType); err != nil {
		return nil, err
	}
	// The mirror image of the check in parseImage (CVE-2021-41190).
	if w.Config != nil || w.Layers != nil {
		return nil, newError(ErrManifestInvalid,
			"an index (%s) must not have \"config\" or \"layers\" fields", mediaType)
	}
	for i := range w.Manifests {
		if err := checkDescriptor(&w.Manifests[i], "manifests", i); err != nil {
			return nil, err
		}
	}
	m := &Manifest{MediaType: mediaType, Kind: KindIndex, Manifests: w.Manifests}
	if mediaType == MediaTypeImageIndex {
		if err := setOCIFields(m, w); err != nil {
			return nil, err
		}
		// Indexes have no config to fall back on: distribution-spec says omit the type.
		m.ArtifactType = w.ArtifactType
	}
	return m, nil
}

// setOCIFields copies the fields only the OCI formats define, validating the subject.
func setOCIFields(m *Manifest, w *wireManifest) error {
	if w.Subject != nil {
		if err := checkDescriptor(w.Subject, "subject", -1); err != nil {
			return err
		}
		m.Subject = w.Subject
	}
	m.Annotations = w.Annotations
	return nil
}

// parseSchema1 validates a Docker schema 1 manifest, signed or not.
//
// Signatures are not verified, and the name and tag fields are not compared with the
// repository and tag pushed to: ECR stores schema 1 manifests as pushed, the signatures were
// made with throwaway libtrust keys that prove nothing about the publisher, and distribution v3
// dropped schema 1 altogether. Berth keeps accepting it only so that old images can still be
// copied in; it does check what it relies on, the layer digests.
func parseSchema1(mediaType string, w *wireManifest) (*Manifest, error) {
	if err := checkSchemaVersion(w.SchemaVersion, 1, mediaType); err != nil {
		return nil, err
	}
	switch {
	case w.Name == "":
		return nil, newError(ErrManifestInvalid, "name is required in a schema 1 manifest")
	case w.Tag == "":
		return nil, newError(ErrManifestInvalid, "tag is required in a schema 1 manifest")
	case len(w.FSLayers) == 0:
		return nil, newError(ErrManifestInvalid, "fsLayers must list at least one layer in a "+
			"schema 1 manifest")
	}
	layers := make([]Descriptor, len(w.FSLayers))
	for i, l := range w.FSLayers {
		if err := checkDigest(l.BlobSum, "fsLayers", i, "blobSum"); err != nil {
			return nil, err
		}
		layers[i] = Descriptor{Digest: l.BlobSum}
	}
	return &Manifest{MediaType: mediaType, Kind: KindSchema1, Layers: layers}, nil
}

func checkSchemaVersion(got *int, want int, mediaType string) error {
	if got == nil {
		return newError(ErrManifestInvalid, "schemaVersion is required (%d for %s)", want, mediaType)
	}
	if *got != want {
		return newError(ErrManifestInvalid, "schemaVersion must be %d for %s, got %d",
			want, mediaType, *got)
	}
	return nil
}

// checkDescriptor validates the descriptor at field[index] (index < 0 for a single field):
// mediaType set, digest supported, size not negative. Everything a registry does with a
// descriptor (existence checks, referrers, size accounting) depends on those three.
func checkDescriptor(d *Descriptor, field string, index int) error {
	if d.MediaType == "" {
		return newError(ErrManifestInvalid, "%s.mediaType is required", fieldPath(field, index))
	}
	if err := checkDigest(d.Digest, field, index, "digest"); err != nil {
		return err
	}
	if d.Size < 0 {
		return newError(ErrManifestInvalid, "%s.size must not be negative, got %d",
			fieldPath(field, index), d.Size)
	}
	return nil
}

func checkDigest(d digest.Digest, field string, index int, member string) error {
	if d == "" {
		return newError(ErrManifestInvalid, "%s.%s is required", fieldPath(field, index), member)
	}
	if _, err := ParseDigest(string(d)); err != nil {
		// The digest error's text is kept but not its sentinel: the failure is the manifest's,
		// and a front end must answer MANIFEST_INVALID, not DIGEST_INVALID.
		return newError(ErrManifestInvalid, "%s.%s: %s", fieldPath(field, index), member, err)
	}
	return nil
}

func fieldPath(field string, index int) string {
	if index < 0 {
		return field
	}
	return field + "[" + strconv.Itoa(index) + "]"
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}
