package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
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
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// ackedPush is a push the registry acknowledged: it must survive anything.
type ackedPush struct {
	ref      name.Tag
	digest   v1.Hash
	manifest []byte
}

const (
	crashWorkers = 8
	crashCycles  = 3
	// The kill comes after minAcked to maxAcked pushes of a cycle completed.
	minAcked, maxAcked = 8, 40
)

// TestCrashSafety pushes from several clients, kills berth with SIGKILL at
// a random moment, restarts it and checks that every acknowledged push is
// complete and intact; three times over on the same data directory.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, 3*time.Minute)
	pool := make([]v1.Layer, 6) // shared layers: concurrent uploads of one blob
	for i := range pool {
		l, err := random.Layer(int64(1000+i*700), types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		pool[i] = l
	}
	var acked []ackedPush
	for cycle := range crashCycles {
		got, inFlight := pushUntilKilled(t, ctx, s, cycle, pool)
		t.Logf("cycle %d: %d pushes acknowledged, %d cut off by the kill", cycle, len(got), inFlight)
		acked = append(acked, got...)
		s.startAgain()
		verifyAcked(t, ctx, acked)
		verifyBlobFiles(t, s.dataDir)
		if t.Failed() {
			return
		}
	}
}

// pushUntilKilled runs the workers until a random number of pushes
// completed, waits a random moment more, then SIGKILLs berth. It returns the acknowledged
// pushes and how many were in flight at the kill.
func pushUntilKilled(t *testing.T, parent context.Context, s *server, cycle int, pool []v1.Layer) ([]ackedPush, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	threshold := int32(minAcked + rand.IntN(maxAcked-minAcked+1))
	start := time.Now()
	var (
		mu       sync.Mutex
		acked    []ackedPush
		count    atomic.Int32
		killed   atomic.Bool
		inFlight atomic.Int32
		wg       sync.WaitGroup
		reached  = make(chan struct{})
		once     sync.Once
	)
	for w := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repo := s.repo(t, fmt.Sprintf("crash/r%d", w%3))
			for i := 0; ctx.Err() == nil; i++ {
				img := crashImage(t, pool)
				ref := repo.Tag(fmt.Sprintf("c%d-w%d-%d", cycle, w, i))
				err := remote.Write(ref, img, remoteOpts(ctx)...)
				if err != nil {
					if !killed.Load() {
						t.Errorf("push %s before the kill: %v", ref, err)
						once.Do(func() { close(reached) })
					} else {
						inFlight.Add(1)
					}
					return
				}
				raw, _ := img.RawManifest()
				mu.Lock()
				acked = append(acked, ackedPush{ref: ref, digest: mustDigest(t, img), manifest: raw})
				mu.Unlock()
				if count.Add(1) >= threshold {
					once.Do(func() { close(reached) })
				}
			}
		}()
	}
	select {
	case <-reached:
	case <-time.After(90 * time.Second):
		t.Errorf("cycle %d: only %d pushes in 90s", cycle, count.Load())
	}
	time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
	t.Logf("cycle %d: SIGKILL after %s and %d acknowledged pushes", cycle, time.Since(start).Round(time.Millisecond), count.Load())
	killed.Store(true)
	s.kill()
	cancel()
	wg.Wait()
	return acked, int(inFlight.Load())
}

// crashImage is an image of one pooled layer and one or two fresh ones,
// now and then a larger one so that kills land inside long writes too.
func crashImage(t testing.TB, pool []v1.Layer) v1.Image {
	layers := []v1.Layer{pool[rand.IntN(len(pool))]}
	for range 1 + rand.IntN(2) {
		size := 200 + rand.IntN(16<<10)
		if rand.IntN(8) == 0 {
			size = 512 << 10
		}
		l, err := random.Layer(int64(size), types.DockerLayer)
		if err != nil {
			t.Error(err)
			return nil
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Error(err)
	}
	return img
}

// verifyAcked pulls every acknowledged image and validates it fully.
func verifyAcked(t *testing.T, ctx context.Context, acked []ackedPush) {
	t.Helper()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, a := range acked {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			img, err := remote.Image(a.ref, remoteOpts(ctx)...)
			if err != nil {
				t.Errorf("acknowledged %s lost after the crash: %v", a.ref, err)
				return
			}
			raw, err := img.RawManifest()
			if err != nil || !bytes.Equal(raw, a.manifest) {
				t.Errorf("acknowledged %s: manifest changed after the crash (err %v)", a.ref, err)
				return
			}
			if err := validate.Image(img); err != nil {
				t.Errorf("acknowledged %s (%s) is not intact after the crash: %v", a.ref, a.digest, err)
			}
		}()
	}
	wg.Wait()
}

// verifyBlobFiles hashes every committed blob file on disk: a crash must
// never leave a blob whose bytes do not match its name. The layout is the
// filesystem store's: <data>/blobs/blobs/<algorithm>/<xx>/<hex>.
func verifyBlobFiles(t *testing.T, dataDir string) {
	t.Helper()
	root := filepath.Join(dataDir, "blobs", "blobs", "sha256")
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != d.Name() {
			t.Errorf("blob file %s holds bytes hashing to %s", path, got)
		}
		return nil
	})
	if err != nil {
		t.Errorf("walk %s: %v", root, err)
	}
	if n == 0 {
		t.Errorf("no blob files under %s: has the on-disk layout changed?", root)
	}
}
