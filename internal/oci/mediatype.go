package oci

import (
	"strconv"
	"strings"
)

// Manifest media types Berth stores, the media types of the blobs they reference that Berth has
// to recognise, and nothing more. The values are spelled out rather than taken from image-spec so
// that the OCI and Docker names sit side by side and the deprecated non-distributable constants do
// not leak deprecation warnings into every user of this package.
const (
	// MediaTypeDockerManifestSchema1 is the unsigned Docker Image Manifest V2, Schema 1 (legacy).
	MediaTypeDockerManifestSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
	// MediaTypeDockerManifestSchema1Signed is Schema 1 with JWS signatures, what docker pushed.
	MediaTypeDockerManifestSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	// MediaTypeDockerManifest is the Docker Image Manifest V2, Schema 2.
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	// MediaTypeDockerManifestList is the Docker manifest list (multi-platform).
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	// MediaTypeImageManifest is the OCI image manifest.
	MediaTypeImageManifest = "application/vnd.oci.image.manifest.v1+json"
	// MediaTypeImageIndex is the OCI image index.
	MediaTypeImageIndex = "application/vnd.oci.image.index.v1+json"

	// MediaTypeImageConfig is the OCI image configuration.
	MediaTypeImageConfig = "application/vnd.oci.image.config.v1+json"
	// MediaTypeDockerConfig is the Docker image configuration.
	MediaTypeDockerConfig = "application/vnd.docker.container.image.v1+json"
	// MediaTypeEmptyJSON is the OCI empty descriptor ("{}"), used as config and layer of artifacts.
	MediaTypeEmptyJSON = "application/vnd.oci.empty.v1+json"

	// MediaTypeImageLayer, MediaTypeImageLayerGzip and MediaTypeImageLayerZstd are OCI layers.
	MediaTypeImageLayer     = "application/vnd.oci.image.layer.v1.tar"
	MediaTypeImageLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
	MediaTypeImageLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
	// MediaTypeDockerLayer is the Docker schema 2 layer.
	MediaTypeDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip"

	// Non-distributable ("foreign") layers: their content may not be redistributed (e.g. Windows
	// base layers), so clients fetch them from the descriptor's urls and a registry never
	// requires them to have been pushed. image-spec 1.1 deprecates them, but images using them
	// are still pulled and copied every day.
	MediaTypeImageLayerNonDistributable     = "application/vnd.oci.image.layer.nondistributable.v1.tar"
	MediaTypeImageLayerNonDistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
	MediaTypeImageLayerNonDistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
	MediaTypeDockerForeignLayer             = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// Kind is the shape of a manifest, which decides what it references. The zero Kind is not a
// valid kind, so a forgotten assignment cannot pass for an image.
type Kind int

const (
	// KindImage is a Docker schema 2 or OCI image manifest: a config plus layers (blobs).
	KindImage Kind = iota + 1
	// KindIndex is a Docker manifest list or OCI image index: a list of other manifests.
	KindIndex
	// KindSchema1 is a legacy Docker schema 1 manifest: fsLayers blob sums, no config.
	KindSchema1
)

// String returns a lowercase name suitable for logs and metrics labels.
func (k Kind) String() string {
	switch k {
	case KindImage:
		return "image"
	case KindIndex:
		return "index"
	case KindSchema1:
		return "schema1"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// KindOf returns the kind of manifest a media type denotes, and false when mediaType is not a
// manifest media type Berth stores. mediaType must be exact (no parameters); it is what
// Manifest.MediaType holds and what a front end compares with an Accept header entry.
func KindOf(mediaType string) (Kind, bool) {
	switch mediaType {
	case MediaTypeDockerManifest, MediaTypeImageManifest:
		return KindImage, true
	case MediaTypeDockerManifestList, MediaTypeImageIndex:
		return KindIndex, true
	case MediaTypeDockerManifestSchema1, MediaTypeDockerManifestSchema1Signed:
		return KindSchema1, true
	}
	return 0, false
}

// IsNonDistributable reports whether mediaType is a non-distributable (foreign) layer type.
func IsNonDistributable(mediaType string) bool {
	switch mediaType {
	case MediaTypeImageLayerNonDistributable, MediaTypeImageLayerNonDistributableGzip,
		MediaTypeImageLayerNonDistributableZstd, MediaTypeDockerForeignLayer:
		return true
	}
	return false
}

// contentTypeMediaType returns the media type a Content-Type header declares for a manifest PUT:
// parameters stripped and lower-cased (RFC 9110 media types are case-insensitive), and "" for the
// values generic HTTP clients send when they know nothing about the body ("", application/json,
// application/octet-stream), so that those fall back to the body's own mediaType field.
func contentTypeMediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch mt {
	case "application/json", "application/octet-stream":
		return ""
	}
	return mt
}
