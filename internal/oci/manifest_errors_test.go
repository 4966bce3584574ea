package oci

import (
	"errors"
	"strings"
	"testing"
)

// ociImage builds an OCI image manifest body around the given config and layers JSON.
func ociImage(config, layers string) string {
	return expand(`{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": ` +
		config + `, "layers": [` + layers + `]}`)
}

func ociIndex(manifests string) string {
	return expand(`{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [` +
		manifests + `]}`)
}

const (
	goodConfig = `{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "$CFG", "size": 10}`
	goodLayer  = `{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "$L1", "size": 10}`
	goodChild  = `{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "$AMD64", "size": 10}`
)

// manifestErrorCase is a body ParseManifest must reject with want and a message containing msg.
type manifestErrorCase struct {
	name        string
	contentType string
	body        string
	want        error
	msg         string
}

func withSubject(subject string) string {
	return strings.Replace(ociImage(goodConfig, goodLayer), `"config"`, `"subject": `+expand(subject)+`, "config"`, 1)
}

func schema1(fields string) string {
	return expand(`{"schemaVersion": 1` + fields + `}`)
}

const s1Layers = `, "fsLayers": [{"blobSum": "$L1"}]`

func runManifestErrorCases(t *testing.T, tests []manifestErrorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := ParseManifest(tt.contentType, []byte(tt.body))
			if err == nil {
				t.Fatalf("ParseManifest() = %+v; want error", m)
			}
			if m != nil {
				t.Errorf("ParseManifest() returned a manifest with error %v", err)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %q does not wrap %q", err, tt.want)
			}
			// A manifest error is never also a digest error: the front end must answer
			// MANIFEST_INVALID or MANIFEST_UNSUPPORTED, whatever inside the manifest was wrong.
			for _, other := range []error{ErrDigestInvalid, ErrDigestUnsupported, ErrNameInvalid, ErrTagInvalid} {
				if errors.Is(err, other) {
					t.Errorf("error %q also wraps %q", err, other)
				}
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if len(err.Error()) > 600 {
				t.Errorf("error message is %d bytes long; user input must be truncated", len(err.Error()))
			}
		})
	}
}

// Size limits, JSON syntax and non-object documents.
func TestParseManifestSyntaxErrors(t *testing.T) {
	t.Parallel()
	runManifestErrorCases(t, []manifestErrorCase{
		{"empty body", MediaTypeImageManifest, "", ErrManifestInvalid, "manifest body is empty"},
		{"too large", "", "{" + strings.Repeat(" ", MaxManifestSize) + "}", ErrManifestInvalid, "limit is 4194304 bytes"},
		{"truncated JSON", "", `{"schemaVersion": 2,`, ErrManifestInvalid, "invalid JSON syntax"},
		{"garbage", "", `xml? no`, ErrManifestInvalid, "invalid JSON syntax at byte 1"},
		{"whitespace only", "", " \n", ErrManifestInvalid, "invalid JSON syntax"},
		{"trailing garbage", "", ociIndex(goodChild) + "x", ErrManifestInvalid, "invalid JSON syntax"},
		{"two documents", "", ociIndex(goodChild) + ociIndex(goodChild), ErrManifestInvalid, "invalid JSON syntax"},
		{"array", "", `[]`, ErrManifestInvalid, "must be a JSON object, not array"},
		{"string", "", `"manifest"`, ErrManifestInvalid, "must be a JSON object, not string"},
		{"number", "", `2`, ErrManifestInvalid, "must be a JSON object, not number"},
		{"null", MediaTypeImageManifest, ` null `, ErrManifestInvalid, "must be a JSON object, not null"},
	})
}

// A known field with the wrong JSON type, whichever format names it.
func TestParseManifestTypeErrors(t *testing.T) {
	t.Parallel()
	runManifestErrorCases(t, []manifestErrorCase{
		{"layers string", "", `{"schemaVersion": 2, "layers": "x"}`, ErrManifestInvalid, `field "layers" must be an array, not string`},
		{"config array", "", `{"schemaVersion": 2, "config": []}`, ErrManifestInvalid, `field "config" must be an object, not array`},
		{"schemaVersion string", "", `{"schemaVersion": "2", "manifests": []}`, ErrManifestInvalid, `field "schemaVersion" must be an integer, not string`},
		{"schemaVersion float", "", `{"schemaVersion": 2.5, "manifests": []}`, ErrManifestInvalid, `field "schemaVersion" must be an integer, not number 2.5`},
		{"mediaType number", "", `{"schemaVersion": 2, "mediaType": 5}`, ErrManifestInvalid, `field "mediaType" must be a string, not number`},
		{"size fractional", "", ociImage(goodConfig, `{"mediaType": "a/b", "digest": "$L1", "size": 1.5}`), ErrManifestInvalid, `field "layers.size" must be an integer, not number 1.5`},
		{"size huge", "", ociImage(goodConfig, `{"mediaType": "a/b", "digest": "$L1", "size": 1e400}`), ErrManifestInvalid, `field "layers.size" must be an integer`},
		{"size string", "", ociImage(`{"mediaType": "a/b", "digest": "$CFG", "size": "10"}`, goodLayer), ErrManifestInvalid, `field "config.size" must be an integer, not string`},
		{"digest number", "", ociImage(goodConfig, `{"mediaType": "a/b", "digest": 5, "size": 1}`), ErrManifestInvalid, `field "layers.digest" must be a string`},
		{"urls string", "", ociImage(goodConfig, `{"mediaType": "a/b", "digest": "$L1", "size": 1, "urls": "http://x"}`), ErrManifestInvalid, `field "layers.urls" must be an array`},
		{"annotation value number", "", `{"schemaVersion": 2, "manifests": [], "annotations": {"a": 1}}`, ErrManifestInvalid, `each value of field "annotations" must be a string, not number`},
		{"descriptor annotation value object", "", ociImage(goodConfig, `{"mediaType": "a/b", "digest": "$L1", "size": 1, "annotations": {"a": {}}}`), ErrManifestInvalid, `each value of field "layers.annotations" must be a string, not object`},
		{"layer not an object", "", `{"schemaVersion": 2, "layers": [1]}`, ErrManifestInvalid, `each element of field "layers" must be an object, not number`},
		{"url element number", "", ociImage(goodConfig, `{"mediaType": "a/b", "digest": "$L1", "size": 1, "urls": ["https://x", 1]}`), ErrManifestInvalid, `each element of field "layers.urls" must be a string, not number`},
		{"os.features element", "", ociIndex(`{"mediaType": "a/b", "digest": "$AMD64", "size": 1, "platform": {"os": "windows", "os.features": [true]}}`), ErrManifestInvalid, `each element of field "manifests.platform.os.features" must be a string, not bool`},
		{"platform os number", "", ociIndex(`{"mediaType": "a/b", "digest": "$AMD64", "size": 1, "platform": {"os": 1}}`), ErrManifestInvalid, `field "manifests.platform.os" must be a string, not number`},
		{"fsLayers element", "", `{"schemaVersion": 1, "fsLayers": ["sha256:x"]}`, ErrManifestInvalid, `each element of field "fsLayers" must be an object, not string`},
		{"blobSum number", "", `{"schemaVersion": 1, "fsLayers": [{"blobSum": 1}]}`, ErrManifestInvalid, `field "fsLayers.blobSum" must be a string, not number`},
		{"manifests object", "", `{"schemaVersion": 2, "manifests": {}}`, ErrManifestInvalid, `field "manifests" must be an array, not object`},
		{"platform string", "", ociIndex(`{"mediaType": "a/b", "digest": "$AMD64", "size": 1, "platform": "linux"}`), ErrManifestInvalid, `field "manifests.platform" must be an object`},
		{"fsLayers object", "", `{"schemaVersion": 1, "fsLayers": {}}`, ErrManifestInvalid, `field "fsLayers" must be an array, not object`},
		{"subject string", "", `{"schemaVersion": 2, "manifests": [], "subject": "sha256:x"}`, ErrManifestInvalid, `field "subject" must be an object, not string`},
	})
}

// Media type resolution, unsupported types and ambiguous documents.
func TestParseManifestMediaTypeErrors(t *testing.T) {
	t.Parallel()
	runManifestErrorCases(t, []manifestErrorCase{
		{"body and header differ", MediaTypeDockerManifest, fixtureOCIManifest, ErrManifestInvalid,
			`media type in body "application/vnd.oci.image.manifest.v1+json" does not match Content-Type "application/vnd.docker.distribution.manifest.v2+json"`},
		{"form content type", "application/x-www-form-urlencoded", fixtureOCIManifest, ErrManifestInvalid, "does not match Content-Type"},
		{"unknown body type", "", `{"schemaVersion": 2, "mediaType": "application/vnd.example+json"}`, ErrManifestUnsupported, `"application/vnd.example+json" is not a manifest media type`},
		{"unknown header type", "text/plain", `{"schemaVersion": 2, "manifests": []}`, ErrManifestUnsupported, `"text/plain" is not a manifest media type`},
		{"config type as manifest type", MediaTypeImageConfig, `{"architecture": "amd64"}`, ErrManifestUnsupported, "supported: application/vnd.oci.image.manifest.v1+json"},
		{"cannot infer", "", `{"schemaVersion": 2}`, ErrManifestInvalid, "cannot tell what kind of manifest this is"},
		{"cannot infer empty object", "application/octet-stream", `{}`, ErrManifestInvalid, "set the mediaType field"},
		{"ambiguous without type", "", expand(`{"schemaVersion": 2, "manifests": [], "layers": []}`), ErrManifestInvalid, "could be read as an index or as an image"},
		{"image with manifests", "", strings.Replace(fixtureOCIManifest, `"layers"`, `"manifests": [], "layers"`, 1), ErrManifestInvalid, `must not have a "manifests" field`},
		{"index with config", "", strings.Replace(fixtureOCIIndex, `"manifests"`, `"config": {}, "manifests"`, 1), ErrManifestInvalid, `must not have "config" or "layers"`},
		{"docker list with layers", "", strings.Replace(fixtureDockerList, `"manifests"`, `"layers": [], "manifests"`, 1), ErrManifestInvalid, `must not have "config" or "layers"`},
	})
}

func TestParseManifestSchemaVersionErrors(t *testing.T) {
	t.Parallel()
	runManifestErrorCases(t, []manifestErrorCase{
		{"image missing schemaVersion", MediaTypeImageManifest, expand(`{"config": ` + goodConfig + `}`), ErrManifestInvalid, "schemaVersion is required (2 for application/vnd.oci.image.manifest.v1+json)"},
		{"image schemaVersion 1", MediaTypeDockerManifest, expand(`{"schemaVersion": 1, "config": ` + goodConfig + `}`), ErrManifestInvalid, "schemaVersion must be 2 for application/vnd.docker.distribution.manifest.v2+json, got 1"},
		{"index schemaVersion 3", "", `{"schemaVersion": 3, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}`, ErrManifestInvalid, "schemaVersion must be 2"},
		{"schema1 schemaVersion 2", MediaTypeDockerManifestSchema1Signed, expand(`{"schemaVersion": 2, "name": "a", "tag": "b"` + s1Layers + `}`), ErrManifestInvalid, "schemaVersion must be 1"},
		{"schemaVersion null", MediaTypeImageIndex, `{"schemaVersion": null, "manifests": []}`, ErrManifestInvalid, "schemaVersion is required"},
	})
}

// Image config and layer descriptors.
func TestParseManifestImageErrors(t *testing.T) {
	t.Parallel()
	runManifestErrorCases(t, []manifestErrorCase{
		{"missing config", "", `{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}`, ErrManifestInvalid, "config is required in an image manifest"},
		{"null config", MediaTypeDockerManifest, `{"schemaVersion": 2, "config": null, "layers": []}`, ErrManifestInvalid, "config is required"},
		{"config without mediaType", "", ociImage(`{"digest": "$CFG", "size": 1}`, goodLayer), ErrManifestInvalid, "config.mediaType is required"},
		{"config without digest", "", ociImage(`{"mediaType": "a/b", "size": 1}`, goodLayer), ErrManifestInvalid, "config.digest is required"},
		{"config uppercase digest", "", ociImage(`{"mediaType": "a/b", "digest": "`+strings.ToUpper(dCfg[:20])+dCfg[20:]+`", "size": 1}`, goodLayer), ErrManifestInvalid, "config.digest: invalid digest"},
		{"config negative size", "", ociImage(`{"mediaType": "a/b", "digest": "$CFG", "size": -1}`, goodLayer), ErrManifestInvalid, "config.size must not be negative, got -1"},
		{"layer without mediaType", "", ociImage(goodConfig, goodLayer+`, {"digest": "$L2", "size": 1}`), ErrManifestInvalid, "layers[1].mediaType is required"},
		{"layer without digest", "", ociImage(goodConfig, `{"mediaType": "a/b", "size": 1}`), ErrManifestInvalid, "layers[0].digest is required"},
		{"layer short digest", "", ociImage(goodConfig, `{"mediaType": "a/b", "digest": "sha256:abc", "size": 1}`), ErrManifestInvalid, "layers[0].digest: invalid digest: sha256 digest must have 64 hex digits"},
		{"layer unsupported digest", "", ociImage(goodConfig, goodLayer+`,`+goodLayer+`, {"mediaType": "a/b", "digest": "md5:d41d8cd98f00b204e9800998ecf8427e", "size": 1}`), ErrManifestInvalid, `layers[2].digest: unsupported digest algorithm: "md5"`},
		{"layer negative size", "", ociImage(goodConfig, `{"mediaType": "a/b", "digest": "$L1", "size": -5}`), ErrManifestInvalid, "layers[0].size must not be negative"},
		{"sizes overflow", "", ociImage(`{"mediaType": "a/b", "digest": "$CFG", "size": 9223372036854775807}`, goodLayer), ErrManifestInvalid, "add up to more than 9223372036854775807 bytes"},
		{"docker layer bad digest", "", strings.Replace(fixtureDockerManifest, dL2, "sha256:zz", 1), ErrManifestInvalid, `layers[1].digest: invalid digest`},
	})
}

func TestParseManifestSubjectErrors(t *testing.T) {
	t.Parallel()
	runManifestErrorCases(t, []manifestErrorCase{
		{"subject without mediaType", "", withSubject(`{"digest": "$SUBJ", "size": 1}`), ErrManifestInvalid, "subject.mediaType is required"},
		{"subject without digest", "", withSubject(`{"mediaType": "a/b", "size": 1}`), ErrManifestInvalid, "subject.digest is required"},
		{"subject bad digest", "", withSubject(`{"mediaType": "a/b", "digest": "sha256", "size": 1}`), ErrManifestInvalid, `subject.digest: invalid digest: "sha256" has no ':'`},
		{"subject negative size", "", withSubject(`{"mediaType": "a/b", "digest": "$SUBJ", "size": -1}`), ErrManifestInvalid, "subject.size must not be negative"},
		{"index subject bad", "", strings.Replace(fixtureIndexArtifact, dSubj, "sha256:", 1), ErrManifestInvalid, "subject.digest: invalid digest"},
	})
}

func TestParseManifestIndexErrors(t *testing.T) {
	t.Parallel()
	runManifestErrorCases(t, []manifestErrorCase{
		{"child without mediaType", "", ociIndex(goodChild + `, {"digest": "$ARM64", "size": 1}`), ErrManifestInvalid, "manifests[1].mediaType is required"},
		{"child without digest", "", ociIndex(`{"mediaType": "a/b", "size": 1}`), ErrManifestInvalid, "manifests[0].digest is required"},
		{"child bad digest", "", ociIndex(`{"mediaType": "a/b", "digest": ":abc", "size": 1}`), ErrManifestInvalid, "manifests[0].digest: invalid digest"},
		{"child negative size", "", ociIndex(`{"mediaType": "a/b", "digest": "$AMD64", "size": -1}`), ErrManifestInvalid, "manifests[0].size must not be negative"},
	})
}

func TestParseManifestSchema1Errors(t *testing.T) {
	t.Parallel()
	runManifestErrorCases(t, []manifestErrorCase{
		{"schema1 without name", MediaTypeDockerManifestSchema1, schema1(`, "tag": "latest"` + s1Layers), ErrManifestInvalid, "name is required in a schema 1 manifest"},
		{"schema1 without tag", MediaTypeDockerManifestSchema1, schema1(`, "name": "library/busybox"` + s1Layers), ErrManifestInvalid, "tag is required"},
		{"schema1 without fsLayers", "", schema1(`, "name": "a", "tag": "b"`), ErrManifestInvalid, "fsLayers must list at least one layer"},
		{"schema1 empty fsLayers", "", schema1(`, "name": "a", "tag": "b", "fsLayers": []`), ErrManifestInvalid, "fsLayers must list at least one layer"},
		{"schema1 missing blobSum", "", schema1(`, "name": "a", "tag": "b", "fsLayers": [{"blobSum": "$L1"}, {}]`), ErrManifestInvalid, "fsLayers[1].blobSum is required"},
		{"schema1 bad blobSum", "", schema1(`, "name": "a", "tag": "b", "fsLayers": [{"blobSum": "tarsum.dev+sha256:abc"}]`), ErrManifestInvalid, "fsLayers[0].blobSum: unsupported digest algorithm"},
	})
}

func TestParseManifestSizeLimit(t *testing.T) {
	t.Parallel()
	index := ociIndex(goodChild)
	pad := func(n int) []byte {
		// Whitespace after the object is valid JSON, so the body's size is all that changes.
		return append([]byte(index), strings.Repeat(" ", n-len(index))...)
	}
	if _, err := ParseManifest("", pad(MaxManifestSize)); err != nil {
		t.Errorf("body of exactly MaxManifestSize: %v", err)
	}
	if _, err := ParseManifest("", pad(MaxManifestSize+1)); !errors.Is(err, ErrManifestInvalid) {
		t.Errorf("body of MaxManifestSize+1: err = %v; want ErrManifestInvalid", err)
	}
}

func TestParseManifestTruncatesEchoedInput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 10000)
	tests := []string{
		`{"schemaVersion": 2, "mediaType": "application/` + long + `"}`,
		ociImage(goodConfig, `{"mediaType": "a/b", "digest": "sha256:`+long+`", "size": 1}`),
		ociImage(goodConfig, `{"mediaType": "a/b", "digest": "`+long+`", "size": 1}`),
		ociImage(goodConfig, `{"mediaType": "a/b", "digest": "$L1", "size": 1`+strings.Repeat("0", 5000)+`}`),
	}
	for i, body := range tests {
		_, err := ParseManifest("", []byte(body))
		if err == nil || len(err.Error()) > 600 {
			t.Errorf("case %d: err = %.500v (len %d); want a short error", i, err, len(err.Error()))
		}
	}
	_, err := ParseManifest("application/"+long, []byte(`{"schemaVersion": 2, "manifests": []}`))
	if err == nil || len(err.Error()) > 800 {
		t.Errorf("long Content-Type: err = %.900v; want a short error", err)
	}
}
