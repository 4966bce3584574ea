package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// ociImage builds an OCI-typed image of random layers.
func ociImage(t testing.TB, layerSize int64, layers int) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for range layers {
		l, err := random.Layer(layerSize, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

func randomImage(t testing.TB, layerSize, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(layerSize, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustDigest(t testing.TB, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// verifyImage pulls ref and checks it is want, byte for byte: manifest,
// config and every layer; then validates it as go-containerregistry does.
func verifyImage(t testing.TB, ctx context.Context, ref name.Reference, want v1.Image) {
	t.Helper()
	got, err := remote.Image(ref, remoteOpts(ctx)...)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if g, w := mustDigest(t, got), mustDigest(t, want); g != w {
		t.Fatalf("pull %s: digest %s, want %s", ref, g, w)
	}
	gm, _ := got.RawManifest()
	wm, _ := want.RawManifest()
	if !bytes.Equal(gm, wm) {
		t.Errorf("pull %s: manifest bytes differ:\n got %s\nwant %s", ref, gm, wm)
	}
	gc, err := got.RawConfigFile()
	if err != nil {
		t.Fatalf("pull %s: config: %v", ref, err)
	}
	wc, _ := want.RawConfigFile()
	if !bytes.Equal(gc, wc) {
		t.Errorf("pull %s: config bytes differ", ref)
	}
	gl, err := got.Layers()
	if err != nil {
		t.Fatalf("pull %s: layers: %v", ref, err)
	}
	wl, _ := want.Layers()
	if len(gl) != len(wl) {
		t.Fatalf("pull %s: %d layers, want %d", ref, len(gl), len(wl))
	}
	for i := range wl {
		if g, w := readCompressed(t, gl[i]), readCompressed(t, wl[i]); !bytes.Equal(g, w) {
			t.Errorf("pull %s: layer %d: %d bytes differ from the %d pushed", ref, i, len(g), len(w))
		}
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("validate %s: %v", ref, err)
	}
}

func readCompressed(t testing.TB, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatalf("open layer: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read layer: %v", err)
	}
	return b
}

// wantTransportError checks that err is a registry error with status and,
// when code is not empty, that error code.
func wantTransportError(t testing.TB, what string, err error, status int, code string) *transport.Error {
	t.Helper()
	var te *transport.Error
	if !errors.As(err, &te) {
		t.Errorf("%s: err = %v, want a registry error with status %d", what, err, status)
		return nil
	}
	if te.StatusCode != status {
		t.Errorf("%s: status %d, want %d (%v)", what, te.StatusCode, status, err)
	}
	if code != "" && !slices.ContainsFunc(te.Errors, func(d transport.Diagnostic) bool { return string(d.Code) == code }) {
		t.Errorf("%s: error codes %+v, want %s", what, te.Errors, code)
	}
	return te
}

func TestImageRoundTrip(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	tests := []struct {
		name string
		img  func(testing.TB) v1.Image
	}{
		{"docker-3-layers", func(t testing.TB) v1.Image { return randomImage(t, 2048, 3) }},
		{"docker-6-small-layers", func(t testing.TB) v1.Image { return randomImage(t, 100, 6) }},
		{"oci-4-layers", func(t testing.TB) v1.Image { return ociImage(t, 4096, 4) }},
		{"one-2mib-layer", func(t testing.TB) v1.Image { return randomImage(t, 2<<20, 1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The deadline starts when the subtest runs, not while it
			// waits for a parallel slot.
			ctx := testContext(t, 2*time.Minute)
			img := tc.img(t)
			repo := s.repo(t, "roundtrip/"+tc.name)
			if err := remote.Write(repo.Tag("v1"), img, remoteOpts(ctx)...); err != nil {
				t.Fatalf("push: %v", err)
			}
			verifyImage(t, ctx, repo.Tag("v1"), img)
			verifyImage(t, ctx, repo.Digest(mustDigest(t, img).String()), img)
			desc, err := remote.Head(repo.Tag("v1"), remoteOpts(ctx)...)
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			mt, _ := img.MediaType()
			size, _ := img.Size()
			if desc.Digest != mustDigest(t, img) || desc.MediaType != mt || desc.Size != size {
				t.Errorf("HEAD descriptor %+v, want digest %s, media type %s, size %d", desc, mustDigest(t, img), mt, size)
			}
		})
	}
}

func TestIndexRoundTrip(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	flat, err := random.Index(1024, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	nested := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: inner},
		mutate.IndexAddendum{Add: randomImage(t, 256, 2)})
	for _, tc := range []struct {
		name string
		idx  v1.ImageIndex
	}{{"flat", flat}, {"nested", nested}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t, 2*time.Minute) // counted from when the subtest runs
			repo := s.repo(t, "index/"+tc.name)
			if err := remote.WriteIndex(repo.Tag("multi"), tc.idx, remoteOpts(ctx)...); err != nil {
				t.Fatalf("push index: %v", err)
			}
			verifyIndex(t, ctx, repo, repo.Tag("multi"), tc.idx)
		})
	}
}

// verifyIndex pulls an index and, recursively, every child.
func verifyIndex(t *testing.T, ctx context.Context, repo name.Repository, ref name.Reference, want v1.ImageIndex) {
	t.Helper()
	got, err := remote.Index(ref, remoteOpts(ctx)...)
	if err != nil {
		t.Fatalf("pull index %s: %v", ref, err)
	}
	gm, _ := got.RawManifest()
	wm, _ := want.RawManifest()
	if !bytes.Equal(gm, wm) {
		t.Fatalf("index %s: manifest differs:\n got %s\nwant %s", ref, gm, wm)
	}
	if err := validate.Index(got); err != nil {
		t.Errorf("validate index %s: %v", ref, err)
	}
	im, err := want.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		child := repo.Digest(d.Digest.String())
		if d.MediaType.IsIndex() {
			sub, err := want.ImageIndex(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			verifyIndex(t, ctx, repo, child, sub)
			continue
		}
		img, err := want.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		verifyImage(t, ctx, child, img)
	}
}

func TestDeleteTagVersusDigest(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	repo := s.repo(t, "delete/app")
	img := randomImage(t, 512, 2)
	dgst := repo.Digest(mustDigest(t, img).String())
	if err := remote.Write(repo.Tag("one"), img, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(repo.Tag("two"), img, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	tags := func() []string {
		t.Helper()
		l, err := remote.List(repo, remoteOpts(ctx)...)
		if err != nil {
			t.Fatalf("list tags: %v", err)
		}
		return l
	}

	// Deleting a tag removes that tag only.
	if err := remote.Delete(repo.Tag("one"), remoteOpts(ctx)...); err != nil {
		t.Fatalf("delete tag: %v", err)
	}
	_, err := remote.Get(repo.Tag("one"), remoteOpts(ctx)...)
	wantTransportError(t, "get deleted tag", err, http.StatusNotFound, "MANIFEST_UNKNOWN")
	verifyImage(t, ctx, repo.Tag("two"), img)
	verifyImage(t, ctx, dgst, img)
	if got := tags(); !slices.Equal(got, []string{"two"}) {
		t.Errorf("tags after deleting one tag = %v, want [two]", got)
	}
	err = remote.Delete(repo.Tag("never-pushed"), remoteOpts(ctx)...)
	wantTransportError(t, "delete unknown tag", err, http.StatusNotFound, "MANIFEST_UNKNOWN")

	// Deleting by digest removes the image and every tag on it.
	if err := remote.Delete(dgst, remoteOpts(ctx)...); err != nil {
		t.Fatalf("delete digest: %v", err)
	}
	for _, ref := range []name.Reference{dgst, repo.Tag("two")} {
		_, err := remote.Get(ref, remoteOpts(ctx)...)
		wantTransportError(t, "get "+ref.String()+" after deleting the digest", err, http.StatusNotFound, "MANIFEST_UNKNOWN")
	}
	if got := tags(); len(got) != 0 {
		t.Errorf("tags after deleting the digest = %v, want none", got)
	}
	err = remote.Delete(dgst, remoteOpts(ctx)...)
	wantTransportError(t, "delete digest twice", err, http.StatusNotFound, "MANIFEST_UNKNOWN")
}

func TestDeleteIndexChild(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	repo := s.repo(t, "delete/index")
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(repo.Tag("multi"), idx, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	child := repo.Digest(im.Manifests[0].Digest.String())
	// A child still listed by an index cannot be deleted on its own.
	err = remote.Delete(child, remoteOpts(ctx)...)
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode < 400 || te.StatusCode >= 500 {
		t.Errorf("delete a child of a stored index: err = %v, want a 4xx refusal", err)
	}
	if _, err := remote.Get(child, remoteOpts(ctx)...); err != nil {
		t.Errorf("child after refused delete: %v", err)
	}
	if err := remote.Delete(repo.Digest(mustDigest(t, idx).String()), remoteOpts(ctx)...); err != nil {
		t.Fatalf("delete index: %v", err)
	}
	if err := remote.Delete(child, remoteOpts(ctx)...); err != nil {
		t.Errorf("delete child once its index is gone: %v", err)
	}
}

// artifact builds an OCI artifact manifest about subject, typed by its
// config media type (the effective artifactType when none is set).
func artifact(t testing.TB, subject v1.Descriptor, artifactType string, payload string) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.MediaType(artifactType))
	img, err := mutate.AppendLayers(img, static.NewLayer([]byte(payload), "application/vnd.example.payload"))
	if err != nil {
		t.Fatal(err)
	}
	// Annotations before Subject: mutate.Annotations drops a subject set earlier.
	img = mutate.Annotations(img, map[string]string{"org.example.payload": payload}).(v1.Image)
	img = mutate.Subject(img, subject).(v1.Image)
	if m, err := img.Manifest(); err != nil || m.Subject == nil || m.Subject.Digest != subject.Digest {
		t.Fatalf("artifact manifest lacks its subject: %v", err)
	}
	return img
}

func TestReferrers(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	repo := s.repo(t, "referrers/app")
	opts := func(extra ...remote.Option) []remote.Option {
		return remoteOpts(ctx, append(extra, remote.WithReferrersTagFallback(false))...)
	}
	subject := randomImage(t, 512, 1)
	if err := remote.Write(repo.Tag("v1"), subject, opts()...); err != nil {
		t.Fatal(err)
	}
	subjDesc, err := remote.Head(repo.Tag("v1"), opts()...)
	if err != nil {
		t.Fatal(err)
	}
	const sbomType, sigType = "application/vnd.example.sbom.v1", "application/vnd.example.signature.v1"
	sbom := artifact(t, *subjDesc, sbomType, "sbom")
	sig := artifact(t, *subjDesc, sigType, "signature")
	for _, a := range []v1.Image{sbom, sig} {
		if err := remote.Write(repo.Digest(mustDigest(t, a).String()), a, opts()...); err != nil {
			t.Fatalf("push artifact: %v", err)
		}
	}
	subjRef := repo.Digest(subjDesc.Digest.String())

	all := referrerDigests(t, subjRef, opts()...)
	want := []string{mustDigest(t, sbom).String(), mustDigest(t, sig).String()}
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Errorf("referrers = %v, want %v", all, want)
	}
	if got := referrerDigests(t, subjRef, opts(remote.WithFilter("artifactType", sbomType))...); !slices.Equal(got, []string{mustDigest(t, sbom).String()}) {
		t.Errorf("referrers filtered by %s = %v, want only the sbom", sbomType, got)
	}
	checkReferrerDescriptor(t, subjRef, sbom, sbomType, opts()...)

	// The client filters on its own, so look at the server's answer too.
	r := s.do(t, http.MethodGet, "/v2/referrers/app/referrers/"+subjDesc.Digest.String()+"?artifactType="+sigType, nil, nil)
	if r.Status != http.StatusOK || r.Header.Get("OCI-Filters-Applied") != "artifactType" ||
		!strings.Contains(string(r.Body), mustDigest(t, sig).String()) || strings.Contains(string(r.Body), mustDigest(t, sbom).String()) {
		t.Errorf("server-side artifactType filter: status %d, OCI-Filters-Applied %q, body %s",
			r.Status, r.Header.Get("OCI-Filters-Applied"), r.Body)
	}

	// No referrers is an empty index, not an error.
	none := randomImage(t, 64, 1)
	if got := referrerDigests(t, repo.Digest(mustDigest(t, none).String()), opts()...); len(got) != 0 {
		t.Errorf("referrers of an unknown digest = %v, want none", got)
	}
	// A deleted referrer is no longer listed.
	if err := remote.Delete(repo.Digest(mustDigest(t, sig).String()), opts()...); err != nil {
		t.Fatal(err)
	}
	if got := referrerDigests(t, subjRef, opts()...); !slices.Equal(got, []string{mustDigest(t, sbom).String()}) {
		t.Errorf("referrers after deleting the signature = %v, want only the sbom", got)
	}
}

func referrerDigests(t testing.TB, subject name.Digest, opts ...remote.Option) []string {
	t.Helper()
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		t.Fatalf("referrers of %s: %v", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, m := range im.Manifests {
		ds = append(ds, m.Digest.String())
	}
	slices.Sort(ds)
	return ds
}

// checkReferrerDescriptor checks the descriptor listed for a referrer
// carries its media type, size, artifact type and annotations.
func checkReferrerDescriptor(t testing.TB, subject name.Digest, a v1.Image, artifactType string, opts ...remote.Option) {
	t.Helper()
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	size, _ := a.Size()
	for _, m := range im.Manifests {
		if m.Digest != mustDigest(t, a) {
			continue
		}
		if m.MediaType != types.OCIManifestSchema1 || m.Size != size || m.ArtifactType != artifactType ||
			m.Annotations["org.example.payload"] == "" {
			t.Errorf("referrer descriptor %+v, want media type %s, size %d, artifactType %s and the annotations",
				m, types.OCIManifestSchema1, size, artifactType)
		}
		return
	}
	t.Errorf("referrer %s not listed", mustDigest(t, a))
}

// TestAccountAddressing: /v2/<default account>/<name> is the same
// repository as /v2/<name>, for pushes as for pulls.
func TestAccountAddressing(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	viaAccount := randomImage(t, 300, 2)
	plainImg := randomImage(t, 300, 2)
	if err := remote.Write(s.repo(t, defaultAccount+"/acct/app").Tag("explicit"), viaAccount, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push with the account in the path: %v", err)
	}
	if err := remote.Write(s.repo(t, "acct/app").Tag("plain"), plainImg, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push without the account: %v", err)
	}
	for _, r := range []string{"acct/app", defaultAccount + "/acct/app"} {
		repo := s.repo(t, r)
		verifyImage(t, ctx, repo.Tag("explicit"), viaAccount)
		verifyImage(t, ctx, repo.Tag("plain"), plainImg)
		if tags, err := remote.List(repo, remoteOpts(ctx)...); err != nil || !slices.Equal(tags, []string{"explicit", "plain"}) {
			t.Errorf("tags via %s = %v, %v; want [explicit plain]", r, tags, err)
		}
	}
	repos, err := remote.Catalog(ctx, s.registry(t), remoteOpts(ctx)...)
	if err != nil || !slices.Equal(repos, []string{"acct/app"}) {
		t.Errorf("catalog = %v, %v; want [acct/app] (no account prefix)", repos, err)
	}
}
