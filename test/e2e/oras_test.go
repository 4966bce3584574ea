package e2e

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// orasRepository is an oras-go client for one repository of s, without
// retries so that server failures fail the test.
func (s *server) orasRepository(t testing.TB, name string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(s.host + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	r.Client = &auth.Client{
		Client:     &http.Client{Timeout: time.Minute},
		Cache:      auth.NewCache(),
		Credential: auth.StaticCredential(s.host, auth.Credential{Username: rootKeyID, Password: rootSecret}),
	}
	return r
}

func TestORASArtifactWithSubject(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	repo := s.orasRepository(t, "oras/app")
	mem := memory.New()
	const created = "2026-01-02T03:04:05Z" // fixed, so manifests are reproducible

	// The subject: an artifact of its own, pushed under a tag.
	appLayer, err := oras.PushBytes(ctx, mem, "application/vnd.example.app.layer", []byte("the application"))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := oras.PackManifest(ctx, mem, oras.PackManifestVersion1_1, "application/vnd.example.app",
		oras.PackManifestOptions{Layers: []ocispec.Descriptor{appLayer},
			ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: created}})
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Tag(ctx, subject, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := oras.Copy(ctx, mem, "v1", repo, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("push subject: %v", err)
	}

	// Two referrers of different artifact types, pushed by digest.
	const sigType, sbomType = "application/vnd.example.signature", "application/vnd.example.sbom"
	sigPayload := []byte("signature over " + subject.Digest.String())
	sig := packReferrer(t, mem, subject, sigType, sigPayload, created)
	sbom := packReferrer(t, mem, subject, sbomType, []byte(`{"packages":[]}`), created)
	for _, d := range []ocispec.Descriptor{sig, sbom} {
		if err := oras.CopyGraph(ctx, mem, repo, d, oras.DefaultCopyGraphOptions); err != nil {
			t.Fatalf("push referrer: %v", err)
		}
	}

	// The registry supports referrers, so oras must not have fallen back
	// to the referrers tag schema.
	var tags []string
	if err := repo.Tags(ctx, "", func(ts []string) error { tags = append(tags, ts...); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("tags = %v, want only v1 (a sha256-… tag means the referrers API was not used)", tags)
	}

	listed := referrersOf(t, repo, subject, "")
	if len(listed) != 2 || !hasDescriptor(listed, sig, sigType) || !hasDescriptor(listed, sbom, sbomType) {
		t.Errorf("referrers = %+v, want the signature and the sbom", listed)
	}
	if got := referrersOf(t, repo, subject, sigType); len(got) != 1 || !hasDescriptor(got, sig, sigType) {
		t.Errorf("referrers of type %s = %+v, want only the signature", sigType, got)
	}
	if got := referrersOf(t, repo, subject, "application/vnd.example.none"); len(got) != 0 {
		t.Errorf("referrers of an unused type = %+v, want none", got)
	}

	// Pull the signature back into a fresh store and compare.
	out := memory.New()
	if err := oras.CopyGraph(ctx, repo, out, sig, oras.DefaultCopyGraphOptions); err != nil {
		t.Fatalf("pull signature: %v", err)
	}
	wantManifest, _ := content.FetchAll(ctx, mem, sig)
	gotManifest, err := content.FetchAll(ctx, out, sig)
	if err != nil || !bytes.Equal(gotManifest, wantManifest) {
		t.Errorf("pulled signature manifest differs (err %v)", err)
	}
	successors, err := content.Successors(ctx, out, sig)
	if err != nil {
		t.Fatal(err)
	}
	var sawPayload, sawSubject bool
	for _, d := range successors {
		b, err := content.FetchAll(ctx, out, d)
		if err != nil {
			t.Fatalf("pulled %s: %v", d.Digest, err)
		}
		sawPayload = sawPayload || bytes.Equal(b, sigPayload)
		sawSubject = sawSubject || d.Digest == subject.Digest
	}
	if !sawPayload || !sawSubject {
		t.Errorf("pulled signature: payload found %v, subject found %v", sawPayload, sawSubject)
	}
	desc, err := repo.Resolve(ctx, "v1")
	if err != nil || desc.Digest != subject.Digest {
		t.Errorf("resolve v1 = %v, %v; want %s", desc.Digest, err, subject.Digest)
	}
}

func packReferrer(t *testing.T, mem *memory.Store, subject ocispec.Descriptor, artifactType string, payload []byte, created string) ocispec.Descriptor {
	t.Helper()
	ctx := t.Context()
	layer, err := oras.PushBytes(ctx, mem, artifactType+".payload", payload)
	if err != nil {
		t.Fatal(err)
	}
	d, err := oras.PackManifest(ctx, mem, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Subject: &subject, Layers: []ocispec.Descriptor{layer},
		ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: created, "org.example.kind": artifactType},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func referrersOf(t *testing.T, repo *remote.Repository, subject ocispec.Descriptor, artifactType string) []ocispec.Descriptor {
	t.Helper()
	var all []ocispec.Descriptor
	err := repo.Referrers(t.Context(), subject, artifactType, func(ds []ocispec.Descriptor) error {
		all = append(all, ds...)
		return nil
	})
	if err != nil {
		t.Fatalf("referrers (artifactType %q): %v", artifactType, err)
	}
	return all
}

// hasDescriptor reports whether ds lists want with its artifact type and
// annotations.
func hasDescriptor(ds []ocispec.Descriptor, want ocispec.Descriptor, artifactType string) bool {
	return slices.ContainsFunc(ds, func(d ocispec.Descriptor) bool {
		return d.Digest == want.Digest && d.Size == want.Size && d.MediaType == ocispec.MediaTypeImageManifest &&
			d.ArtifactType == artifactType && strings.EqualFold(d.Annotations["org.example.kind"], artifactType)
	})
}
