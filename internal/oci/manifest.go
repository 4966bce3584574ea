package oci

import (
	"encoding/json"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxManifestSize is the largest manifest body Berth accepts: 4 MiB, ECR's imageManifest limit.
const MaxManifestSize = 4 << 20

// Descriptor is an OCI content descriptor, as found in config, layers, manifests and subject.
// The JSON shape is the image-spec's, so a Descriptor can be written back into API responses
// (e.g. the referrers index) as is. The optional "data" field is not decoded: a registry never
// needs the embedded bytes, and the stored manifest keeps them anyway.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Platform     *ocispec.Platform `json:"platform,omitempty"`
}

// Manifest is a validated manifest or index, reduced to what a registry acts on. It holds no
// reference to the body it was parsed from; store and serve the original bytes, never a
// re-encoding, because the digest is computed over those bytes.
type Manifest struct {
	// MediaType is the effective media type: the body's mediaType field, else the Content-Type
	// of the PUT, else the type inferred from the body's shape (see ParseManifest). It is always
	// one of the manifest media types of KindOf, and it is what the registry serves back as
	// Content-Type.
	MediaType string
	Kind      Kind

	// Config and Layers are set for KindImage; Layers also for KindSchema1, where each
	// descriptor carries only the Digest of an fsLayers blobSum, in the manifest's order.
	Config *Descriptor
	Layers []Descriptor

	// Manifests is set for KindIndex.
	Manifests []Descriptor

	// Subject, when set, makes this manifest a referrer of Subject.Digest. Only OCI manifests
	// and indexes have one: the Docker formats do not define the field, so a "subject" in them
	// is ignored like any other unknown field, as distribution does.
	Subject *Descriptor

	// ArtifactType is the effective artifact type the referrers API reports (distribution-spec
	// v1.1 "Listing Referrers"): the artifactType field when set; otherwise config.mediaType for
	// image manifests (also Docker schema 2, whose config type ECR reports as the image's
	// artifactMediaType); otherwise empty (indexes, schema 1).
	ArtifactType string

	// Annotations are the manifest-level annotations of OCI manifests and indexes.
	Annotations map[string]string
}

// wireManifest is the union of the fields of every manifest format, so that a body is decoded
// exactly once whatever its type; which fields count is decided once the media type is known.
// A field known to any format must have the right JSON type in every format: a body that is
// well-typed for one reading and ill-typed for another is rejected rather than guessed at.
type wireManifest struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *Descriptor       `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`

	// Schema 1 only.
	Name       string    `json:"name"`
	Tag        string    `json:"tag"`
	FSLayers   []fsLayer `json:"fsLayers"`
	Signatures presence  `json:"signatures"`
}

type fsLayer struct {
	BlobSum digest.Digest `json:"blobSum"`
}

// presence records whether a JSON field was present and not null, without decoding (or
// allocating) its value; schema 1 signatures are only needed to pick the media type.
type presence bool

func (p *presence) UnmarshalJSON(b []byte) error {
	*p = string(b) != "null"
	return nil
}

// ParseManifest validates body as a manifest sent with the given Content-Type header value
// (which may be empty or carry parameters such as "; charset=utf-8").
//
// The effective media type is the body's mediaType field; else contentType (when it is not
// empty, application/json or application/octet-stream); else inferred from the body: schema
// version 1 means Docker schema 1, a "manifests" field an OCI index, a "config" or "layers"
// field an OCI image manifest. When the body and contentType both name a type they must agree.
//
// Errors wrap ErrManifestUnsupported for a media type Berth does not store, and
// ErrManifestInvalid for everything else; each says what to fix.
func ParseManifest(contentType string, body []byte) (*Manifest, error) {
	switch {
	case len(body) == 0:
		return nil, newError(ErrManifestInvalid, "manifest body is empty")
	case len(body) > MaxManifestSize:
		return nil, newError(ErrManifestInvalid, "manifest is %d bytes; the limit is %d bytes (4 MiB)",
			len(body), MaxManifestSize)
	}
	var w wireManifest
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, decodeError(err)
	}
	if firstNonSpace(body) != '{' { // only "null" gets here: Unmarshal accepts it as a no-op
		return nil, newError(ErrManifestInvalid, "manifest must be a JSON object, not null")
	}
	mediaType, err := resolveMediaType(contentType, &w)
	if err != nil {
		return nil, err
	}
	kind, ok := KindOf(mediaType)
	if !ok {
		return nil, newError(ErrManifestUnsupported,
			"%s is not a manifest media type; supported: %s, %s, %s, %s, %s and %s (legacy)",
			quote(mediaType), MediaTypeImageManifest, MediaTypeImageIndex, MediaTypeDockerManifest,
			MediaTypeDockerManifestList, MediaTypeDockerManifestSchema1Signed,
			MediaTypeDockerManifestSchema1)
	}
	switch kind {
	case KindImage:
		return parseImage(mediaType, &w)
	case KindIndex:
		return parseIndex(mediaType, &w)
	default:
		return parseSchema1(mediaType, &w)
	}
}

// resolveMediaType picks the effective media type (see ParseManifest). The body wins over the
// header because the body is what is content-addressed: a client pulling by digest gets the
// bytes, and a header cannot be allowed to make them mean something else.
func resolveMediaType(contentType string, w *wireManifest) (string, error) {
	header := contentTypeMediaType(contentType)
	switch {
	case w.MediaType != "" && header != "" && w.MediaType != header:
		return "", newError(ErrManifestInvalid,
			"media type in body %s does not match Content-Type %s", quote(w.MediaType), quote(header))
	case w.MediaType != "":
		return w.MediaType, nil
	case header != "":
		return header, nil
	}
	return inferMediaType(w)
}

// inferMediaType guesses the media type of a body that names none and was sent without a
// useful Content-Type, the way OCI clients read such a manifest back.
func inferMediaType(w *wireManifest) (string, error) {
	hasImageFields := w.Config != nil || w.Layers != nil
	switch {
	case w.SchemaVersion != nil && *w.SchemaVersion == 1:
		if w.Signatures {
			return MediaTypeDockerManifestSchema1Signed, nil
		}
		return MediaTypeDockerManifestSchema1, nil
	case w.Manifests != nil && hasImageFields:
		return "", newError(ErrManifestInvalid, "manifest has both \"manifests\" and "+
			"\"config\"/\"layers\", so it could be read as an index or as an image; "+
			"set the mediaType field")
	case w.Manifests != nil:
		return MediaTypeImageIndex, nil
	case hasImageFields:
		return MediaTypeImageManifest, nil
	}
	return "", newError(ErrManifestInvalid, "cannot tell what kind of manifest this is: set the "+
		"mediaType field or send the manifest media type as Content-Type")
}

// BlobReferences returns the blobs that must already exist in the repository before the
// manifest is accepted, deduplicated, in manifest order: the config, then each layer, except
// non-distributable layers and any descriptor with URLs, which clients fetch from elsewhere
// (distribution-spec: a registry must not require them). It returns nil for indexes, whose
// children are manifests (see ChildManifests).
func (m *Manifest) BlobReferences() []digest.Digest {
	if m.Kind == KindIndex {
		return nil
	}
	refs := make([]digest.Digest, 0, len(m.Layers)+1)
	// A map, not a linear scan: a 4 MiB manifest can list tens of thousands of layers.
	seen := make(map[digest.Digest]struct{}, len(m.Layers)+1)
	add := func(d *Descriptor) {
		if len(d.URLs) > 0 {
			return
		}
		if _, dup := seen[d.Digest]; !dup {
			seen[d.Digest] = struct{}{}
			refs = append(refs, d.Digest)
		}
	}
	if m.Config != nil {
		add(m.Config)
	}
	for i := range m.Layers {
		if !IsNonDistributable(m.Layers[i].MediaType) {
			add(&m.Layers[i])
		}
	}
	return refs
}

// ChildManifests returns the digests of an index's manifests, deduplicated, in order; every one
// must exist in the repository before the index is accepted (ECR's
// ReferencedImagesNotFoundException). It returns nil for other kinds.
func (m *Manifest) ChildManifests() []digest.Digest {
	if m.Kind != KindIndex {
		return nil
	}
	refs := make([]digest.Digest, 0, len(m.Manifests))
	seen := make(map[digest.Digest]struct{}, len(m.Manifests))
	for i := range m.Manifests {
		d := m.Manifests[i].Digest
		if _, dup := seen[d]; !dup {
			seen[d] = struct{}{}
			refs = append(refs, d)
		}
	}
	return refs
}

// ImageSize returns ECR's imageSizeInBytes for an image manifest: config size plus the sum of
// all layer sizes, non-distributable ones included (ParseManifest guarantees no overflow).
// It returns 0 for indexes, whose size is the largest child's and needs the children, and for
// schema 1, which records no sizes.
func (m *Manifest) ImageSize() int64 {
	if m.Kind != KindImage || m.Config == nil {
		return 0
	}
	total := m.Config.Size
	for i := range m.Layers {
		total += m.Layers[i].Size
	}
	return total
}
