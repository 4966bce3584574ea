package oci

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// Run with: go test ./internal/oci -run '^$' -fuzz '^FuzzValidateRepositoryName$' -fuzztime 30s
// (and likewise for each target below).

func FuzzValidateRepositoryName(f *testing.F) {
	for _, c := range repositoryNameCases {
		f.Add(c.name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateRepositoryName(name)
		if want := oracleValidName(name); want != (err == nil) {
			t.Fatalf("ValidateRepositoryName(%q) = %v; regexp oracle says valid=%v", name, err, want)
		}
		if err != nil && !errors.Is(err, ErrNameInvalid) {
			t.Fatalf("ValidateRepositoryName(%q) = %v; does not wrap ErrNameInvalid", name, err)
		}
	})
}

func FuzzValidateTag(f *testing.F) {
	for _, seed := range []string{"latest", "v1.2.3", "_x", ".x", "-x", "a:b", strings.Repeat("x", 129), ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		err := ValidateTag(tag)
		if want := tagOracle.MatchString(tag); want != (err == nil) {
			t.Fatalf("ValidateTag(%q) = %v; regexp oracle says valid=%v", tag, err, want)
		}
		if err != nil && !errors.Is(err, ErrTagInvalid) {
			t.Fatalf("ValidateTag(%q) = %v; does not wrap ErrTagInvalid", tag, err)
		}
		if err == nil && IsDigest(tag) {
			t.Fatalf("valid tag %q looks like a digest", tag)
		}
	})
}

// FuzzParseDigest uses go-digest as the oracle: Berth accepts exactly the sha256 and sha512
// digests go-digest accepts, and calls "unsupported" only other algorithms in digests that match
// the OCI digest grammar.
func FuzzParseDigest(f *testing.F) {
	for _, seed := range []string{
		dCfg, dS512, "sha256:" + strings.ToUpper(dCfg[7:]), "sha384:" + strings.Repeat("a", 96),
		"sha384:0", "blake3:abc", "md5:x", "a+b.c_d-e:AZaz09=_-", "sha256", ":", "a:b:c", "", "SHA256:ab",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		algName, _, _ := strings.Cut(s, ":") // go-digest's Algorithm panics without a ':'
		supported := algName == string(digest.SHA256) || algName == string(digest.SHA512)
		valid := supported && digest.Digest(s).Validate() == nil
		wellFormed := digest.DigestRegexpAnchored.MatchString(s)
		switch {
		case err == nil:
			if !valid || d != digest.Digest(s) {
				t.Fatalf("ParseDigest(%q) = %q; go-digest rejects it or it is not sha256/sha512", s, d)
			}
		case errors.Is(err, ErrDigestUnsupported):
			if supported || !wellFormed {
				t.Fatalf("ParseDigest(%q) = %v; want invalid", s, err)
			}
		case errors.Is(err, ErrDigestInvalid):
			if valid || (!supported && wellFormed) {
				t.Fatalf("ParseDigest(%q) = %v; want valid or unsupported", s, err)
			}
		default:
			t.Fatalf("ParseDigest(%q) = %v; wraps no digest sentinel", s, err)
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	for _, c := range fixtureCases {
		f.Add(c.contentType, []byte(c.body))
		f.Add("", []byte(c.body))
	}
	for _, body := range []string{
		``, `{}`, `null`, `[]`, `{"schemaVersion": 2}`, `{"schemaVersion": 1}`, `{"layers": "x"}`,
		`{"schemaVersion": 2, "manifests": [], "config": {}}`, `{"schemaVersion": 2, "manifests": [{}]}`,
		ociImage(goodConfig, goodLayer+","+goodLayer), ociIndex(goodChild + "," + goodChild),
	} {
		f.Add("application/json; charset=utf-8", []byte(body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		m, err := ParseManifest(contentType, body)
		if err != nil {
			checkManifestError(t, m, err)
			return
		}
		checkManifestInvariants(t, contentType, m)
		again, err := ParseManifest(contentType, body)
		if err != nil || !reflect.DeepEqual(m, again) {
			t.Fatalf("second parse differs: %+v, %v", again, err)
		}
	})
}

func checkManifestError(t *testing.T, m *Manifest, err error) {
	t.Helper()
	if m != nil {
		t.Fatalf("manifest %+v returned with error %v", m, err)
	}
	invalid, unsupported := errors.Is(err, ErrManifestInvalid), errors.Is(err, ErrManifestUnsupported)
	if invalid == unsupported {
		t.Fatalf("error %v: wraps ErrManifestInvalid=%v, ErrManifestUnsupported=%v; want exactly one",
			err, invalid, unsupported)
	}
	if errors.Is(err, ErrDigestInvalid) || errors.Is(err, ErrDigestUnsupported) {
		t.Fatalf("error %v wraps a digest sentinel", err)
	}
}

func checkManifestInvariants(t *testing.T, contentType string, m *Manifest) {
	t.Helper()
	if kind, ok := KindOf(m.MediaType); !ok || kind != m.Kind {
		t.Fatalf("MediaType %q with Kind %v", m.MediaType, m.Kind)
	}
	if h := contentTypeMediaType(contentType); h != "" && h != m.MediaType {
		t.Fatalf("accepted MediaType %q with Content-Type %q", m.MediaType, contentType)
	}
	switch m.Kind {
	case KindImage:
		if m.Config == nil || m.Manifests != nil || m.ChildManifests() != nil || m.ImageSize() < 0 {
			t.Fatalf("bad image: %+v", m)
		}
	case KindIndex:
		if m.Config != nil || m.Layers != nil || m.BlobReferences() != nil || m.ImageSize() != 0 {
			t.Fatalf("bad index: %+v", m)
		}
	case KindSchema1:
		if m.Config != nil || len(m.Layers) == 0 || m.Subject != nil || m.ArtifactType != "" {
			t.Fatalf("bad schema 1: %+v", m)
		}
	}
	if m.Subject != nil {
		if _, err := ParseDigest(m.Subject.Digest.String()); err != nil || m.Subject.MediaType == "" {
			t.Fatalf("bad subject %+v", m.Subject)
		}
	}
	for _, refs := range [][]digest.Digest{m.BlobReferences(), m.ChildManifests()} {
		seen := map[digest.Digest]bool{}
		for _, d := range refs {
			if _, err := ParseDigest(d.String()); err != nil || seen[d] {
				t.Fatalf("bad or repeated reference %q in %v", d, refs)
			}
			seen[d] = true
		}
	}
}
