package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

const minPartSize = 5 << 20 // ECR's smallest part but the last

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// uploadLayer uploads blob through InitiateLayerUpload, UploadLayerPart
// (one part per size in parts, the rest in a last part) and
// CompleteLayerUpload, checking every answer, and returns the digest.
func uploadLayer(t testing.TB, ctx context.Context, c *ecr.Client, repo string, blob []byte, parts ...int) string {
	t.Helper()
	id := initiateUpload(t, ctx, c, repo)
	var first int64
	for i := 0; first < int64(len(blob)); i++ {
		n := int64(len(blob)) - first
		if i < len(parts) {
			n = int64(parts[i])
		}
		out, err := uploadPart(ctx, c, repo, id, first, blob[first:first+n])
		if err != nil {
			t.Fatalf("UploadLayerPart %d (bytes %d-%d): %v", i+1, first, first+n-1, err)
		}
		if got := aws.ToInt64(out.LastByteReceived); got != first+n-1 {
			t.Errorf("UploadLayerPart %d: lastByteReceived %d, want %d", i+1, got, first+n-1)
		}
		if aws.ToString(out.UploadId) != id || aws.ToString(out.RepositoryName) != repo || aws.ToString(out.RegistryId) != defaultAccount {
			t.Errorf("UploadLayerPart %d: answered %+v", i+1, out)
		}
		first += n
	}
	want := sha256Digest(blob)
	out, err := c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: aws.String(id),
		LayerDigests: []string{want}})
	if err != nil {
		t.Fatalf("CompleteLayerUpload: %v", err)
	}
	if aws.ToString(out.LayerDigest) != want || aws.ToString(out.UploadId) != id || aws.ToString(out.RepositoryName) != repo {
		t.Errorf("CompleteLayerUpload answered %+v, want digest %s of upload %s", out, want, id)
	}
	return want
}

func initiateUpload(t testing.TB, ctx context.Context, c *ecr.Client, repo string) string {
	t.Helper()
	out, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(repo)})
	if err != nil {
		t.Fatalf("InitiateLayerUpload: %v", err)
	}
	id := aws.ToString(out.UploadId)
	if !uuidPattern.MatchString(id) {
		t.Errorf("InitiateLayerUpload: uploadId %q is not a UUID", id)
	}
	if ps := aws.ToInt64(out.PartSize); ps < minPartSize || ps > 20971520 {
		t.Errorf("InitiateLayerUpload: partSize %d, want 5 MiB to 20 MiB", ps)
	}
	return id
}

func uploadPart(ctx context.Context, c *ecr.Client, repo, id string, first int64, part []byte) (*ecr.UploadLayerPartOutput, error) {
	return c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo), UploadId: aws.String(id),
		PartFirstByte: aws.Int64(first), PartLastByte: aws.Int64(first + int64(len(part)) - 1), LayerPartBlob: part})
}

// TestECRLayerUploadAndPull: an image pushed entirely through the API
// pulls over /v2 with GetAuthorizationToken's password.
func TestECRLayerUploadAndPull(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 3*time.Minute)
	c := s.ecr()
	const repo = "apipush/app"
	createRepo(t, ctx, c, repo)

	layer, err := random.Layer(minPartSize+300<<10, ggcrtypes.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	layerBytes := readCompressed(t, layer)
	if len(layerBytes) <= minPartSize {
		t.Fatalf("test bug: layer of %d bytes does not need two parts", len(layerBytes))
	}
	config, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	raw, mt := manifestBody(t, img)

	if got := uploadLayer(t, ctx, c, repo, layerBytes, minPartSize); got != mustDigest(t, layer).String() {
		t.Fatalf("layer uploaded as %s, want %s", got, mustDigest(t, layer))
	}
	uploadLayer(t, ctx, c, repo, config)
	avail, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String(repo),
		LayerDigests: []string{sha256Digest(layerBytes), sha256Digest(config)}})
	if err != nil || len(avail.Layers) != 2 || len(avail.Failures) != 0 {
		t.Fatalf("BatchCheckLayerAvailability after the uploads = %+v, %v", avail, err)
	}
	for i, size := range []int{len(layerBytes), len(config)} {
		if l := avail.Layers[i]; l.LayerAvailability != types.LayerAvailabilityAvailable || aws.ToInt64(l.LayerSize) != int64(size) {
			t.Errorf("layer %d: %s, %d bytes; want AVAILABLE, %d", i, l.LayerAvailability, aws.ToInt64(l.LayerSize), size)
		}
	}
	put, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(raw)),
		ImageManifestMediaType: aws.String(mt), ImageTag: aws.String("api")})
	if err != nil {
		t.Fatalf("PutImage: %v", err)
	}
	if aws.ToString(put.Image.ImageId.ImageDigest) != mustDigest(t, img).String() {
		t.Errorf("PutImage digest %s, want %s", aws.ToString(put.Image.ImageId.ImageDigest), mustDigest(t, img))
	}

	tok, err := c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	decoded, _ := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	_, password, _ := strings.Cut(string(decoded), ":")
	opts := remoteOpts(ctx, remote.WithAuth(&authn.Basic{Username: "AWS", Password: password}))
	got, err := remote.Image(s.repo(t, repo).Tag("api"), opts...)
	if err != nil {
		t.Fatalf("pull the API-pushed image with the registry password: %v", err)
	}
	if gm, _ := got.RawManifest(); !bytes.Equal(gm, raw) {
		t.Errorf("pulled manifest differs:\n got %s\nwant %s", gm, raw)
	}
	if gc, err := got.RawConfigFile(); err != nil || !bytes.Equal(gc, config) {
		t.Errorf("pulled config differs (%v)", err)
	}
	gl, err := got.Layers()
	if err != nil || len(gl) != 1 {
		t.Fatalf("pulled layers: %d, %v", len(gl), err)
	}
	if b := readCompressed(t, gl[0]); !bytes.Equal(b, layerBytes) {
		t.Errorf("pulled layer: %d bytes differ from the %d uploaded", len(b), len(layerBytes))
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("validate the pulled image: %v", err)
	}
	d, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	if err != nil || len(d.ImageDetails) != 1 || aws.ToInt64(d.ImageDetails[0].ImageSizeInBytes) != int64(len(layerBytes)+len(config)) {
		t.Errorf("DescribeImages = %+v, %v; want one image of %d bytes", d, err, len(layerBytes)+len(config))
	}
}

func TestECRLayerUploadErrors(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	const repo = "uperr/app"
	createRepo(t, ctx, c, repo)
	createRepo(t, ctx, c, "uperr/other")
	blob := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB

	_, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("uperr/none")})
	wantException[*types.RepositoryNotFoundException](t, "InitiateLayerUpload in a missing repository", err)

	// Parts must continue the upload exactly; a refused part says where.
	id := initiateUpload(t, ctx, c, repo)
	if _, err := uploadPart(ctx, c, repo, id, 0, blob[:100]); err != nil {
		t.Fatalf("first part: %v", err)
	}
	refused := map[string]*ecr.UploadLayerPartInput{
		"overlapping part": {PartFirstByte: aws.Int64(50), PartLastByte: aws.Int64(149), LayerPartBlob: blob[50:150]},
		"part after a gap": {PartFirstByte: aws.Int64(200), PartLastByte: aws.Int64(299), LayerPartBlob: blob[200:300]},
		"part repeated":    {PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(99), LayerPartBlob: blob[:100]},
		"range longer than the bytes sent": {PartFirstByte: aws.Int64(100), PartLastByte: aws.Int64(299),
			LayerPartBlob: blob[100:200]},
	}
	for what, in := range refused {
		in.RepositoryName, in.UploadId = aws.String(repo), aws.String(id)
		_, err := c.UploadLayerPart(ctx, in)
		e := wantException[*types.InvalidLayerPartException](t, "UploadLayerPart "+what, err)
		if e == nil {
			continue
		}
		if got := aws.ToInt64(e.LastValidByteReceived); e.LastValidByteReceived == nil || got != 99 {
			t.Errorf("%s: lastValidByteReceived %d (set: %v), want 99", what, got, e.LastValidByteReceived != nil)
		}
		if aws.ToString(e.UploadId) != id || aws.ToString(e.RepositoryName) != repo || aws.ToString(e.RegistryId) != defaultAccount {
			t.Errorf("%s: exception members uploadId %q, repositoryName %q, registryId %q", what,
				aws.ToString(e.UploadId), aws.ToString(e.RepositoryName), aws.ToString(e.RegistryId))
		}
	}
	if out, err := uploadPart(ctx, c, repo, id, 100, blob[100:]); err != nil || aws.ToInt64(out.LastByteReceived) != int64(len(blob)-1) {
		t.Fatalf("the right next part after refused ones = %+v, %v", out, err)
	}
	// Its first part was under 5 MiB and not the last: ECR refuses that at
	// completion. The digest rule is checked on a valid one-part upload.
	_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: aws.String(id),
		LayerDigests: []string{sha256Digest(blob)}})
	wantException[*types.LayerPartTooSmallException](t, "CompleteLayerUpload after a small non-final part", err)
	single := initiateUpload(t, ctx, c, repo)
	if _, err := uploadPart(ctx, c, repo, single, 0, blob); err != nil {
		t.Fatal(err)
	}
	_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: aws.String(single),
		LayerDigests: []string{sha256Digest([]byte("other content"))}})
	wantException[*types.InvalidLayerException](t, "CompleteLayerUpload with a digest the bytes do not have", err)
	avail, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String(repo),
		LayerDigests: []string{sha256Digest(blob), sha256Digest([]byte("other content"))}})
	if err != nil || len(avail.Layers) != 0 || len(avail.Failures) != 2 {
		t.Errorf("layers after the refused completion = %+v, %v; want none available", avail, err)
	}

	// Empty uploads, unknown uploads, uploads of another repository.
	empty := initiateUpload(t, ctx, c, repo)
	_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: aws.String(empty),
		LayerDigests: []string{sha256Digest(nil)}})
	wantException[*types.EmptyUploadException](t, "CompleteLayerUpload with no parts", err)
	otherID := initiateUpload(t, ctx, c, "uperr/other")
	for what, uid := range map[string]string{
		"unknown upload id":           "3f1d2a4e-1111-4222-8333-944445555666",
		"another repository's upload": otherID,
	} {
		_, err := uploadPart(ctx, c, repo, uid, 0, blob)
		wantException[*types.UploadNotFoundException](t, "UploadLayerPart with an "+what, err)
		_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: aws.String(uid),
			LayerDigests: []string{sha256Digest(blob)}})
		wantException[*types.UploadNotFoundException](t, "CompleteLayerUpload with an "+what, err)
	}
	_, err = uploadPart(ctx, c, repo, "not-an-upload", 0, blob)
	wantException[*types.InvalidParameterException](t, "UploadLayerPart with an upload id that is not a UUID (model pattern)", err)
	_, err = uploadPart(ctx, c, "uperr/none", otherID, 0, blob)
	wantException[*types.RepositoryNotFoundException](t, "UploadLayerPart in a missing repository", err)

	// A layer the repository already has.
	uploadLayer(t, ctx, c, repo, blob, len(blob))
	again := initiateUpload(t, ctx, c, repo)
	if _, err := uploadPart(ctx, c, repo, again, 0, blob); err != nil {
		t.Fatal(err)
	}
	_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: aws.String(again),
		LayerDigests: []string{sha256Digest(blob)}})
	wantException[*types.LayerAlreadyExistsException](t, "CompleteLayerUpload of a layer the repository has", err)
	_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: aws.String(again),
		LayerDigests: []string{"sha256:xyz"}})
	wantException[*types.InvalidParameterException](t, "CompleteLayerUpload with digest sha256:xyz", err)
}

// TestECRLayerPartTooSmall: every part but the last must be at least
// 5 MiB; CompleteLayerUpload refuses an upload of smaller parts (spec §3.3).
func TestECRLayerPartTooSmall(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()
	createRepo(t, ctx, c, "small/app")
	blob := bytes.Repeat([]byte("x"), 2048)
	id := initiateUpload(t, ctx, c, "small/app")
	for _, first := range []int64{0, 1024} {
		if _, err := uploadPart(ctx, c, "small/app", id, first, blob[first:first+1024]); err != nil {
			t.Fatalf("UploadLayerPart at %d: %v", first, err)
		}
	}
	_, err := c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String("small/app"), UploadId: aws.String(id),
		LayerDigests: []string{sha256Digest(blob)}})
	wantException[*types.LayerPartTooSmallException](t, "CompleteLayerUpload of two 1 KiB parts", err)
}

// TestECRLayerPartSizeLimit: a part may carry up to the model's 20 MiB
// (20,971,520 bytes) of layerPartBlob, not a byte more.
func TestECRLayerPartSizeLimit(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	createRepo(t, ctx, c, "bigpart/app")
	const maxPart = 20971520
	blob := make([]byte, maxPart+1)
	for i := range blob {
		blob[i] = byte(i * 7 / 3)
	}
	id := initiateUpload(t, ctx, c, "bigpart/app")
	_, err := uploadPart(ctx, c, "bigpart/app", id, 0, blob)
	wantException[*types.InvalidParameterException](t, "UploadLayerPart of 20 MiB + 1 byte", err)
	out, err := uploadPart(ctx, c, "bigpart/app", id, 0, blob[:maxPart])
	if err != nil || aws.ToInt64(out.LastByteReceived) != maxPart-1 {
		t.Fatalf("UploadLayerPart of exactly 20 MiB = %+v, %v", out, err)
	}
	if _, err := uploadPart(ctx, c, "bigpart/app", id, maxPart, blob[maxPart:]); err != nil {
		t.Fatalf("last part: %v", err)
	}
	done, err := c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String("bigpart/app"), UploadId: aws.String(id),
		LayerDigests: []string{sha256Digest(blob)}})
	if err != nil || aws.ToString(done.LayerDigest) != sha256Digest(blob) {
		t.Errorf("CompleteLayerUpload = %+v, %v", done, err)
	}
}

func TestECRBatchCheckLayerAvailability(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()
	createRepo(t, ctx, c, "check/app")
	createRepo(t, ctx, c, "check/other")
	img := randomImage(t, 700, 2)
	s.pushImage(t, ctx, "check/app", "v1", img)
	elsewhere := randomImage(t, 100, 1)
	s.pushImage(t, ctx, "check/other", "v1", elsewhere)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	descs := append([]v1.Descriptor{m.Config}, m.Layers...)
	var digests []string
	for _, d := range descs {
		digests = append(digests, d.Digest.String())
	}
	otherLayers, _ := elsewhere.Layers()
	missing := sha256Digest([]byte("never pushed"))
	digests = append(digests, missing, "not-a-digest", mustDigest(t, otherLayers[0]).String())

	out, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("check/app"), LayerDigests: digests})
	if err != nil {
		t.Fatalf("BatchCheckLayerAvailability: %v", err)
	}
	if len(out.Layers) != len(descs) {
		t.Fatalf("%d layers available, want %d: %+v", len(out.Layers), len(descs), out.Layers)
	}
	for i, d := range descs {
		l := out.Layers[i]
		if aws.ToString(l.LayerDigest) != d.Digest.String() || aws.ToInt64(l.LayerSize) != d.Size || l.LayerAvailability != types.LayerAvailabilityAvailable {
			t.Errorf("layer %d = %s %d %s, want %s %d AVAILABLE", i, aws.ToString(l.LayerDigest), aws.ToInt64(l.LayerSize), l.LayerAvailability, d.Digest, d.Size)
		}
	}
	wantFailures := map[string]types.LayerFailureCode{
		missing:                                types.LayerFailureCodeMissingLayerDigest,
		"not-a-digest":                         types.LayerFailureCodeInvalidLayerDigest,
		mustDigest(t, otherLayers[0]).String(): types.LayerFailureCodeMissingLayerDigest,
	}
	if len(out.Failures) != len(wantFailures) {
		t.Errorf("failures = %+v, want %d", out.Failures, len(wantFailures))
	}
	for _, f := range out.Failures {
		if want, ok := wantFailures[aws.ToString(f.LayerDigest)]; !ok || f.FailureCode != want || aws.ToString(f.FailureReason) == "" {
			t.Errorf("failure %s %s %q, want %s with a reason", aws.ToString(f.LayerDigest), f.FailureCode, aws.ToString(f.FailureReason), want)
		}
	}
	_, err = c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("check/none"), LayerDigests: digests[:1]})
	wantException[*types.RepositoryNotFoundException](t, "BatchCheckLayerAvailability in a missing repository", err)
	_, err = c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("check/app"), LayerDigests: []string{}})
	wantException[*types.InvalidParameterException](t, "BatchCheckLayerAvailability with no digests", err)
}

func TestECRGetDownloadUrlForLayer(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()
	createRepo(t, ctx, c, "dl/app")
	createRepo(t, ctx, c, "dl/other")
	img := randomImage(t, 4096, 2)
	s.pushImage(t, ctx, "dl/app", "v1", img)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for i, l := range layers {
		d := mustDigest(t, l).String()
		out, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("dl/app"), LayerDigest: aws.String(d)})
		if err != nil {
			t.Fatalf("GetDownloadUrlForLayer %d: %v", i, err)
		}
		if aws.ToString(out.LayerDigest) != d {
			t.Errorf("layer %d: layerDigest %s, want %s", i, aws.ToString(out.LayerDigest), d)
		}
		u := aws.ToString(out.DownloadUrl)
		urls = append(urls, u)
		status, body := plainGet(t, u)
		if status != http.StatusOK || !bytes.Equal(body, readCompressed(t, l)) {
			t.Errorf("layer %d: GET %s without credentials: status %d, %d bytes; want 200 and the %d layer bytes", i, u, status, len(body),
				len(readCompressed(t, l)))
		}
	}

	// Any change to the URL is refused.
	u, err := url.Parse(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	claim, err := base64.RawURLEncoding.DecodeString(q.Get("c"))
	if err != nil {
		t.Fatalf("claim parameter: %v", err)
	}
	var fields map[string]any
	if err := json.Unmarshal(claim, &fields); err != nil {
		t.Fatalf("claim %s: %v", claim, err)
	}
	retargeted := strings.Replace(string(claim), mustDigest(t, layers[0]).String(), mustDigest(t, layers[1]).String(), 1)
	if retargeted == string(claim) {
		t.Fatalf("test bug: claim %s does not name the layer", claim)
	}
	sig := q.Get("s")
	tampered := map[string]url.Values{
		"claim naming another layer": with(q, "c", base64.RawURLEncoding.EncodeToString([]byte(retargeted))),
		"changed signature":          with(q, "s", sig[:len(sig)/2]+flipChar(sig[len(sig)/2])+sig[len(sig)/2+1:]),
		"no signature":               with(q, "s", ""),
		"unknown key id":             with(q, "k", "0000000000000000"),
	}
	for what, v := range tampered {
		t2 := *u
		t2.RawQuery = v.Encode()
		if status, body := plainGet(t, t2.String()); status != http.StatusForbidden {
			t.Errorf("download URL with a %s: status %d (%d bytes), want 403", what, status, len(body))
		}
	}

	missing := sha256Digest([]byte("no such layer"))
	_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("dl/app"), LayerDigest: aws.String(missing)})
	wantException[*types.LayersNotFoundException](t, "GetDownloadUrlForLayer of a missing layer", err)
	_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("dl/other"),
		LayerDigest: aws.String(mustDigest(t, layers[0]).String())})
	wantException[*types.LayersNotFoundException](t, "GetDownloadUrlForLayer of another repository's layer", err)
	_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("dl/none"), LayerDigest: aws.String(missing)})
	wantException[*types.RepositoryNotFoundException](t, "GetDownloadUrlForLayer in a missing repository", err)
	_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("dl/app"), LayerDigest: aws.String("sha256:xyz")})
	wantException[*types.InvalidParameterException](t, "GetDownloadUrlForLayer of digest sha256:xyz", err)

	// Once the repository is gone its URLs stop working.
	if _, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("dl/app"), Force: true}); err != nil {
		t.Fatal(err)
	}
	if status, _ := plainGet(t, urls[0]); status != http.StatusNotFound {
		t.Errorf("download URL of a deleted repository: status %d, want 404", status)
	}
}

func with(q url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	out.Set(key, value)
	return out
}

// plainGet fetches u with no credentials at all.
func plainGet(t testing.TB, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, b
}
