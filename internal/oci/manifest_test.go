package oci

import (
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func ds(s ...string) []digest.Digest {
	out := make([]digest.Digest, len(s))
	for i, v := range s {
		out[i] = digest.Digest(v)
	}
	return out
}

func mustParse(t *testing.T, contentType, body string) *Manifest {
	t.Helper()
	m, err := ParseManifest(contentType, []byte(body))
	if err != nil {
		t.Fatalf("ParseManifest(%q) = %v", contentType, err)
	}
	return m
}

// fixtureCases are the fixtures with what ParseManifest must make of them; the fuzz test
// seeds its corpus from them too.
var fixtureCases = []struct {
	name         string
	contentType  string
	body         string
	mediaType    string
	kind         Kind
	blobs        []digest.Digest
	children     []digest.Digest
	size         int64
	artifactType string
	subject      digest.Digest
	annotations  int
}{
	{
		name: "docker schema 2", contentType: MediaTypeDockerManifest, body: fixtureDockerManifest,
		mediaType: MediaTypeDockerManifest, kind: KindImage, blobs: ds(dCfg, dL1, dL2),
		size: 1472 + 3408729 + 32, artifactType: MediaTypeDockerConfig,
	},
	{
		name: "OCI image", contentType: MediaTypeImageManifest, body: fixtureOCIManifest,
		mediaType: MediaTypeImageManifest, kind: KindImage, blobs: ds(dCfg, dL1, dL2, dL3),
		size: 2297 + 29124657 + 1185 + 93, artifactType: MediaTypeImageConfig, annotations: 2,
	},
	{
		name: "docker manifest list", contentType: MediaTypeDockerManifestList, body: fixtureDockerList,
		mediaType: MediaTypeDockerManifestList, kind: KindIndex, children: ds(dAmd64, dArm64),
	},
	{
		name: "OCI index with attestations and a repeated child", contentType: MediaTypeImageIndex,
		body: fixtureOCIIndex, mediaType: MediaTypeImageIndex, kind: KindIndex,
		children: ds(dAmd64, dArm64, dAtt), annotations: 1,
	},
	{
		name: "schema 1 signed", contentType: MediaTypeDockerManifestSchema1Signed, body: fixtureSchema1Signed,
		mediaType: MediaTypeDockerManifestSchema1Signed, kind: KindSchema1, blobs: ds(dS1Empty, dS1Layer),
	},
	{
		name: "schema 1 sent as unsigned type", contentType: MediaTypeDockerManifestSchema1,
		body: fixtureSchema1Signed, mediaType: MediaTypeDockerManifestSchema1, kind: KindSchema1,
		blobs: ds(dS1Empty, dS1Layer),
	},
	{
		name: "windows foreign layer with urls", contentType: MediaTypeDockerManifest, body: fixtureWindows,
		mediaType: MediaTypeDockerManifest, kind: KindImage, blobs: ds(dCfg, dL1),
		size: 1823 + 1654613376 + 1073, artifactType: MediaTypeDockerConfig,
	},
	{
		name: "OCI non-distributable layers and urls", contentType: MediaTypeImageManifest,
		body: fixtureOCIForeign, mediaType: MediaTypeImageManifest, kind: KindImage,
		blobs: ds(dCfg, dL2), size: 100 + 1000 + 5 + 10 + 20, artifactType: MediaTypeImageConfig,
	},
	{
		name: "OCI 1.1 artifact with subject", contentType: MediaTypeImageManifest, body: fixtureArtifact,
		mediaType: MediaTypeImageManifest, kind: KindImage, blobs: ds(dEmpty, dSbom), size: 2 + 28213,
		artifactType: "application/spdx+json", subject: dSubj, annotations: 1,
	},
	{
		name: "helm chart typed by Content-Type", contentType: MediaTypeImageManifest, body: fixtureHelm,
		mediaType: MediaTypeImageManifest, kind: KindImage, blobs: ds(dHelm, dChart), size: 117 + 3565,
		artifactType: "application/vnd.cncf.helm.config.v1+json", annotations: 2,
	},
	{
		name: "helm chart typed by inference", contentType: "", body: fixtureHelm,
		mediaType: MediaTypeImageManifest, kind: KindImage, blobs: ds(dHelm, dChart), size: 117 + 3565,
		artifactType: "application/vnd.cncf.helm.config.v1+json", annotations: 2,
	},
	{
		// distribution-spec: no artifactType field means config.mediaType, even the image one.
		name: "cosign signature", contentType: MediaTypeImageManifest, body: fixtureCosign,
		mediaType: MediaTypeImageManifest, kind: KindImage, blobs: ds(dCfg, dSig), size: 233 + 247,
		artifactType: MediaTypeImageConfig,
	},
	{
		name: "OCI index artifact with subject", contentType: MediaTypeImageIndex, body: fixtureIndexArtifact,
		mediaType: MediaTypeImageIndex, kind: KindIndex, children: ds(dSig),
		artifactType: "application/vnd.example.signature-bundle", subject: dSubj,
	},
	{
		name: "sha512 digests", contentType: MediaTypeImageManifest, body: fixtureSHA512,
		mediaType: MediaTypeImageManifest, kind: KindImage, blobs: ds(dS512), size: 16,
		artifactType: MediaTypeImageConfig,
	},
}

func TestParseManifestFixtures(t *testing.T) {
	t.Parallel()
	for _, tt := range fixtureCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustParse(t, tt.contentType, tt.body)
			if m.MediaType != tt.mediaType || m.Kind != tt.kind {
				t.Errorf("MediaType, Kind = %q, %v; want %q, %v", m.MediaType, m.Kind, tt.mediaType, tt.kind)
			}
			if got := m.BlobReferences(); !slices.Equal(got, tt.blobs) {
				t.Errorf("BlobReferences() = %v; want %v", got, tt.blobs)
			}
			if got := m.ChildManifests(); !slices.Equal(got, tt.children) {
				t.Errorf("ChildManifests() = %v; want %v", got, tt.children)
			}
			if got := m.ImageSize(); got != tt.size {
				t.Errorf("ImageSize() = %d; want %d", got, tt.size)
			}
			if m.ArtifactType != tt.artifactType {
				t.Errorf("ArtifactType = %q; want %q", m.ArtifactType, tt.artifactType)
			}
			var subject digest.Digest
			if m.Subject != nil {
				subject = m.Subject.Digest
			}
			if subject != tt.subject {
				t.Errorf("Subject = %q; want %q", subject, tt.subject)
			}
			if len(m.Annotations) != tt.annotations {
				t.Errorf("Annotations = %v; want %d entries", m.Annotations, tt.annotations)
			}
		})
	}
}

func TestParseManifestDescriptorFields(t *testing.T) {
	t.Parallel()
	idx := mustParse(t, "", fixtureOCIIndex)
	if len(idx.Manifests) != 4 {
		t.Fatalf("len(Manifests) = %d; want 4", len(idx.Manifests))
	}
	arm := idx.Manifests[1]
	if arm.Platform == nil || arm.Platform.Architecture != "arm64" || arm.Platform.Variant != "v8" {
		t.Errorf("Manifests[1].Platform = %+v; want linux/arm64/v8", arm.Platform)
	}
	if got := idx.Manifests[3].Platform.OSFeatures; !slices.Equal(got, []string{"sse4"}) {
		t.Errorf("Manifests[3].Platform.OSFeatures = %v", got)
	}
	if got := idx.Manifests[2].Annotations["vnd.docker.reference.type"]; got != "attestation-manifest" {
		t.Errorf("attestation annotation = %q", got)
	}
	win := mustParse(t, "", fixtureWindows)
	if got := win.Layers[0].URLs; len(got) != 1 || !strings.HasPrefix(got[0], "https://mcr.microsoft.com/") {
		t.Errorf("Layers[0].URLs = %v", got)
	}
	art := mustParse(t, "", fixtureArtifact)
	if art.Subject.MediaType != MediaTypeImageManifest || art.Subject.Size != 1054 {
		t.Errorf("Subject = %+v", art.Subject)
	}
	if art.Config.MediaType != MediaTypeEmptyJSON || art.Config.Size != 2 {
		t.Errorf("Config = %+v", art.Config)
	}
	s1 := mustParse(t, "", fixtureSchema1Signed)
	want := []Descriptor{{Digest: dS1Empty}, {Digest: dS1Layer}, {Digest: dS1Empty}}
	if len(s1.Layers) != len(want) {
		t.Fatalf("schema 1 Layers = %+v", s1.Layers)
	}
	for i := range want {
		if s1.Layers[i].Digest != want[i].Digest || s1.Layers[i].MediaType != "" {
			t.Errorf("schema 1 Layers[%d] = %+v; want only digest %s", i, s1.Layers[i], want[i].Digest)
		}
	}
	if s1.Config != nil || s1.ImageSize() != 0 || s1.ChildManifests() != nil {
		t.Errorf("schema 1 has config/size/children: %+v", s1)
	}
}

// The Docker formats define no subject, artifactType or annotations: those fields are ignored
// like any unknown field, so a Docker manifest never shows up as a referrer.
func TestParseManifestDockerIgnoresOCIOnlyFields(t *testing.T) {
	t.Parallel()
	extra := `"artifactType": "application/x-evil", "annotations": {"a": "b"},
	  "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "$SUBJ", "size": 1},`
	img := mustParse(t, "", expand(strings.Replace(fixtureDockerManifest, "{", "{"+extra, 1)))
	list := mustParse(t, "", expand(strings.Replace(fixtureDockerList, "{", "{"+extra, 1)))
	for _, m := range []*Manifest{img, list} {
		if m.Subject != nil || m.Annotations != nil {
			t.Errorf("%s: Subject = %v, Annotations = %v; want none", m.MediaType, m.Subject, m.Annotations)
		}
	}
	if img.ArtifactType != MediaTypeDockerConfig || list.ArtifactType != "" {
		t.Errorf("ArtifactType = %q, %q; want %q, \"\"", img.ArtifactType, list.ArtifactType, MediaTypeDockerConfig)
	}
}

func TestParseManifestArtifactType(t *testing.T) {
	t.Parallel()
	image := func(artifactType, configType string) string {
		at := ""
		if artifactType != "" {
			at = `"artifactType": "` + artifactType + `",`
		}
		return expand(`{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", ` + at +
			`"config": {"mediaType": "` + configType + `", "digest": "$EMPTY", "size": 2}, "layers": []}`)
	}
	index := func(artifactType string) string {
		return `{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		  "artifactType": "` + artifactType + `", "manifests": []}`
	}
	tests := []struct {
		name, body, want string
	}{
		{"field wins over config", image("application/vnd.example", "application/vnd.other.config"), "application/vnd.example"},
		{"field with empty config", image("application/vnd.example", MediaTypeEmptyJSON), "application/vnd.example"},
		{"no field: config type", image("", "application/vnd.cncf.helm.config.v1+json"), "application/vnd.cncf.helm.config.v1+json"},
		{"no field: image config type", image("", MediaTypeImageConfig), MediaTypeImageConfig},
		// image-spec says artifactType MUST be set here; registries still store it.
		{"no field: empty config", image("", MediaTypeEmptyJSON), MediaTypeEmptyJSON},
		{"index field", index("application/vnd.example"), "application/vnd.example"},
		{"index without field", index(""), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mustParse(t, "", tt.body).ArtifactType; got != tt.want {
				t.Errorf("ArtifactType = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestParseManifestMediaTypeResolution(t *testing.T) {
	t.Parallel()
	noType := strings.Replace(fixtureOCIManifest, `"mediaType": "application/vnd.oci.image.manifest.v1+json",`, "", 1)
	dockerNoType := strings.Replace(fixtureDockerManifest, `"mediaType": "application/vnd.docker.distribution.manifest.v2+json",`, "", 1)
	indexNoType := strings.Replace(fixtureOCIIndex, `"mediaType": "application/vnd.oci.image.index.v1+json",`, "", 1)
	unsignedS1 := fixtureSchema1Signed[:strings.Index(fixtureSchema1Signed, `,
   "signatures"`)] + "}"
	tests := []struct {
		name, contentType, body, want string
	}{
		{"body only", "", fixtureOCIManifest, MediaTypeImageManifest},
		{"body and equal header", MediaTypeImageManifest, fixtureOCIManifest, MediaTypeImageManifest},
		{"header parameters stripped", MediaTypeImageManifest + "; charset=utf-8", fixtureOCIManifest, MediaTypeImageManifest},
		{"header without space before parameter", MediaTypeDockerManifest + ";charset=utf-8", fixtureDockerManifest, MediaTypeDockerManifest},
		{"header case-insensitive", "Application/VND.OCI.Image.Manifest.v1+JSON", fixtureOCIManifest, MediaTypeImageManifest},
		{"header surrounding space", "  " + MediaTypeImageManifest + "  ", fixtureOCIManifest, MediaTypeImageManifest},
		{"octet-stream is absent", "application/octet-stream", fixtureDockerManifest, MediaTypeDockerManifest},
		{"application/json is absent", "application/json; charset=utf-8", fixtureOCIIndex, MediaTypeImageIndex},
		{"header only: OCI", MediaTypeImageManifest, noType, MediaTypeImageManifest},
		{"header only: docker", MediaTypeDockerManifest, dockerNoType, MediaTypeDockerManifest},
		{"header only: docker list", MediaTypeDockerManifestList, indexNoType, MediaTypeDockerManifestList},
		{"inferred image", "", noType, MediaTypeImageManifest},
		{"inferred image from octet-stream", "application/octet-stream", dockerNoType, MediaTypeImageManifest},
		{"inferred image from layers only", "", `{"schemaVersion": 2, "layers": [], "config": {"mediaType": "a/b", "digest": "` + dCfg + `", "size": 1}}`, MediaTypeImageManifest},
		{"inferred index", "", indexNoType, MediaTypeImageIndex},
		{"inferred empty index", "application/json", `{"schemaVersion": 2, "manifests": []}`, MediaTypeImageIndex},
		{"inferred signed schema 1", "", fixtureSchema1Signed, MediaTypeDockerManifestSchema1Signed},
		{"inferred unsigned schema 1", "application/json", unsignedS1, MediaTypeDockerManifestSchema1},
		{"empty body mediaType is absent", MediaTypeImageIndex, `{"schemaVersion": 2, "mediaType": "", "manifests": []}`, MediaTypeImageIndex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mustParse(t, tt.contentType, tt.body).MediaType; got != tt.want {
				t.Errorf("MediaType = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestParseManifestNullAndEmptyLists(t *testing.T) {
	t.Parallel()
	for _, layers := range []string{`"layers": null,`, `"layers": [],`, ``} {
		body := expand(`{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", ` + layers +
			`"config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "$EMPTY", "size": 2}}`)
		m := mustParse(t, "", body)
		if got := m.BlobReferences(); !slices.Equal(got, ds(dEmpty)) {
			t.Errorf("%s BlobReferences() = %v", layers, got)
		}
	}
	for _, manifests := range []string{`, "manifests": null`, `, "manifests": []`, ``} {
		m := mustParse(t, MediaTypeImageIndex, `{"schemaVersion": 2`+manifests+`}`)
		if got := m.ChildManifests(); len(got) != 0 {
			t.Errorf("%s ChildManifests() = %v", manifests, got)
		}
	}
}

func TestBlobReferences(t *testing.T) {
	t.Parallel()
	layer := func(mediaType, d string, urls ...string) string {
		u := ""
		if len(urls) > 0 {
			u = `, "urls": ["` + strings.Join(urls, `", "`) + `"]`
		}
		return `{"mediaType": "` + mediaType + `", "digest": "` + d + `", "size": 1` + u + `}`
	}
	tests := []struct {
		name   string
		config string
		layers []string
		want   []digest.Digest
	}{
		{"config and layers in order", goodConfig, []string{layer(MediaTypeImageLayerGzip, dL2), layer(MediaTypeImageLayerGzip, dL1)}, ds(dCfg, dL2, dL1)},
		{"repeated layer once", goodConfig, []string{layer(MediaTypeImageLayerGzip, dL1), layer(MediaTypeImageLayerGzip, dL2), layer(MediaTypeImageLayerGzip, dL1)}, ds(dCfg, dL1, dL2)},
		{"layer equal to config once", goodConfig, []string{layer(MediaTypeImageLayerGzip, dCfg), layer(MediaTypeImageLayerGzip, dL1)}, ds(dCfg, dL1)},
		{"empty descriptor as config and layer", `{"mediaType": "application/vnd.oci.empty.v1+json", "digest": "$EMPTY", "size": 2}`, []string{layer(MediaTypeEmptyJSON, dEmpty)}, ds(dEmpty)},
		{"no layers", goodConfig, nil, ds(dCfg)},
		{"urls on a normal layer", goodConfig, []string{layer(MediaTypeImageLayerGzip, dL1, "https://example.com/l1"), layer(MediaTypeImageLayerGzip, dL2)}, ds(dCfg, dL2)},
		{"urls on the config", `{"mediaType": "a/b", "digest": "$CFG", "size": 1, "urls": ["https://example.com/c"]}`, []string{layer(MediaTypeImageLayer, dL1)}, ds(dL1)},
		{"empty urls list counts as none", goodConfig, []string{`{"mediaType": "a/b", "digest": "$L1", "size": 1, "urls": []}`}, ds(dCfg, dL1)},
		{"oci non-distributable", goodConfig, []string{layer(MediaTypeImageLayerNonDistributable, dL1), layer(MediaTypeImageLayerNonDistributableGzip, dL2), layer(MediaTypeImageLayerNonDistributableZstd, dL3)}, ds(dCfg)},
		{"docker foreign with and without urls", goodConfig, []string{layer(MediaTypeDockerForeignLayer, dL1, "https://mcr.microsoft.com/x"), layer(MediaTypeDockerForeignLayer, dL2)}, ds(dCfg)},
		{"foreign layer does not hide a normal use of the same blob", goodConfig, []string{layer(MediaTypeDockerForeignLayer, dL1), layer(MediaTypeDockerLayer, dL1)}, ds(dCfg, dL1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustParse(t, "", ociImage(tt.config, expand(strings.Join(tt.layers, ","))))
			if got := m.BlobReferences(); !slices.Equal(got, tt.want) {
				t.Errorf("BlobReferences() = %v; want %v", got, tt.want)
			}
			if m.ChildManifests() != nil {
				t.Errorf("ChildManifests() = %v; want nil for an image", m.ChildManifests())
			}
		})
	}
}

func TestChildManifests(t *testing.T) {
	t.Parallel()
	child := func(d string) string {
		return `{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "` + d + `", "size": 1,
		  "urls": ["https://example.com/ignored-for-children"]}`
	}
	m := mustParse(t, "", ociIndex(strings.Join([]string{child(dArm64), child(dAmd64), child(dArm64), child(dAtt), child(dAmd64)}, ",")))
	if got, want := m.ChildManifests(), ds(dArm64, dAmd64, dAtt); !slices.Equal(got, want) {
		t.Errorf("ChildManifests() = %v; want %v", got, want)
	}
	if m.BlobReferences() != nil || m.ImageSize() != 0 {
		t.Errorf("index BlobReferences() = %v, ImageSize() = %d; want nil, 0", m.BlobReferences(), m.ImageSize())
	}
	// The zero Manifest is neither: it must not panic.
	var zero Manifest
	if zero.BlobReferences() == nil || len(zero.BlobReferences()) != 0 || zero.ChildManifests() != nil || zero.ImageSize() != 0 {
		t.Errorf("zero Manifest: %v, %v, %d", zero.BlobReferences(), zero.ChildManifests(), zero.ImageSize())
	}
}

// ParseManifest must not keep the caller's buffer: the handler reuses it.
func TestParseManifestDoesNotAliasBody(t *testing.T) {
	t.Parallel()
	body := []byte(fixtureArtifact)
	m, err := ParseManifest("", body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if m.Subject.Digest != dSubj || m.ArtifactType != "application/spdx+json" || m.Layers[0].Digest != dSbom {
		t.Errorf("manifest changed with its body: %+v", m)
	}
}

func BenchmarkParseManifest(b *testing.B) {
	for name, body := range map[string][]byte{
		"oci-image": []byte(fixtureOCIManifest), "oci-index": []byte(fixtureOCIIndex), "schema1": []byte(fixtureSchema1Signed),
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseManifest("", body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
