package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestUploadExpiry: an upload session idle for longer than --upload-expiry
// is removed with its bytes, while one that keeps receiving chunks lives.
func TestUploadExpiry(t *testing.T) {
	t.Parallel()
	const expiry = 2 * time.Second
	s := startBerth(t, withCreateOnPush(), withUploadExpiry(expiry))
	chunk := bytes.Repeat([]byte("idle upload "), 1000)

	idle := startUpload(t, s, "expiry/app")
	if r := patchChunk(t, s, idle, 0, chunk); r.Status != http.StatusAccepted {
		t.Fatalf("PATCH: status %d: %s", r.Status, r.Body)
	}
	lastPatch := time.Now()
	empty := startUpload(t, s, "expiry/app") // never receives a byte
	if files := uploadFiles(t, s.dataDir); len(files) == 0 {
		t.Fatalf("no files under %s/blobs/uploads while uploads are open: has the layout changed?", s.dataDir)
	}

	// A session that keeps getting chunks is not idle.
	busy := startUpload(t, s, "expiry/app")
	offset := 0
	for time.Since(lastPatch) < 2*expiry+time.Second {
		if r := patchChunk(t, s, busy, offset, []byte("tick")); r.Status != http.StatusAccepted {
			t.Fatalf("busy upload after %s: status %d: %s", time.Since(lastPatch).Round(time.Millisecond), r.Status, r.Body)
		}
		offset += 4
		if r := s.do(t, http.MethodGet, idle, nil, nil); time.Since(lastPatch) < expiry/2 && r.Status != http.StatusNoContent {
			t.Errorf("idle upload gone after only %s: status %d", time.Since(lastPatch), r.Status)
		}
		time.Sleep(expiry / 4)
	}
	time.Sleep(time.Until(lastPatch.Add(5 * time.Second)))

	for _, loc := range []string{idle, empty} {
		r := s.do(t, http.MethodGet, loc, nil, nil)
		wantError(t, "GET an expired upload", r, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		r = patchChunk(t, s, loc, 0, chunk)
		wantError(t, "PATCH an expired upload", r, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	}
	if r := s.do(t, http.MethodGet, busy, nil, nil); r.Status != http.StatusNoContent || r.Header.Get("Range") != fmt.Sprintf("0-%d", offset-1) {
		t.Errorf("busy upload: status %d, Range %q; want 204, 0-%d", r.Status, r.Header.Get("Range"), offset-1)
	}
	if r := s.do(t, http.MethodDelete, busy, nil, nil); r.Status != http.StatusNoContent {
		t.Errorf("cancel busy upload: status %d", r.Status)
	}
	if files := uploadFiles(t, s.dataDir); len(files) != 0 {
		t.Errorf("files left under blobs/uploads after expiry and cancel: %v", files)
	}
	// The registry still takes uploads.
	l, err := random.Layer(1000, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t, time.Minute)
	if err := remote.WriteLayer(s.repo(t, "expiry/app"), l, remoteOpts(ctx)...); err != nil {
		t.Errorf("upload after expiry: %v", err)
	}
}

// TestUploadSurvivesRestart: a partly sent upload continues where it
// stood after berth restarts, whether it stopped gracefully or crashed.
func TestUploadSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		restart func(*server)
	}{
		{"graceful", (*server).restart},
		{"sigkill", (*server).killAndRestart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startBerth(t, withCreateOnPush())
			data := make([]byte, 300<<10)
			if _, err := rand.Read(data); err != nil {
				t.Fatal(err)
			}
			third := len(data) / 3
			loc := startUpload(t, s, "restart/app")
			if r := patchChunk(t, s, loc, 0, data[:third]); r.Status != http.StatusAccepted {
				t.Fatalf("first chunk: status %d: %s", r.Status, r.Body)
			}

			tc.restart(s)

			r := s.do(t, http.MethodGet, loc, nil, nil)
			if r.Status != http.StatusNoContent || r.Header.Get("Range") != fmt.Sprintf("0-%d", third-1) {
				t.Fatalf("upload after restart: status %d, Range %q; want 204, 0-%d", r.Status, r.Header.Get("Range"), third-1)
			}
			if r := patchChunk(t, s, loc, third, data[third:2*third]); r.Status != http.StatusAccepted ||
				r.Header.Get("Range") != fmt.Sprintf("0-%d", 2*third-1) {
				t.Fatalf("second chunk: status %d, Range %q", r.Status, r.Header.Get("Range"))
			}
			dgst := sha256Digest(data)
			r = s.do(t, http.MethodPut, location(t, rawResponse{Header: http.Header{"Location": {loc}}}, "digest="+dgst),
				bytes.NewReader(data[2*third:]), map[string]string{
					"Content-Type":  "application/octet-stream",
					"Content-Range": fmt.Sprintf("%d-%d", 2*third, len(data)-1),
				})
			if r.Status != http.StatusCreated {
				t.Fatalf("complete: status %d: %s", r.Status, r.Body)
			}
			got := s.do(t, http.MethodGet, "/v2/restart/app/blobs/"+dgst, nil, nil)
			if got.Status != http.StatusOK || !bytes.Equal(got.Body, data) {
				t.Errorf("blob after restart: status %d, %d bytes, equal %v", got.Status, len(got.Body), bytes.Equal(got.Body, data))
			}
			if files := uploadFiles(t, s.dataDir); len(files) != 0 {
				t.Errorf("files left under blobs/uploads after the upload completed: %v", files)
			}
		})
	}
}

// TestGracefulStopFinishesInFlightUpload: SIGTERM lets a chunk that is
// being received finish; the upload then continues after the restart.
func TestGracefulStopFinishesInFlightUpload(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	data := make([]byte, 256<<10)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	loc := startUpload(t, s, "graceful/app")
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPatch, s.url(loc), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(rootKeyID, rootSecret)
	req.Header.Set("Content-Type", "application/octet-stream")
	type result struct {
		status int
		rng    string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := rawClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode, rng: resp.Header.Get("Range")}
	}()
	half := len(data) / 2
	if _, err := pw.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the server is now reading the body
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-stopped:
		t.Fatalf("berth exited while a request was still being received (err %v)", err)
	default:
	}
	if _, err := pw.Write(data[half:]); err != nil {
		t.Fatalf("send the rest of the chunk after SIGTERM: %v", err)
	}
	pw.Close()
	res := <-done
	if res.err != nil || res.status != http.StatusAccepted || res.rng != fmt.Sprintf("0-%d", len(data)-1) {
		t.Errorf("chunk in flight during SIGTERM: status %d, Range %q, err %v; want 202, 0-%d", res.status, res.rng, res.err, len(data)-1)
	}
	if err := <-stopped; err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	s.startAgain()
	dgst := sha256Digest(data)
	if r := s.do(t, http.MethodPut, location(t, rawResponse{Header: http.Header{"Location": {loc}}}, "digest="+dgst), nil, nil); r.Status != http.StatusCreated {
		t.Fatalf("complete after restart: status %d: %s", r.Status, r.Body)
	}
	if got := s.do(t, http.MethodGet, "/v2/graceful/app/blobs/"+dgst, nil, nil); !bytes.Equal(got.Body, data) {
		t.Errorf("blob after restart differs (%d bytes)", len(got.Body))
	}
}
