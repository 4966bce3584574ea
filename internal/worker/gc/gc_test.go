package gc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
	"github.com/berth-registry/berth/internal/worker/gc"
)

const grace = time.Hour

var (
	ctx  = context.Background()
	root = rt.Root(rt.Account)
	app  = rt.Ref(rt.Account, "app")
)

// env is a registry over real stores (SQLite, files) with a collector on
// the same clock.
type env struct {
	*rt.Env
	gc      *gc.Collector
	metrics *gc.Metrics
}

func newEnv(t *testing.T, batch int) *env {
	t.Helper()
	e := rt.New(t, registry.Options{GCGrace: grace})
	e.CreateRepository(t, rt.Account, "app")
	m, err := gc.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	c, err := gc.New(gc.Options{Meta: e.Meta, Blobs: e.Blobs, Clock: e.Clock.Now, Metrics: m, Batch: batch,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &env{Env: e, gc: c, metrics: m}
}

// pastGrace moves the test clock beyond the grace period, and beyond the
// wall clock (which stamps files in the blob store) by more than it.
func (e *env) pastGrace() {
	e.Clock.Advance(time.Since(e.Clock.Now()) + grace + time.Minute)
}

func (e *env) pass(t *testing.T, dry bool) gc.Report {
	t.Helper()
	r, err := e.gc.Pass(ctx, gc.PassOptions{Grace: grace, DryRun: dry})
	if err != nil {
		t.Fatalf("Pass(dry run %v): %v", dry, err)
	}
	return r
}

// orphan stores bytes in the blob store without any metadata, as a crash
// between storing an upload and recording it leaves them.
func (e *env) orphan(t *testing.T, content []byte) digest.Digest {
	t.Helper()
	st, err := e.Blobs.CreateUpload(ctx, "0a0b0c0d-0000-4000-8000-"+fmt.Sprintf("%012x", len(content)))
	if err != nil {
		t.Fatal(err)
	}
	n, st, err := e.Blobs.AppendUpload(ctx, st, 0, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(content)
	if err := e.Blobs.CommitUpload(ctx, st, n, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) stored(t *testing.T, d digest.Digest) bool {
	t.Helper()
	_, err := e.Blobs.Stat(ctx, d)
	if err != nil && !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// pull reads every blob of the image pushed as body in r and compares
// the bytes.
func pullImage(t *testing.T, s *registry.Service, r registry.RepoRef, im rt.Image) {
	t.Helper()
	for _, want := range append([][]byte{im.Config}, im.Layers...) {
		b, err := s.OpenBlob(ctx, root, r, digest.FromBytes(want).String(), false)
		if err != nil {
			t.Fatalf("pull blob %s of %s: %v", digest.FromBytes(want), r.Name, err)
		}
		got, err := io.ReadAll(b.Body)
		b.Body.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("blob %s of %s: %d bytes, %v; want %d bytes", digest.FromBytes(want), r.Name, len(got), err, len(want))
		}
	}
}

// TestPassReclaimsWhatNothingUses: a deleted image's own blobs, a blob
// uploaded and never used, and bytes without metadata are reclaimed; what
// the remaining image shares is kept; the dry run reports exactly what
// the pass then does.
func TestPassReclaimsWhatNothingUses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	shared := []byte("layer both images use")
	gone := rt.Image{Config: []byte(`{"gone":1}`), Layers: [][]byte{shared, []byte("layer only the deleted image has")}}
	kept := rt.Image{Config: []byte(`{"kept":1}`), Layers: [][]byte{shared}}
	_, goneDigest := e.Push(t, root, app, "gone", gone)
	e.Push(t, root, app, "kept", kept)
	loose := e.PutBlob(t, root, app, []byte("uploaded, never referenced"))
	orphan := e.orphan(t, []byte("bytes a crash left without metadata"))

	if r := e.pass(t, false); r.LinksRemoved+r.BlobsDeleted+r.OrphansDeleted != 0 {
		t.Fatalf("within the grace period a pass reclaimed %+v", r)
	}
	if err := e.Service.DeleteManifest(ctx, root, app, goneDigest.String()); err != nil {
		t.Fatal(err)
	}
	e.pastGrace()

	dry := e.pass(t, true)
	wantBlobs := int64(len(gone.Config) + len(gone.Layers[1]) + len("uploaded, never referenced"))
	want := gc.Report{DryRun: true, Grace: grace, LinksRemoved: 3, BlobsDeleted: 3, BlobBytes: wantBlobs,
		OrphansDeleted: 1, OrphanBytes: int64(len("bytes a crash left without metadata"))}
	dry.Duration = 0 // the test clock stands still
	if dry != want {
		t.Fatalf("dry run = %+v, want %+v", dry, want)
	}
	for _, d := range []digest.Digest{loose, orphan, digest.FromBytes(gone.Config)} {
		if !e.stored(t, d) {
			t.Fatalf("the dry run deleted %s", d)
		}
	}
	if testutil.ToFloat64(e.metrics.Reclaimed()) != 0 {
		t.Error("a dry run recorded metrics")
	}

	real := e.pass(t, false)
	real.Duration, real.DryRun, want.DryRun = 0, false, false
	if real != want {
		t.Fatalf("pass = %+v, want what the dry run said: %+v", real, want)
	}
	for _, d := range []digest.Digest{loose, orphan, digest.FromBytes(gone.Config), digest.FromBytes(gone.Layers[1])} {
		if e.stored(t, d) {
			t.Errorf("%s still in the blob store", d)
		}
	}
	if missing, _ := e.Meta.UnrecordedBlobs(ctx, []digest.Digest{loose, orphan}); len(missing) != 2 {
		t.Errorf("records left behind: only %v are gone", missing)
	}
	pullImage(t, e.Service, app, kept)
	if got := testutil.ToFloat64(e.metrics.Reclaimed()); got != float64(want.ReclaimedBytes()) {
		t.Errorf("berth_gc_reclaimed_bytes_total = %v, want %d", got, want.ReclaimedBytes())
	}
	if again := e.pass(t, false); again.LinksRemoved+again.BlobsDeleted+again.OrphansDeleted != 0 {
		t.Errorf("a second pass reclaimed %+v", again)
	}
}

// TestPagesAreBounded runs passes with batches of 2 over more of each kind.
func TestPagesAreBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	var total int64
	for i := range 7 {
		content := fmt.Appendf(nil, "loose blob %d", i)
		e.PutBlob(t, root, app, content)
		total += int64(len(content))
	}
	for i := range 5 {
		content := fmt.Appendf(nil, "orphan bytes %d", i)
		e.orphan(t, content)
		total += int64(len(content))
	}
	e.pastGrace()
	dry := e.pass(t, true)
	r := e.pass(t, false)
	for _, got := range []gc.Report{dry, r} {
		if got.LinksRemoved != 7 || got.BlobsDeleted != 7 || got.OrphansDeleted != 5 || got.ReclaimedBytes() != total {
			t.Errorf("report %+v; want 7 links, 7 blobs, 5 orphans, %d bytes", got, total)
		}
	}
	if n := e.StoredBlobs(t); n != 0 {
		t.Errorf("%d blobs left in the store", n)
	}
}

// TestExistenceCheckKeepsLink: a push that found a blob present (HEAD,
// BatchCheckLayerAvailability) has at least half the grace period left to
// put its manifest, however old the link was.
func TestExistenceCheckKeepsLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	e.CreateRepository(t, rt.Account, "unchecked")
	checked := e.PutBlob(t, root, app, []byte("checked layer"))
	unchecked := e.PutBlob(t, root, rt.Ref(rt.Account, "unchecked"), []byte("unchecked layer"))
	e.Clock.Advance(grace * 6 / 10)
	if _, _, err := e.Service.StatBlob(ctx, root, app, checked.String()); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(grace * 6 / 10)
	if r := e.pass(t, false); r.LinksRemoved != 1 {
		t.Fatalf("pass removed %d links, want only the unchecked one", r.LinksRemoved)
	}
	if _, _, err := e.Service.StatBlob(ctx, root, app, checked.String()); err != nil {
		t.Fatalf("the checked blob's link was swept: %v", err)
	}
	if _, _, err := e.Service.StatBlob(ctx, root, rt.Ref(rt.Account, "unchecked"), unchecked.String()); !errors.Is(err, registry.ErrBlobUnknown) {
		t.Fatalf("unchecked link: %v, want swept", err)
	}
	// ECR's layer check refreshes the same way.
	e.Clock.Advance(grace * 6 / 10)
	if _, err := e.Service.CheckLayers(ctx, root, app, []string{checked.String()}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(grace * 6 / 10)
	e.pass(t, false)
	if l, err := e.Meta.StatBlobLink(ctx, mustRepoID(t, e), checked); err != nil {
		t.Fatalf("link after a layer check: %v", err)
	} else if e.Clock.Now().Sub(l.LinkedAt) > grace {
		t.Fatalf("link not refreshed: linked %v", l.LinkedAt)
	}
}

func mustRepoID(t *testing.T, e *env) int64 {
	t.Helper()
	r, err := e.Meta.GetRepository(ctx, rt.Account, "app")
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// TestBlobBeingCollectedIsRetryable: while a collection has marked a blob,
// uploading it answers ErrUnavailable and mounting it falls back to an
// upload; once the collection is done, the upload stores it afresh.
func TestBlobBeingCollectedIsRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	e.CreateRepository(t, rt.Account, "other")
	content := []byte("contested layer")
	d := e.PutBlob(t, root, app, content)
	if err := e.Service.DeleteBlob(ctx, root, app, d.String()); err != nil {
		t.Fatal(err)
	}
	e.pastGrace()
	marked, err := e.Meta.MarkBlobsDeleting(ctx, []digest.Digest{d},
		metastore.GCCutoffs{Before: e.Clock.Now(), StaleMark: e.Clock.Now().Add(-time.Hour)})
	if err != nil || len(marked) != 1 {
		t.Fatalf("MarkBlobsDeleting = %+v, %v", marked, err)
	}
	_, err = e.Service.PutBlob(ctx, root, app, d.String(), int64(len(content)), bytes.NewReader(content))
	if !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("upload of a blob being collected: %v, want ErrUnavailable", err)
	}
	id, err := e.Service.StartUpload(ctx, root, app)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Service.CompleteUpload(ctx, root, app, id.ID, d.String(), 0, int64(len(content)), bytes.NewReader(content))
	if !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("chunked upload of a blob being collected: %v, want ErrUnavailable", err)
	}
	if _, err := e.Service.GetUpload(ctx, root, app, id.ID); !errors.Is(err, registry.ErrUploadUnknown) {
		t.Errorf("the refused upload's session: %v, want it ended", err)
	}
	if ok, err := e.Service.MountBlob(ctx, root, rt.Ref(rt.Account, "other"), nil, d.String()); ok || err != nil {
		t.Fatalf("mount of a blob being collected = %v, %v; want upload instead", ok, err)
	}
	// The collection finishes: bytes, then record.
	if err := e.Blobs.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Meta.RemoveBlobRecords(ctx, marked); err != nil || n != 1 {
		t.Fatalf("RemoveBlobRecords = %d, %v", n, err)
	}
	if got := e.PutBlob(t, root, app, content); got != d || !bytes.Equal(e.BlobBytes(t, d), content) {
		t.Fatalf("upload after the collection: %s, stored %q", got, e.BlobBytes(t, d))
	}
}

// TestStaleMarkTakenOver: a collection that died after marking leaves
// marked records; a later pass takes them over and finishes them.
func TestStaleMarkTakenOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	d := e.PutBlob(t, root, app, []byte("abandoned"))
	if err := e.Service.DeleteBlob(ctx, root, app, d.String()); err != nil {
		t.Fatal(err)
	}
	e.pastGrace()
	cut := metastore.GCCutoffs{Before: e.Clock.Now(), StaleMark: e.Clock.Now().Add(-time.Hour)}
	if marked, err := e.Meta.MarkBlobsDeleting(ctx, []digest.Digest{d}, cut); err != nil || len(marked) != 1 {
		t.Fatalf("MarkBlobsDeleting = %+v, %v", marked, err)
	}
	if r := e.pass(t, false); r.BlobsDeleted != 0 || !e.stored(t, d) {
		t.Fatalf("a fresh mark of another collection was taken over: %+v", r)
	}
	e.Clock.Advance(3 * time.Minute)
	if r := e.pass(t, false); r.BlobsDeleted != 1 || e.stored(t, d) {
		t.Fatalf("stale mark not taken over: %+v, stored %v", r, e.stored(t, d))
	}
}

// slowMarks is a metadata store whose marks take minutes to come back, as
// when the collecting process stalls after marking.
type slowMarks struct {
	metastore.GCStore
	clock *rt.Clock
}

func (s slowMarks) MarkBlobsDeleting(ctx context.Context, ds []digest.Digest, c metastore.GCCutoffs) ([]metastore.CollectableBlob, error) {
	out, err := s.GCStore.MarkBlobsDeleting(ctx, ds, c)
	s.clock.Advance(90 * time.Second)
	return out, err
}

// TestOldMarkDeletesNothing: a pass whose own mark has grown old (another
// pass may have taken it over and an upload stored the blob again) does
// not delete the bytes; a later pass does.
func TestOldMarkDeletesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	d := e.PutBlob(t, root, app, []byte("slow"))
	if err := e.Service.DeleteBlob(ctx, root, app, d.String()); err != nil {
		t.Fatal(err)
	}
	e.pastGrace()
	slow, err := gc.New(gc.Options{Meta: slowMarks{e.Meta, e.Clock}, Blobs: e.Blobs, Clock: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r, err := slow.Pass(ctx, gc.PassOptions{Grace: grace})
	if err == nil || r.BlobsDeleted != 0 || !e.stored(t, d) {
		t.Fatalf("a pass with an old mark: %+v, %v, stored %v; want nothing deleted and an error", r, err, e.stored(t, d))
	}
	e.Clock.Advance(3 * time.Minute)
	if r := e.pass(t, false); r.BlobsDeleted != 1 || e.stored(t, d) {
		t.Fatalf("the next pass: %+v, stored %v", r, e.stored(t, d))
	}
}

// racyStore deletes a blob's bytes and record right after an upload
// committed them and before the upload records them: a collection that
// marked the blob before the upload's commit and finished after it.
type racyStore struct {
	blobstore.Store
	meta  *rt.Env
	clock *rt.Clock
}

func (s racyStore) CommitUpload(ctx context.Context, st blobstore.UploadState, size int64, d digest.Digest) error {
	c := metastore.GCCutoffs{Before: s.clock.Now().Add(time.Hour), StaleMark: s.clock.Now().Add(-time.Hour)}
	marked, err := s.meta.Meta.MarkBlobsDeleting(ctx, []digest.Digest{d}, c)
	if err != nil || len(marked) != 1 {
		return fmt.Errorf("racy store: mark %s: %+v, %v", d, marked, err)
	}
	if err := s.Store.CommitUpload(ctx, st, size, d); err != nil {
		return err
	}
	if err := s.Store.Delete(ctx, d); err != nil {
		return err
	}
	_, err = s.meta.Meta.RemoveBlobRecords(ctx, marked)
	return err
}

// TestUploadRacingDeletionOfSameBytes: an upload whose bytes a collection
// deleted just after they were stored is refused (retryable), never
// acknowledged with missing bytes.
func TestUploadRacingDeletionOfSameBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	content := []byte("uploaded twice")
	d := e.PutBlob(t, root, app, content)
	if err := e.Service.DeleteBlob(ctx, root, app, d.String()); err != nil {
		t.Fatal(err)
	}
	racy, err := registry.New(registry.Options{Meta: e.Meta, Blobs: racyStore{e.Blobs, e.Env, e.Clock},
		Authorizer: registry.AccountAuthorizer{}, Clock: e.Clock.Now, GCGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	_, err = racy.PutBlob(ctx, root, app, d.String(), int64(len(content)), bytes.NewReader(content))
	if !errors.Is(err, registry.ErrUnavailable) {
		t.Fatalf("upload whose bytes were deleted under it: %v, want ErrUnavailable", err)
	}
	if _, _, err := e.Service.StatBlob(ctx, root, app, d.String()); !errors.Is(err, registry.ErrBlobUnknown) {
		t.Fatalf("the refused blob is visible: %v", err)
	}
	if got := e.PutBlob(t, root, app, content); got != d || !bytes.Equal(e.BlobBytes(t, d), content) {
		t.Fatal("the retried upload did not store the blob")
	}
}

// TestManifestPushAfterSweepFailsCleanly: a manifest whose blobs were
// swept first is refused as referencing unknown blobs.
func TestManifestPushAfterSweepFailsCleanly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	im := rt.Image{Config: []byte(`{"late":1}`), Layers: [][]byte{[]byte("late layer")}}
	e.PutBlob(t, root, app, im.Config)
	e.PutBlob(t, root, app, im.Layers[0])
	e.pastGrace()
	e.pass(t, false)
	_, err := e.Service.PutManifest(ctx, root, app, "late", ocispec.MediaTypeImageManifest, im.JSON(), nil)
	if !errors.Is(err, registry.ErrManifestBlobUnknown) {
		t.Fatalf("manifest over swept blobs: %v, want ErrManifestBlobUnknown", err)
	}
}

// TestPassesDuringPushes runs passes with no grace period back to back
// while clients push images that share layers (checking for each blob
// first, as docker does) and delete some; every image whose push was
// acknowledged and that was not deleted must then pull byte for byte. With
// no grace, pushes may be refused, only ever cleanly.
func TestPassesDuringPushes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 7)
	pool := make([][]byte, 6)
	for i := range pool {
		pool[i] = bytes.Repeat(fmt.Appendf(nil, "shared layer %d;", i), 50+i)
	}
	type pushed struct {
		tag string
		im  rt.Image
	}
	const pushers, images = 6, 8
	refused := make(chan error, pushers*images)
	stop := make(chan struct{})
	collected := e.collectUntil(t, stop)
	var kept []pushed
	var mu sync.Mutex
	var wg sync.WaitGroup
	for p := range pushers {
		wg.Go(func() {
			for i := range images {
				im := rt.Image{Config: fmt.Appendf(nil, `{"pusher":%d,"image":%d}`, p, i),
					Layers: [][]byte{pool[(p+i)%len(pool)], pool[(p+2*i+1)%len(pool)]}}
				tag := fmt.Sprintf("p%d-i%d", p, i)
				if err := pushChecked(e, tag, im); err != nil {
					refused <- err
					continue
				}
				switch i % 4 {
				case 2: // the image goes again
					if err := e.Service.DeleteManifest(ctx, root, app, digest.FromBytes(im.JSON()).String()); err != nil {
						t.Errorf("delete %s: %v", tag, err)
					}
					continue
				case 3: // only its tag goes; the image stays, untagged
					if err := e.Service.DeleteManifest(ctx, root, app, tag); err != nil {
						t.Errorf("untag %s: %v", tag, err)
					}
					tag = digest.FromBytes(im.JSON()).String()
				}
				mu.Lock()
				kept = append(kept, pushed{tag, im})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	passes := <-collected
	close(refused)
	nRefused := 0
	for err := range refused {
		nRefused++
		if !errors.Is(err, registry.ErrUnavailable) && !errors.Is(err, registry.ErrManifestBlobUnknown) {
			t.Errorf("push refused uncleanly: %v", err)
		}
	}
	t.Logf("%d images kept, %d pushes refused, %d passes", len(kept), nRefused, passes)
	if len(kept) == 0 || passes == 0 {
		t.Fatalf("nothing to check: %d images kept, %d passes", len(kept), passes)
	}
	for _, p := range kept {
		m, err := e.Service.GetManifest(ctx, root, app, p.tag)
		if err != nil || !bytes.Equal(m.Body, p.im.JSON()) {
			t.Fatalf("manifest %s: %v", p.tag, err)
		}
		pullImage(t, e.Service, app, p.im)
	}
	// Deleting everything and collecting empties the blob store. The clock
	// must pass the wall clock too: a push refused while its blob was being
	// collected may have left bytes stamped by the wall clock (an orphan),
	// which a pass without grace removes only once they are in its past.
	if _, err := e.Service.DeleteRepository(ctx, root, app, true); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(max(time.Since(e.Clock.Now()), 0) + time.Second)
	if _, err := e.gc.Pass(ctx, gc.PassOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := e.StoredBlobs(t); n != 0 {
		t.Errorf("%d blobs left after deleting everything", n)
	}
}

// collectUntil runs passes without a grace period back to back, the clock
// moving 10ms each, until stop closes; then it sends how many ran.
func (e *env) collectUntil(t *testing.T, stop <-chan struct{}) <-chan int {
	collected := make(chan int, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				collected <- n
				return
			default:
			}
			e.Clock.Advance(10 * time.Millisecond)
			if _, err := e.gc.Pass(ctx, gc.PassOptions{}); err != nil {
				t.Errorf("pass: %v", err)
			}
			n++
		}
	}()
	return collected
}

// pushChecked pushes im as docker does: each blob is checked first and
// uploaded only when missing, then the manifest is put. Clean refusals
// are retried twice, then returned.
func pushChecked(e *env, tag string, im rt.Image) error {
	var err error
	for range 3 {
		if err = pushOnce(e, tag, im); err == nil {
			return nil
		}
		if !errors.Is(err, registry.ErrUnavailable) && !errors.Is(err, registry.ErrManifestBlobUnknown) {
			return err
		}
	}
	return err
}

func pushOnce(e *env, tag string, im rt.Image) error {
	for _, b := range append([][]byte{im.Config}, im.Layers...) {
		d := digest.FromBytes(b)
		if _, _, err := e.Service.StatBlob(ctx, root, app, d.String()); err == nil {
			continue
		}
		if _, err := e.Service.PutBlob(ctx, root, app, d.String(), int64(len(b)), bytes.NewReader(b)); err != nil {
			return err
		}
	}
	_, err := e.Service.PutManifest(ctx, root, app, tag, ocispec.MediaTypeImageManifest, im.JSON(), nil)
	return err
}
