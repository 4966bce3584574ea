package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

const (
	concClients       = 50
	concPushesEach    = 2
	concPoolLayers    = 10
	concLayersPerImg  = 3
	concSharedTagsCnt = 5
)

// TestConcurrentPushes has many clients push, at once, images built from
// one small pool of layers under a few shared tags, then checks that the
// repository is consistent: every tag names a complete image that one of
// its pushers pushed, the tag list is exactly the tags used, and every
// pushed image is complete.
func TestConcurrentPushes(t *testing.T) {
	t.Parallel()
	// JSON logs here, so the harness's fault detection reads both formats.
	s := startBerth(t, withCreateOnPush(), withLogFormat("json"))
	ctx := testContext(t, 3*time.Minute)
	repo := s.repo(t, "conc/app")
	pool := make([]v1.Layer, concPoolLayers)
	for i := range pool {
		l, err := random.Layer(int64(1500+i*500), types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		pool[i] = l
	}
	type push struct {
		tag      string
		digest   v1.Hash
		manifest []byte
	}
	var (
		mu     sync.Mutex
		pushes []push
		wg     sync.WaitGroup
		start  = make(chan struct{})
	)
	for c := range concClients {
		// Build before the start signal so the pushes really overlap.
		var imgs []v1.Image
		for k := range concPushesEach {
			imgs = append(imgs, sharedLayerImage(t, pool, fmt.Sprintf("client-%d-%d", c, k)))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for k, img := range imgs {
				tag := fmt.Sprintf("shared-%d", (c+k)%concSharedTagsCnt)
				if err := remote.Write(repo.Tag(tag), img, remoteOpts(ctx)...); err != nil {
					t.Errorf("client %d: push %s: %v", c, tag, err)
					continue
				}
				raw, _ := img.RawManifest()
				mu.Lock()
				pushes = append(pushes, push{tag, mustDigest(t, img), raw})
				mu.Unlock()
			}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d pushes by %d clients in %s", len(pushes), concClients, time.Since(began).Round(time.Millisecond))
	if t.Failed() {
		return
	}

	var wantTags []string
	byTag := map[string][]v1.Hash{}
	for _, p := range pushes {
		if !slices.Contains(wantTags, p.tag) {
			wantTags = append(wantTags, p.tag)
		}
		byTag[p.tag] = append(byTag[p.tag], p.digest)
	}
	slices.Sort(wantTags)
	tags, err := remote.List(repo, remoteOpts(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tags, wantTags) {
		t.Errorf("tags = %v, want %v", tags, wantTags)
	}
	for _, tag := range wantTags {
		img, err := remote.Image(repo.Tag(tag), remoteOpts(ctx)...)
		if err != nil {
			t.Errorf("tag %s: %v", tag, err)
			continue
		}
		if d := mustDigest(t, img); !slices.Contains(byTag[tag], d) {
			t.Errorf("tag %s names %s, which no client pushed under it", tag, d)
		}
		if err := validate.Image(img); err != nil {
			t.Errorf("tag %s: %v", tag, err)
		}
	}

	sem := make(chan struct{}, 8)
	for _, p := range pushes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			img, err := remote.Image(repo.Digest(p.digest.String()), remoteOpts(ctx)...)
			if err != nil {
				t.Errorf("pushed %s: %v", p.digest, err)
				return
			}
			if raw, _ := img.RawManifest(); !bytes.Equal(raw, p.manifest) {
				t.Errorf("pushed %s: manifest differs", p.digest)
			}
			if err := validate.Image(img); err != nil {
				t.Errorf("pushed %s: %v", p.digest, err)
			}
		}()
	}
	wg.Wait()
}

// sharedLayerImage picks concLayersPerImg distinct layers of pool; the
// config names the client so that every image is distinct.
func sharedLayerImage(t testing.TB, pool []v1.Layer, who string) v1.Image {
	t.Helper()
	var layers []v1.Layer
	for _, i := range rand.Perm(len(pool))[:concLayersPerImg] {
		layers = append(layers, pool[i])
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Env: []string{"PUSHED_BY=" + who}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestConcurrentChunksToOneUpload: clients racing to send the first chunk
// of one upload session: exactly one chunk is taken whole, the others get
// 416, and the blob completes with the winner's bytes only.
func TestConcurrentChunksToOneUpload(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	loc := startUpload(t, s, "conc/chunks")
	const racers, size = 10, 64 << 10
	statuses := make([]int, racers)
	chunks := make([][]byte, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		chunks[i] = bytes.Repeat([]byte{byte('a' + i)}, size)
		req, err := http.NewRequest(http.MethodPatch, s.url(loc), bytes.NewReader(chunks[i]))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(rootKeyID, rootSecret)
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Range", fmt.Sprintf("0-%d", size-1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := rawClient.Do(req)
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, st := range statuses {
		switch {
		case st == http.StatusAccepted && winner < 0:
			winner = i
		case st != http.StatusRequestedRangeNotSatisfiable:
			t.Errorf("racer %d: status %d; want one 202 and 416 for the rest (all: %v)", i, st, statuses)
		}
	}
	if winner < 0 {
		t.Fatalf("no chunk was accepted: %v", statuses)
	}
	if r := s.do(t, http.MethodGet, loc, nil, nil); r.Header.Get("Range") != fmt.Sprintf("0-%d", size-1) {
		t.Fatalf("upload after the race: Range %q, want 0-%d", r.Header.Get("Range"), size-1)
	}
	dgst := sha256Digest(chunks[winner])
	r := s.do(t, http.MethodPut, location(t, rawResponse{Header: http.Header{"Location": {loc}}}, "digest="+dgst), nil, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("complete with the winner's digest: status %d: %s", r.Status, r.Body)
	}
	if got := s.do(t, http.MethodGet, "/v2/conc/chunks/blobs/"+dgst, nil, nil); !bytes.Equal(got.Body, chunks[winner]) {
		t.Errorf("blob holds something other than the winning chunk")
	}
}
