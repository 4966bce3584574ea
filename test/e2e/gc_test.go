package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"
)

// gcReport is what `berth gc` printed.
type gcReport struct {
	Links, Blobs, Orphans         int
	BlobBytes, OrphanBytes, Total int64
}

var gcLine = regexp.MustCompile(`(?m)^(links|blobs|orphan files|space) [a-z ]+:\s+(\d+)(?: \((\d+) bytes\)| bytes)?$`)

// runGC runs `berth gc` on the server's data directory while it serves.
func (s *server) runGC(t testing.TB, args ...string) (gcReport, error) {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"gc", "--data-dir", s.dataDir}, args...)...)
	cmd.Env = berthEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return gcReport{}, fmt.Errorf("berth gc %v: %w\n%s", args, err, out)
	}
	var r gcReport
	matches := gcLine.FindAllStringSubmatch(string(out), -1)
	if len(matches) != 4 {
		return gcReport{}, fmt.Errorf("berth gc %v: unexpected output:\n%s", args, out)
	}
	for _, m := range matches {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		b, _ := strconv.ParseInt(m[3], 10, 64)
		switch m[1] {
		case "links":
			r.Links = int(n)
		case "blobs":
			r.Blobs, r.BlobBytes = int(n), b
		case "orphan files":
			r.Orphans, r.OrphanBytes = int(n), b
		case "space":
			r.Total = n
		}
	}
	return r, nil
}

// gcLoopResult sums the passes of a gcLoop.
type gcLoopResult struct {
	passes, blobs int
}

// gcLoop runs `berth gc` with args back to back until stop is closed.
func (s *server) gcLoop(t *testing.T, stop <-chan struct{}, args ...string) <-chan gcLoopResult {
	done := make(chan gcLoopResult, 1)
	go func() {
		var sum gcLoopResult
		for {
			select {
			case <-stop:
				done <- sum
				return
			default:
			}
			r, err := s.runGC(t, args...)
			if err != nil {
				t.Errorf("concurrent gc: %v", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			sum.passes++
			sum.blobs += r.Blobs
		}
	}()
	return done
}

// pushOutcome is one client push.
type pushOutcome struct {
	ref     name.Digest
	img     v1.Image
	deleted bool
}

// cleanRefusal reports whether a failed push was refused the way garbage
// collection may refuse one: a manifest whose blobs were collected first
// (400 MANIFEST_BLOB_UNKNOWN) or a blob being collected (503 UNAVAILABLE).
func cleanRefusal(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		switch {
		case te.StatusCode == http.StatusBadRequest && d.Code == transport.ErrorCode("MANIFEST_BLOB_UNKNOWN"),
			te.StatusCode == http.StatusServiceUnavailable && d.Code == transport.UnavailableErrorCode:
			return true
		}
	}
	return false
}

// pushWhileCollecting has clients push images made of a shared pool of
// layers into repos for the given time, and delete some images and some
// tags again, while garbage collection runs. It returns every push that
// was acknowledged and the number of clean refusals; an unclean failure
// fails the test.
func pushWhileCollecting(t *testing.T, ctx context.Context, s *server, repos []string, clients int, d time.Duration) ([]pushOutcome, int) {
	pool := make([]v1.Layer, 8)
	for i := range pool {
		l, err := random.Layer(int64(2000+i*1500), types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		pool[i] = l
	}
	repoNames := make([]name.Repository, len(repos))
	for i, r := range repos {
		repoNames[i] = s.repo(t, r)
	}
	var (
		mu       sync.Mutex
		out      []pushOutcome
		refusals atomic.Int32
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for c := range clients {
		wg.Go(func() {
			for k := 0; time.Now().Before(deadline); k++ {
				p, err := pushAndMaybeDelete(ctx, pool, repoNames[(c+k)%len(repoNames)], c, k)
				switch {
				case cleanRefusal(err):
					refusals.Add(1)
				case err != nil:
					t.Errorf("client %d: %v", c, err)
					return
				default:
					mu.Lock()
					out = append(out, p)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return out, int(refusals.Load())
}

// pushAndMaybeDelete pushes client c's k-th image into repo; then deletes
// every third image again (its own blobs become garbage) and untags every
// third other one (the image stays, by digest).
func pushAndMaybeDelete(ctx context.Context, pool []v1.Layer, repo name.Repository, c, k int) (pushOutcome, error) {
	var layers []v1.Layer
	for _, i := range mrand.Perm(len(pool))[:3] {
		layers = append(layers, pool[i])
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err == nil {
		img, err = mutate.Config(img, v1.Config{Env: []string{fmt.Sprintf("PUSHED_BY=gc-client-%d-%d", c, k)}})
	}
	if err != nil {
		return pushOutcome{}, err
	}
	dg, err := img.Digest()
	if err != nil {
		return pushOutcome{}, err
	}
	tag := repo.Tag(fmt.Sprintf("c%d-k%d", c, k))
	if err := remote.Write(tag, img, remoteOpts(ctx)...); err != nil {
		return pushOutcome{}, fmt.Errorf("push %s: %w", tag, err)
	}
	p := pushOutcome{ref: repo.Digest(dg.String()), img: img}
	switch k % 3 {
	case 1:
		if err := remote.Delete(p.ref, remoteOpts(ctx)...); err != nil {
			return p, fmt.Errorf("delete %s: %w", p.ref, err)
		}
		p.deleted = true
	case 2:
		if err := remote.Delete(tag, remoteOpts(ctx)...); err != nil {
			return p, fmt.Errorf("untag %s: %w", tag, err)
		}
	}
	return p, nil
}

// checkPulled pulls every acknowledged image that was not deleted and
// checks it byte for byte: manifest, config and every layer, each against
// its digest.
func checkPulled(t *testing.T, ctx context.Context, pushes []pushOutcome) int {
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	var checked atomic.Int32
	for _, p := range pushes {
		if p.deleted {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := pullExactly(ctx, p.ref, p.img); err != nil {
				t.Errorf("acknowledged image %s: %v", p.ref, err)
				return
			}
			checked.Add(1)
		})
	}
	wg.Wait()
	return int(checked.Load())
}

// pullExactly pulls ref and compares it with want: manifest bytes, config
// bytes, every layer's bytes; then validates digests as ggcr does.
func pullExactly(ctx context.Context, ref name.Reference, want v1.Image) error {
	got, err := remote.Image(ref, remoteOpts(ctx)...)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	gm, _ := got.RawManifest()
	wm, _ := want.RawManifest()
	if !bytes.Equal(gm, wm) {
		return errors.New("manifest bytes differ")
	}
	gc, err := got.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if wc, _ := want.RawConfigFile(); !bytes.Equal(gc, wc) {
		return errors.New("config bytes differ")
	}
	gl, err := got.Layers()
	if err != nil {
		return err
	}
	wl, _ := want.Layers()
	for i := range wl {
		g, err := compressedBytes(gl[i])
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		w, _ := compressedBytes(wl[i])
		if !bytes.Equal(g, w) {
			return fmt.Errorf("layer %d: %d bytes differ from the %d pushed", i, len(g), len(w))
		}
	}
	return validate.Image(got)
}

func compressedBytes(l v1.Layer) ([]byte, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestGCDuringPushes: garbage collection with a 2-second grace runs in the
// background every second and from `berth gc` back to back, while clients
// push images that share layers (and docker pushes two images sharing a
// base layer) and delete images and tags. Every acknowledged image pulls
// back byte for byte; what was deleted is reclaimed.
func TestGCDuringPushes(t *testing.T) {
	t.Parallel()
	metricsAddr := net.JoinHostPort("127.0.0.1", freePort(t))
	s := startBerth(t, withCreateOnPush(), withFlags("--gc-grace", "2s", "--gc-interval", "1s", "--metrics-addr", metricsAddr))
	ctx := testContext(t, 5*time.Minute)
	docker := dockerCLI{t: t, config: t.TempDir()}
	if out, err := docker.run(ctx, "", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("the Docker Engine is required for this test and `docker info` failed: %v\n%s", err, out)
	}
	dockerImages := buildSharingImages(t, ctx, docker, s)
	stop := make(chan struct{})
	loop := s.gcLoop(t, stop, "--grace", "2s")
	dockerDone := make(chan error, 1)
	go func() { dockerDone <- pushWithRetries(ctx, docker, dockerImages) }()

	pushes, refusals := pushWhileCollecting(t, ctx, s, []string{"gc/a", "gc/b", "gc/c"}, 10, 12*time.Second)
	if err := <-dockerDone; err != nil {
		t.Error(err)
		dockerImages = nil
	}
	close(stop)
	cli := <-loop
	t.Logf("%d pushes acknowledged, %d refused cleanly; %d concurrent `berth gc` passes deleted %d blobs",
		len(pushes), refusals, cli.passes, cli.blobs)
	if len(pushes) < refusals {
		t.Errorf("only %d pushes acknowledged with a 2s grace, %d refused", len(pushes), refusals)
	}
	if n := checkPulled(t, ctx, pushes); n == 0 {
		t.Fatal("no image left to check")
	}
	for _, image := range dockerImages {
		docker.must(ctx, "", "rmi", image)
		docker.must(ctx, "", "pull", image)
		if out := docker.must(ctx, "", "run", "--rm", "--pull=never", "--network=none", image); out == "" {
			t.Errorf("docker run %s printed nothing", image)
		}
	}

	// The background job reclaims on its own: a deleted image's config is
	// gone within the grace period and a few intervals.
	victim := pushes[0]
	for _, p := range pushes {
		if !p.deleted {
			victim = p
			break
		}
	}
	if err := remote.Delete(victim.ref, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	cfg, _ := victim.img.ConfigName()
	configPath := "/v2/" + victim.ref.RepositoryStr() + "/blobs/" + cfg.String()
	deadline := time.Now().Add(20 * time.Second)
	for !blobFileGone(t, s, cfg.String()) { // not by HEAD: an existence check keeps a link alive
		if time.Now().After(deadline) {
			t.Fatalf("the deleted image's config %s was not collected by the background job", cfg)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := s.do(t, http.MethodHead, configPath, nil, nil).Status; st != http.StatusNotFound {
		t.Errorf("HEAD of the collected config: %d, want 404", st)
	}
	families := scrape(t, "http://"+metricsAddr+"/metrics")
	for _, m := range []string{"berth_gc_reclaimed_bytes_total", "berth_gc_blobs_deleted_total", "berth_gc_links_removed_total"} {
		if v := families[m].GetMetric(); len(v) == 0 || v[0].GetCounter().GetValue() <= 0 {
			t.Errorf("%s = %v after the background job reclaimed a blob", m, v)
		}
	}
	if h := families["berth_gc_pass_duration_seconds"].GetMetric(); len(h) == 0 || h[0].GetHistogram().GetSampleCount() == 0 {
		t.Error("no berth_gc_pass_duration_seconds sample")
	}
	if families["berth_gc_orphans_deleted_total"] == nil {
		t.Error("berth_gc_orphans_deleted_total missing")
	}
}

// buildSharingImages builds two docker images sharing a base layer and
// logs docker in; it returns their references.
func buildSharingImages(t *testing.T, ctx context.Context, docker dockerCLI, s *server) []string {
	t.Helper()
	nonce := randomHex(t, 8)
	base, derived := s.host+"/gc/docker-"+nonce+":base", s.host+"/gc/docker-"+nonce+":derived"
	label := "berth-e2e=" + nonce
	t.Cleanup(func() { removeDockerImages(t, docker, base, label); removeDockerImages(t, docker, derived, label) })
	dir := t.TempDir()
	buildHello(t, ctx, dir, "collected around "+nonce)
	for name, content := range map[string]string{
		"extra":              nonce,
		"Dockerfile.base":    "FROM scratch\nCOPY hello /hello\nENTRYPOINT [\"/hello\"]\n",
		"Dockerfile.derived": "FROM " + base + "\nCOPY extra /extra\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	docker.must(ctx, "", "build", "--force-rm", "--label", label, "-f", filepath.Join(dir, "Dockerfile.base"), "-t", base, dir)
	docker.must(ctx, "", "build", "--force-rm", "--label", label, "-f", filepath.Join(dir, "Dockerfile.derived"), "-t", derived, dir)
	docker.must(ctx, rootSecret, "login", s.host, "-u", rootKeyID, "--password-stdin")
	return []string{base, derived}
}

// pushWithRetries pushes each image with docker, retrying a refused push
// twice as a CI job would.
func pushWithRetries(ctx context.Context, docker dockerCLI, images []string) error {
	for _, image := range images {
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if _, err = docker.run(ctx, "", "push", image); err == nil {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("docker push %s failed three times: %w", image, err)
		}
	}
	return nil
}

// blobFileGone reports whether the blob store holds no file for d.
func blobFileGone(t *testing.T, s *server, d string) bool {
	t.Helper()
	dg := digest.Digest(d)
	_, err := os.Stat(filepath.Join(s.dataDir, "blobs", "blobs", string(dg.Algorithm()), dg.Encoded()[:2], dg.Encoded()))
	return errors.Is(err, fs.ErrNotExist)
}

// TestGCWithoutGraceNeverLosesAcknowledgedImages: with no grace period at
// all, collections run back to back (background and `berth gc`) while
// clients push images sharing layers. Pushes may be refused, cleanly; no
// acknowledged image may lose a byte.
func TestGCWithoutGraceNeverLosesAcknowledgedImages(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush(), withFlags("--gc-grace", "0", "--gc-interval", "1s"))
	ctx := testContext(t, 5*time.Minute)
	stop := make(chan struct{})
	loop := s.gcLoop(t, stop, "--grace", "0")
	pushes, refusals := pushWhileCollecting(t, ctx, s, []string{"gc0/a", "gc0/b"}, 10, 10*time.Second)
	close(stop)
	cli := <-loop
	checked := checkPulled(t, ctx, pushes)
	t.Logf("%d pushes acknowledged, %d refused cleanly, %d images checked; %d `berth gc` passes deleted %d blobs",
		len(pushes), refusals, checked, cli.passes, cli.blobs)
	if checked == 0 || cli.blobs == 0 {
		t.Fatalf("the race did not happen: %d images checked, %d blobs collected by berth gc", checked, cli.blobs)
	}
}

// TestGCReclaimsDiskSpace: after everything is deleted and the grace
// period has passed, `berth gc --dry-run` reports exactly the links,
// blobs, bytes and orphan files there are to reclaim, changing nothing;
// `berth gc` then reclaims exactly that, and no blob file is left.
func TestGCReclaimsDiskSpace(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush(), withFlags("--gc-interval", "0"))
	ctx := testContext(t, 2*time.Minute)
	pool, images, links, blobs := pushForCollection(t, ctx, s)
	// A blob uploaded and never used, and bytes a crash left without
	// metadata (planted in the blob store's documented layout, old).
	loose := []byte("uploaded, never referenced")
	r := s.do(t, http.MethodPost, "/v2/disk/b/blobs/uploads/?digest="+sha256Digest(loose), bytes.NewReader(loose), nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("monolithic upload: %d %s", r.Status, r.Body)
	}
	links["disk/b@"+sha256Digest(loose)] = true
	blobs[sha256Digest(loose)] = int64(len(loose))
	orphan := []byte("bytes without metadata")
	plantOrphan(t, s, orphan, time.Now().Add(-time.Hour))

	before, err := s.runGC(t, "--dry-run", "--grace", "1m")
	if err != nil {
		t.Fatal(err)
	}
	if before.Links != 0 || before.Blobs != 0 || before.Orphans != 1 {
		t.Fatalf("before deleting anything, a dry run reports %+v; want only the orphan", before)
	}
	for _, p := range images {
		if err := remote.Delete(p.repo.Digest(mustDigest(t, p.img).String()), remoteOpts(ctx)...); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond) // the grace period of the passes below

	var blobBytes int64
	for _, size := range blobs {
		blobBytes += size
	}
	want := gcReport{Links: len(links), Blobs: len(blobs), BlobBytes: blobBytes, Orphans: 1,
		OrphanBytes: int64(len(orphan)), Total: blobBytes + int64(len(orphan))}
	dry, err := s.runGC(t, "--dry-run", "--grace", "1s")
	if err != nil {
		t.Fatal(err)
	}
	if dry != want {
		t.Fatalf("dry run reports %+v, want %+v", dry, want)
	}
	if n := blobFiles(t, s); n != len(blobs)+1 {
		t.Fatalf("after the dry run %d blob files are stored, want all %d", n, len(blobs)+1)
	}
	got, err := s.runGC(t, "--grace", "1s")
	if err != nil {
		t.Fatal(err)
	}
	if got != dry {
		t.Fatalf("berth gc reclaimed %+v, the dry run said %+v", got, dry)
	}
	if n := blobFiles(t, s); n != 0 {
		t.Fatalf("%d blob files left after collecting everything", n)
	}
	if again, err := s.runGC(t, "--dry-run", "--grace", "0"); err != nil || again != (gcReport{}) {
		t.Fatalf("a dry run after collecting: %+v, %v; want nothing", again, err)
	}
	// The same images push again, from scratch, and pull back.
	img := sharedLayerImage(t, pool, "disk-again")
	if err := remote.Write(s.repo(t, "disk/a").Tag("again"), img, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	if err := pullExactly(ctx, s.repo(t, "disk/a").Tag("again"), img); err != nil {
		t.Fatal(err)
	}
}

// diskImage is an image TestGCReclaimsDiskSpace pushed.
type diskImage struct {
	repo name.Repository
	img  v1.Image
}

// pushForCollection pushes four images sharing a pool of layers into two
// repositories; it returns the pool, the images, the repository links
// they made (repository@digest) and the blobs they stored (digest → size).
func pushForCollection(t *testing.T, ctx context.Context, s *server) ([]v1.Layer, []diskImage, map[string]bool, map[string]int64) {
	t.Helper()
	pool := make([]v1.Layer, 4)
	for i := range pool {
		l, err := random.Layer(int64(3000+i*1000), types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		pool[i] = l
	}
	var images []diskImage
	links := map[string]bool{}  // repository + digest
	blobs := map[string]int64{} // digest → size
	for i, repoName := range []string{"disk/a", "disk/a", "disk/b", "disk/b"} {
		repo := s.repo(t, repoName)
		img := sharedLayerImage(t, pool, fmt.Sprintf("disk-%d", i))
		if err := remote.Write(repo.Tag(fmt.Sprint("v", i)), img, remoteOpts(ctx)...); err != nil {
			t.Fatal(err)
		}
		images = append(images, diskImage{repo, img})
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, desc := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			links[repoName+"@"+desc.Digest.String()] = true
			blobs[desc.Digest.String()] = desc.Size
		}
	}
	return pool, images, links, blobs
}

// plantOrphan writes content into the blob store's layout, as bytes a
// crash left between storing an upload and recording it, last modified at
// mtime.
func plantOrphan(t *testing.T, s *server, content []byte, mtime time.Time) {
	t.Helper()
	d := digest.FromBytes(content)
	p := filepath.Join(s.dataDir, "blobs", "blobs", string(d.Algorithm()), d.Encoded()[:2], d.Encoded())
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// blobFiles counts the regular files in the blob store's committed tree.
func blobFiles(t *testing.T, s *server) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(s.dataDir, "blobs", "blobs"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
