package oci

import (
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The constants are spelled out; pin them to image-spec where it defines them.
func TestMediaTypeConstantsMatchImageSpec(t *testing.T) {
	t.Parallel()
	pairs := map[string][2]string{
		"ImageManifest":                 {MediaTypeImageManifest, ocispec.MediaTypeImageManifest},
		"ImageIndex":                    {MediaTypeImageIndex, ocispec.MediaTypeImageIndex},
		"ImageConfig":                   {MediaTypeImageConfig, ocispec.MediaTypeImageConfig},
		"EmptyJSON":                     {MediaTypeEmptyJSON, ocispec.MediaTypeEmptyJSON},
		"ImageLayer":                    {MediaTypeImageLayer, ocispec.MediaTypeImageLayer},
		"ImageLayerGzip":                {MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerGzip},
		"ImageLayerZstd":                {MediaTypeImageLayerZstd, ocispec.MediaTypeImageLayerZstd},
		"ImageLayerNonDistributable":    {MediaTypeImageLayerNonDistributable, ocispec.MediaTypeImageLayerNonDistributable},         //nolint:staticcheck // pinning the deprecated value
		"ImageLayerNonDistributableGz":  {MediaTypeImageLayerNonDistributableGzip, ocispec.MediaTypeImageLayerNonDistributableGzip}, //nolint:staticcheck
		"ImageLayerNonDistributableZst": {MediaTypeImageLayerNonDistributableZstd, ocispec.MediaTypeImageLayerNonDistributableZstd}, //nolint:staticcheck
	}
	for name, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("MediaType%s = %q; image-spec says %q", name, p[0], p[1])
		}
	}
	docker := map[string]string{
		MediaTypeDockerManifestSchema1:       "application/vnd.docker.distribution.manifest.v1+json",
		MediaTypeDockerManifestSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
		MediaTypeDockerManifest:              "application/vnd.docker.distribution.manifest.v2+json",
		MediaTypeDockerManifestList:          "application/vnd.docker.distribution.manifest.list.v2+json",
		MediaTypeDockerConfig:                "application/vnd.docker.container.image.v1+json",
		MediaTypeDockerLayer:                 "application/vnd.docker.image.rootfs.diff.tar.gzip",
		MediaTypeDockerForeignLayer:          "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	}
	for got, want := range docker {
		if got != want {
			t.Errorf("constant %q; want %q", got, want)
		}
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mediaType string
		kind      Kind
		ok        bool
	}{
		{MediaTypeImageManifest, KindImage, true},
		{MediaTypeDockerManifest, KindImage, true},
		{MediaTypeImageIndex, KindIndex, true},
		{MediaTypeDockerManifestList, KindIndex, true},
		{MediaTypeDockerManifestSchema1, KindSchema1, true},
		{MediaTypeDockerManifestSchema1Signed, KindSchema1, true},
		{MediaTypeImageConfig, 0, false},
		{MediaTypeImageManifest + "; charset=utf-8", 0, false},
		{"APPLICATION/VND.OCI.IMAGE.MANIFEST.V1+JSON", 0, false},
		{"application/vnd.oci.artifact.manifest.v1+json", 0, false}, // withdrawn OCI 1.1 RC type
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.mediaType, func(t *testing.T) {
			t.Parallel()
			if kind, ok := KindOf(tt.mediaType); kind != tt.kind || ok != tt.ok {
				t.Errorf("KindOf(%q) = %v, %v; want %v, %v", tt.mediaType, kind, ok, tt.kind, tt.ok)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[Kind]string{KindImage: "image", KindIndex: "index", KindSchema1: "schema1", 0: "Kind(0)", 9: "Kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q; want %q", int(k), got, want)
		}
	}
}

func TestIsNonDistributable(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		MediaTypeImageLayerNonDistributable:     true,
		MediaTypeImageLayerNonDistributableGzip: true,
		MediaTypeImageLayerNonDistributableZstd: true,
		MediaTypeDockerForeignLayer:             true,
		MediaTypeImageLayer:                     false,
		MediaTypeImageLayerGzip:                 false,
		MediaTypeDockerLayer:                    false,
		MediaTypeImageConfig:                    false,
		"":                                      false,
	}
	for mediaType, want := range tests {
		if got := IsNonDistributable(mediaType); got != want {
			t.Errorf("IsNonDistributable(%q) = %v; want %v", mediaType, got, want)
		}
	}
}

func TestContentTypeMediaType(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                                   "",
		"   ":                                "",
		"application/json":                   "",
		"application/json; charset=utf-8":    "",
		"Application/JSON":                   "",
		"application/octet-stream":           "",
		MediaTypeImageManifest:               MediaTypeImageManifest,
		MediaTypeImageManifest + ";q=0.5":    MediaTypeImageManifest,
		" " + MediaTypeImageIndex + " ; a=b": MediaTypeImageIndex,
		"APPLICATION/VND.OCI.IMAGE.INDEX.V1+JSON": MediaTypeImageIndex,
		"text/plain":     "text/plain",
		";charset=utf-8": "",
	}
	for in, want := range tests {
		if got := contentTypeMediaType(in); got != want {
			t.Errorf("contentTypeMediaType(%q) = %q; want %q", in, got, want)
		}
	}
}
