package e2e

import (
	"bytes"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/manifest"
	"github.com/regclient/regclient/types/ref"
)

func TestRegclientCopyAndInspect(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	img := randomImage(t, 3000, 2)
	if err := remote.Write(s.repo(t, "rc/src").Tag("v1"), img, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	rc := s.regClient()
	src, dst := mustRef(t, s.host+"/rc/src:v1"), mustRef(t, s.host+"/rc/dst:copied")
	if err := rc.ImageCopy(ctx, src, dst); err != nil {
		t.Fatalf("copy: %v", err)
	}

	m, err := rc.ManifestGet(ctx, dst)
	if err != nil {
		t.Fatalf("manifest get: %v", err)
	}
	if got, want := m.GetDescriptor().Digest.String(), mustDigest(t, img).String(); got != want {
		t.Errorf("copied manifest digest %s, want %s", got, want)
	}
	raw, _ := m.RawBody()
	wantRaw, _ := img.RawManifest()
	if !bytes.Equal(raw, wantRaw) {
		t.Errorf("copied manifest bytes differ")
	}
	head, err := rc.ManifestHead(ctx, dst)
	if err != nil || head.GetDescriptor().Digest != m.GetDescriptor().Digest {
		t.Errorf("manifest head: %v, digest %v", err, head.GetDescriptor().Digest)
	}

	imager, ok := m.(manifest.Imager)
	if !ok {
		t.Fatalf("manifest %T is not an image manifest", m)
	}
	cfg, err := imager.GetConfig()
	if err != nil {
		t.Fatal(err)
	}
	wantCfg, _ := img.RawConfigFile()
	if got := blobBytes(t, s, dst, cfg); !bytes.Equal(got, wantCfg) {
		t.Errorf("config blob differs")
	}
	layers, err := imager.GetLayers()
	if err != nil {
		t.Fatal(err)
	}
	wantLayers, _ := img.Layers()
	if len(layers) != len(wantLayers) {
		t.Fatalf("%d layers, want %d", len(layers), len(wantLayers))
	}
	for i, l := range layers {
		if got := blobBytes(t, s, dst, l); !bytes.Equal(got, readCompressed(t, wantLayers[i])) {
			t.Errorf("layer %d differs", i)
		}
	}

	tl, err := rc.TagList(ctx, mustRef(t, s.host+"/rc/dst"))
	if err != nil {
		t.Fatal(err)
	}
	if tags, _ := tl.GetTags(); !slices.Equal(tags, []string{"copied"}) {
		t.Errorf("tags of the copy = %v, want [copied]", tags)
	}
}

// blobBytes reads a blob with regclient and checks its digest and size.
func blobBytes(t *testing.T, s *server, r ref.Ref, d descriptor.Descriptor) []byte {
	t.Helper()
	br, err := s.regClient().BlobGet(t.Context(), r, d)
	if err != nil {
		t.Fatalf("blob get %s: %v", d.Digest, err)
	}
	defer br.Close()
	b, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("read blob %s: %v", d.Digest, err)
	}
	if digest.FromBytes(b) != d.Digest || int64(len(b)) != d.Size {
		t.Errorf("blob %s: got %d bytes hashing to %s", d.Digest, len(b), digest.FromBytes(b))
	}
	return b
}
