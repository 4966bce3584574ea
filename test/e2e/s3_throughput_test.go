package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestS3Throughput pushes and pulls large blobs through berth on the
// filesystem and on MinIO (pulls with redirects on and off), interleaving
// the targets rep by rep, checks every byte, and logs median MB/s. It also
// pushes several blobs at once to berth on MinIO and logs the growth of
// berth's peak RSS per concurrent upload. Sizes are small by default so
// the suite stays fast; BERTH_E2E_THROUGHPUT_MIB and _REPS scale it up
// for a measurement. The figures are reported, not asserted: on shared
// cores they are noise, their ratios are the finding.
func TestS3Throughput(t *testing.T) {
	size := int64(envInt("BERTH_E2E_THROUGHPUT_MIB", 64)) << 20
	reps := envInt("BERTH_E2E_THROUGHPUT_REPS", 1)
	targets := []struct {
		name string
		s    *server
	}{
		{"filesystem", startBerth(t, withCreateOnPush())},
		{"s3 redirect", startS3Berth(t, true)},
		{"s3 through berth", startS3Berth(t, false)},
	}
	push := map[string][]float64{}
	pull := map[string][]float64{}
	for rep := range reps {
		for _, tg := range targets {
			d, secs := pushBlob(t, tg.s, "tp/large", size, fmt.Sprintf("%s %d", tg.name, rep))
			push[tg.name] = append(push[tg.name], float64(size)/secs/1e6)
			pull[tg.name] = append(pull[tg.name], float64(size)/pullBlob(t, tg.s, "tp/large", d, size)/1e6)
		}
	}
	for _, tg := range targets {
		t.Logf("%-17s %d MiB x %d: push %6.0f MB/s, pull %6.0f MB/s (medians)", tg.name, size>>20, reps,
			median(push[tg.name]), median(pull[tg.name]))
	}

	// Per-upload memory: n concurrent pushes, against one.
	s := targets[2].s
	pid := s.current().cmd.Process.Pid
	_, base := procStatus(pid)
	const n = 8
	stop := sampleRSS(t, pid)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { pushBlob(t, s, "tp/concurrent", 64<<20, fmt.Sprint("concurrent ", i)) })
	}
	wg.Wait()
	_, hwm := stop()
	t.Logf("s3: %d concurrent 64 MiB pushes raised berth's VmHWM from %d to %d MiB: %.1f MiB per upload",
		n, base>>20, hwm>>20, float64(hwm-base)/n/(1<<20))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// pushBlob streams size pattern bytes as one PATCH (as docker pushes a
// layer) and commits them, returning the digest and the seconds taken.
func pushBlob(t *testing.T, s *server, repo string, size int64, seed string) (string, float64) {
	t.Helper()
	src := &patternReader{n: byte(len(seed))}
	h := sha256.New()
	io.WriteString(h, seed)
	if _, err := io.Copy(h, io.LimitReader(src, size-int64(len(seed)))); err != nil {
		t.Fatal(err)
	}
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	body := io.MultiReader(strings.NewReader(seed), io.LimitReader(&patternReader{n: byte(len(seed))}, size-int64(len(seed))))
	start := time.Now()
	r := s.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST upload: %d %s", r.Status, r.Body)
	}
	req, _ := http.NewRequest(http.MethodPatch, s.url(r.Header.Get("Location")), body)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.SetBasicAuth(rootKeyID, rootSecret)
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH %d bytes: %s", size, resp.Status)
	}
	loc := resp.Header.Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if r := s.do(t, http.MethodPut, loc+sep+"digest="+d, nil, nil); r.Status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	return d, time.Since(start).Seconds()
}

// pullBlob GETs blob d, following a redirect as clients do, checks its
// digest and returns the seconds taken.
func pullBlob(t *testing.T, s *server, repo, d string, size int64) float64 {
	t.Helper()
	start := time.Now()
	req, _ := http.NewRequest(http.MethodGet, s.url("/v2/"+repo+"/blobs/"+d), nil)
	req.SetBasicAuth(rootKeyID, rootSecret)
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil || n != size || "sha256:"+hex.EncodeToString(h.Sum(nil)) != d {
		t.Fatalf("GET %s: %s, %d bytes, %v", d, resp.Status, n, err)
	}
	return time.Since(start).Seconds()
}
