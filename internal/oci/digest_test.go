package oci

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestParseDigest(t *testing.T) {
	t.Parallel()
	hex64 := strings.Repeat("0123456789abcdef", 4)
	hex128 := hex64 + hex64
	tests := []struct {
		in   string
		want error // nil means valid
		msg  string
	}{
		{"sha256:" + hex64, nil, ""},
		{dCfg, nil, ""},
		{"sha512:" + hex128, nil, ""},
		{dS512, nil, ""},

		{"", ErrDigestInvalid, "digest is empty"},
		{hex64, ErrDigestInvalid, "has no ':' between algorithm and hex"},
		{"sha256", ErrDigestInvalid, `"sha256" has no ':'`},
		{"sha256:", ErrDigestInvalid, "must have 64 hex digits after \"sha256:\", got 0"},
		{"sha256:" + hex64[:63], ErrDigestInvalid, "got 63"},
		{"sha256:" + hex64 + "0", ErrDigestInvalid, "got 65"},
		{"sha256:" + hex128, ErrDigestInvalid, "sha256 digest must have 64 hex digits"},
		{"sha512:" + hex64, ErrDigestInvalid, "sha512 digest must have 128 hex digits"},
		{"sha256:" + strings.ToUpper(hex64), ErrDigestInvalid, "must use lowercase hex, found 'A' at offset 17"},
		{"sha256:" + hex64[:10] + "g" + hex64[11:], ErrDigestInvalid, "'g' at offset 17 of"},
		{"sha256:" + hex64[:63] + ":", ErrDigestInvalid, "':' at offset 70"},
		{"sha256:" + hex64[:63] + "\n", ErrDigestInvalid, "byte 0x0a at offset 70"},
		{"SHA256:" + hex64, ErrDigestInvalid, `algorithm "SHA256" in`},
		{":" + hex64, ErrDigestInvalid, `algorithm "" in`},
		{"sha-:abc", ErrDigestInvalid, "is malformed"},
		{"-sha:abc", ErrDigestInvalid, "is malformed"},
		{"sha..256:abc", ErrDigestInvalid, "is malformed"},
		{"sha 256:abc", ErrDigestInvalid, "is malformed"},
		{"blake3:", ErrDigestInvalid, "encoded part"},
		{"blake3:a:b", ErrDigestInvalid, "encoded part"},
		{"blake3:abc/def", ErrDigestInvalid, "encoded part"},

		{"blake3:" + hex64, ErrDigestUnsupported, `"blake3" in "blake3:0123`},
		{"sha384:" + hex64 + hex64[:32], ErrDigestUnsupported, "only sha256 and sha512 are supported"},
		{"md5:d41d8cd98f00b204e9800998ecf8427e", ErrDigestUnsupported, `"md5"`},
		{"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", ErrDigestUnsupported, "multihash+base58"},
		{"tarsum.v1+sha256:AbC=_-", ErrDigestUnsupported, "tarsum.v1+sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			d, err := ParseDigest(tt.in)
			if tt.want == nil {
				if err != nil || d != digest.Digest(tt.in) {
					t.Fatalf("ParseDigest(%q) = %q, %v; want it back", tt.in, d, err)
				}
				if verr := d.Validate(); verr != nil {
					t.Errorf("go-digest rejects accepted digest %q: %v", d, verr)
				}
				return
			}
			if d != "" {
				t.Errorf("ParseDigest(%q) returned %q with an error", tt.in, d)
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ParseDigest(%q) = %v; want %v containing %q", tt.in, err, tt.want, tt.msg)
			}
			other := ErrDigestUnsupported
			if tt.want == ErrDigestUnsupported {
				other = ErrDigestInvalid
			}
			if errors.Is(err, other) {
				t.Errorf("ParseDigest(%q) = %v; wraps both digest sentinels", tt.in, err)
			}
		})
	}
}

func TestParseDigestTruncatesLongInput(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		strings.Repeat("a", 100000),
		"sha256:" + strings.Repeat("a", 100000),
		"blake3:" + strings.Repeat("a", 100000),
		strings.Repeat("a", 100000) + ":a",
	} {
		if _, err := ParseDigest(in); err == nil || len(err.Error()) > 400 {
			t.Errorf("ParseDigest(<%d bytes>) error is %d bytes long", len(in), len(err.Error()))
		}
	}
}

// The blank crypto imports make go-digest usable for hashing with both supported algorithms.
func TestSupportedAlgorithmsAvailable(t *testing.T) {
	t.Parallel()
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		if !alg.Available() {
			t.Fatalf("%s is not available", alg)
		}
		d := alg.FromString("{}")
		if got, err := ParseDigest(d.String()); err != nil || got != d {
			t.Errorf("ParseDigest(%s.FromString) = %q, %v", alg, got, err)
		}
	}
	if got := digest.SHA256.FromString("{}"); got != dEmpty {
		t.Errorf("sha256 of the empty JSON = %s; want %s", got, dEmpty)
	}
}

func TestIsDigest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref  string
		want bool
	}{
		{dCfg, true},
		{"sha256:", true},
		{"blake3:x", true},
		{":", true},
		{"latest", false},
		{"v1.2.3", false},
		{"sha256-" + dCfg[7:], false}, // cosign tag
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			t.Parallel()
			if got := IsDigest(tt.ref); got != tt.want {
				t.Errorf("IsDigest(%q) = %v; want %v", tt.ref, got, tt.want)
			}
		})
	}
}

func TestParseReference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref     string
		want    Reference
		wantErr error
	}{
		{"latest", Reference{Tag: "latest"}, nil},
		{dCfg, Reference{Digest: dCfg}, nil},
		{"sha256:ABC", Reference{}, ErrDigestInvalid},
		{"blake3:abc", Reference{}, ErrDigestUnsupported},
		{".bad", Reference{}, ErrTagInvalid},
		{"", Reference{}, ErrTagInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReference(tt.ref)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("ParseReference(%q) = %+v, %v; want %+v, %v", tt.ref, got, err, tt.want, tt.wantErr)
			}
			if err == nil {
				if got.String() != tt.ref || got.IsDigest() != IsDigest(tt.ref) {
					t.Errorf("String(), IsDigest() = %q, %v", got.String(), got.IsDigest())
				}
			}
		})
	}
}
