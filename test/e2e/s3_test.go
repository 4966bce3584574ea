package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/regclient/regclient/types/descriptor"

	"github.com/berth-registry/berth/internal/testenv"
)

// startS3Berth starts berth with its blobs under a prefix of a fresh MinIO
// bucket. MinIO is addressed as localhost, berth as 127.0.0.1, so that
// clients treat the presigned URLs as another host, as they would S3.
func startS3Berth(t *testing.T, redirect bool, opts ...option) *server {
	t.Helper()
	m := testenv.MinIO(t)
	bucket := m.Bucket(t)
	endpoint := strings.Replace(m.Endpoint, "127.0.0.1", "localhost", 1)
	flags := []string{"--blob-store", "s3://" + bucket + "/berth", "--s3-endpoint", endpoint, "--s3-path-style",
		"--s3-access-key-id", m.AccessKey, "--s3-secret-access-key", m.SecretKey,
		"--s3-redirect=" + strconv.FormatBool(redirect)}
	s := startBerth(t, append(opts, withCreateOnPush(), withFlags(flags...))...)
	if strings.Contains(s.logs.String(), m.SecretKey) {
		t.Errorf("berth logged the S3 secret key")
	}
	return s
}

var blobGETLine = regexp.MustCompile(`method=GET path=/v2/\S+/blobs/sha256:[0-9a-f]{64} status=(\d+)`)

// blobGETs counts berth's answers to blob GETs by status, from its log.
func blobGETs(s *server) map[int]int {
	return settledCounts(func() map[int]int {
		out := map[int]int{}
		for _, m := range blobGETLine.FindAllStringSubmatch(s.logs.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			out[n]++
		}
		return out
	})
}

// settledCounts returns count() once it has not moved for 100 ms (at most
// 5 s): a request's log line is written once its handler returns, which
// may be just after the client has the response, so counting at once can
// miss the last request of the steps before.
func settledCounts(count func() map[int]int) map[int]int {
	last := count()
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		now := count()
		if maps.Equal(now, last) {
			return now
		}
		last = now
	}
	return last
}

// checkBlobGETs asserts that berth answered at least min blob GETs, all
// with 307 when redirecting, all with 200 (or 206) when not.
func checkBlobGETs(t *testing.T, s *server, redirect bool, min int) {
	t.Helper()
	got := blobGETs(s)
	served := got[http.StatusOK] + got[http.StatusPartialContent]
	switch {
	case redirect && (got[http.StatusTemporaryRedirect] < min || served > 0):
		t.Errorf("blob GETs answered %v; want at least %d redirects (307) and no bytes served by berth", got, min)
	case !redirect && (served < min || got[http.StatusTemporaryRedirect] > 0):
		t.Errorf("blob GETs answered %v; want at least %d served by berth and no redirect", got, min)
	}
}

func redirectName(redirect bool) string {
	if redirect {
		return "redirect"
	}
	return "through-berth"
}

// TestS3Clients pushes with go-containerregistry and pulls with
// go-containerregistry, regclient and oras-go from berth on MinIO, with
// redirects on (the clients follow the 307 to a presigned MinIO URL) and
// off (berth streams the bytes).
func TestS3Clients(t *testing.T) {
	t.Parallel()
	for _, redirect := range []bool{true, false} {
		t.Run(redirectName(redirect), func(t *testing.T) {
			t.Parallel()
			s := startS3Berth(t, redirect)
			ctx := testContext(t, 2*time.Minute)
			img := randomImage(t, 3<<20, 2)
			ref := s.repo(t, "s3/app").Tag("v1")
			if err := remote.Write(ref, img, remoteOpts(ctx)...); err != nil {
				t.Fatalf("push: %v", err)
			}
			verifyImage(t, ctx, ref, img) // reads config and layers
			checkBlobGETs(t, s, redirect, 3)
			before := blobGETs(s)

			layers, _ := img.Layers()
			want := readCompressed(t, layers[0])
			d := mustDigest(t, layers[0])
			rc, err := s.regClient().BlobGet(ctx, mustRef(t, s.host+"/s3/app"),
				descriptor.Descriptor{MediaType: "application/octet-stream", Digest: digest.Digest(d.String()), Size: int64(len(want))})
			if err != nil {
				t.Fatalf("regclient blob get: %v", err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("regclient blob: %d bytes, %v", len(got), err)
			}
			repo := s.orasRepository(t, "s3/app")
			or, err := repo.Blobs().Fetch(ctx, ocispec.Descriptor{MediaType: "application/octet-stream",
				Digest: digest.Digest(d.String()), Size: int64(len(want))})
			if err != nil {
				t.Fatalf("oras fetch: %v", err)
			}
			got, err = io.ReadAll(or)
			or.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("oras blob: %d bytes, %v", len(got), err)
			}
			after := blobGETs(s)
			status := http.StatusOK
			if redirect {
				status = http.StatusTemporaryRedirect
			}
			if after[status]-before[status] != 2 {
				t.Errorf("regclient and oras: blob GETs answered %v after %v; want two more %d", after, before, status)
			}

			// HEAD is always answered by berth.
			r := s.do(t, http.MethodHead, "/v2/s3/app/blobs/"+d.String(), nil, nil)
			if r.Status != http.StatusOK || r.Header.Get("Content-Length") != strconv.Itoa(len(want)) {
				t.Errorf("HEAD blob: %d, %v", r.Status, r.Header)
			}
			checkECRDownloadURL(t, ctx, s, redirect, "s3/app", d.String(), want)
		})
	}
}

// checkECRDownloadURL: GetDownloadUrlForLayer hands out a presigned MinIO
// URL with redirects on and berth's own signed URL with them off; both
// serve the layer without credentials.
func checkECRDownloadURL(t *testing.T, ctx context.Context, s *server, redirect bool, repo, d string, want []byte) {
	t.Helper()
	out, err := s.ecr().GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{
		RepositoryName: aws.String(repo), LayerDigest: aws.String(d)})
	if err != nil {
		t.Fatalf("GetDownloadUrlForLayer: %v", err)
	}
	u := aws.ToString(out.DownloadUrl)
	onBerth := strings.HasPrefix(u, s.url("/"))
	if onBerth == redirect || (redirect && !strings.Contains(u, "X-Amz-Signature=")) {
		t.Errorf("downloadUrl %s with redirects %v", u, redirect)
	}
	if status, body := plainGet(t, u); status != http.StatusOK || !bytes.Equal(body, want) {
		t.Errorf("GET downloadUrl: %d, %d bytes", status, len(body))
	}
}

// TestS3Docker pushes and pulls with the Docker Engine against berth on
// MinIO: the daemon follows the 307s of the pull.
func TestS3Docker(t *testing.T) {
	t.Parallel()
	for _, redirect := range []bool{true, false} {
		t.Run(redirectName(redirect), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t, 4*time.Minute)
			docker := dockerCLI{t: t, config: t.TempDir()}
			if out, err := docker.run(ctx, "", "info", "--format", "{{.ServerVersion}}"); err != nil {
				t.Fatalf("the Docker Engine is required for this test and `docker info` failed: %v\n%s", err, out)
			}
			s := startS3Berth(t, redirect)
			nonce := randomHex(t, 8)
			line := "hello from berth on s3 " + nonce
			dir := t.TempDir()
			buildHello(t, ctx, dir, line)
			// A second, 6 MiB layer: more than one S3 part.
			if err := os.WriteFile(filepath.Join(dir, "data"), bytes.Repeat([]byte(nonce), 6<<20/len(nonce)), 0o644); err != nil {
				t.Fatal(err)
			}
			dockerfile := "FROM scratch\nCOPY hello /hello\nCOPY data /data\nENTRYPOINT [\"/hello\"]\n"
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			image := s.host + "/s3/hello-" + nonce + ":v1"
			label := "berth-e2e=" + nonce
			t.Cleanup(func() { removeDockerImages(t, docker, image, label) })
			docker.must(ctx, "", "build", "--force-rm", "--label", label, "-t", image, dir)
			docker.must(ctx, rootSecret, "login", s.host, "-u", rootKeyID, "--password-stdin")
			docker.must(ctx, "", "push", image)
			docker.must(ctx, "", "rmi", image)
			docker.must(ctx, "", "pull", image)
			out := docker.must(ctx, "", "run", "--rm", "--pull=never", "--network=none", image)
			if strings.TrimSpace(out) != line {
				t.Errorf("docker run printed %q, want %q", strings.TrimSpace(out), line)
			}
			// The pull fetched the config and two layers.
			checkBlobGETs(t, s, redirect, 3)
		})
	}
}

// TestS3ChunkedUpload uploads a blob in PATCH chunks of 1 MiB, far below
// S3's 5 MiB part minimum, then reads it back through the redirect.
func TestS3ChunkedUpload(t *testing.T) {
	t.Parallel()
	s := startS3Berth(t, true)
	content := bytes.Repeat([]byte("0123456789abcdef"), (12<<20+777)/16)
	d := digest.FromBytes(content)
	r := s.do(t, http.MethodPost, "/v2/s3/chunks/blobs/uploads/", nil, nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST upload: %d %s", r.Status, r.Body)
	}
	loc := r.Header.Get("Location")
	for off := 0; off < len(content); off += 1 << 20 {
		chunk := content[off:min(off+1<<20, len(content))]
		r = s.do(t, http.MethodPatch, loc, bytes.NewReader(chunk), map[string]string{
			"Content-Type":  "application/octet-stream",
			"Content-Range": fmt.Sprintf("%d-%d", off, off+len(chunk)-1),
		})
		if r.Status != http.StatusAccepted {
			t.Fatalf("PATCH at %d: %d %s", off, r.Status, r.Body)
		}
		loc = r.Header.Get("Location")
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	r = s.do(t, http.MethodPut, loc+sep+"digest="+d.String(), nil, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	noFollow := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	req, _ := http.NewRequest(http.MethodGet, s.url("/v2/s3/chunks/blobs/"+d.String()), nil)
	req.SetBasicAuth(rootKeyID, rootSecret)
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("GET blob: %s, headers %v; want 307 with the digest", resp.Status, resp.Header)
	}
	status, body := plainGet(t, resp.Header.Get("Location"))
	if status != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("GET Location: %d, %d bytes; want the %d bytes pushed", status, len(body), len(content))
	}
}

// TestS3LargeBlobMemory pushes a 256 MiB blob in one PATCH and pulls it
// back through berth (redirects off), sampling berth's resident memory:
// it must stay far below the blob's size.
func TestS3LargeBlobMemory(t *testing.T) {
	t.Parallel()
	s := startS3Berth(t, false)
	const size = 256 << 20
	pid := s.current().cmd.Process.Pid
	stop := sampleRSS(t, pid)

	r := s.do(t, http.MethodPost, "/v2/s3/big/blobs/uploads/", nil, nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST upload: %d %s", r.Status, r.Body)
	}
	h := sha256.New()
	body := io.TeeReader(io.LimitReader(&patternReader{}, size), h)
	req, _ := http.NewRequest(http.MethodPatch, s.url(r.Header.Get("Location")), body)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.SetBasicAuth(rootKeyID, rootSecret)
	start := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH 256 MiB: %s", resp.Status)
	}
	d := "sha256:" + hex.EncodeToString(h.Sum(nil))
	loc := resp.Header.Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	r = s.do(t, http.MethodPut, loc+sep+"digest="+d, nil, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	pushed := time.Since(start)

	start = time.Now()
	req, _ = http.NewRequest(http.MethodGet, s.url("/v2/s3/big/blobs/"+d), nil)
	req.SetBasicAuth(rootKeyID, rootSecret)
	resp, err = (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out := sha256.New()
	n, err := io.Copy(out, resp.Body)
	resp.Body.Close()
	if err != nil || n != size || "sha256:"+hex.EncodeToString(out.Sum(nil)) != d {
		t.Fatalf("GET 256 MiB blob: %d bytes, %v", n, err)
	}
	pulled := time.Since(start)
	peak, hwm := stop()
	t.Logf("256 MiB blob on S3: push %s (%.0f MiB/s), pull %s (%.0f MiB/s); berth peak VmRSS %d MiB, VmHWM %d MiB",
		pushed.Round(time.Millisecond), 256/pushed.Seconds(), pulled.Round(time.Millisecond), 256/pulled.Seconds(), peak>>20, hwm>>20)
	if hwm > 160<<20 {
		t.Errorf("berth's resident memory peaked at %d MiB moving a 256 MiB blob; want it bounded well below the blob", hwm>>20)
	}
}

// patternReader yields an endless cheap byte pattern.
type patternReader struct{ n byte }

func (p *patternReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = p.n
		p.n += 7
	}
	return len(b), nil
}

// sampleRSS samples VmRSS of pid every 20ms until the returned function
// is called, which reports the peak sample and the kernel's VmHWM.
func sampleRSS(t *testing.T, pid int) func() (int64, int64) {
	t.Helper()
	var (
		mu   sync.Mutex
		peak int64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, _ := procStatus(pid); rss > 0 {
				mu.Lock()
				peak = max(peak, rss)
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() (int64, int64) {
		close(done)
		wg.Wait()
		_, hwm := procStatus(pid)
		mu.Lock()
		defer mu.Unlock()
		return peak, hwm
	}
}

// procStatus reads VmRSS and VmHWM (bytes) from /proc/<pid>/status.
func procStatus(pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// TestS3StartupChecks: berth refuses to start on a bucket it cannot use,
// saying which, and /readyz checks the bucket of a running berth.
func TestS3StartupChecks(t *testing.T) {
	t.Parallel()
	m := testenv.MinIO(t)
	ctx := testContext(t, time.Minute)
	cmd := exec.CommandContext(ctx, berthBin, "serve", "--addr", "127.0.0.1:"+freePort(t), "--data-dir", t.TempDir(),
		"--blob-store", "s3://no-such-bucket-"+randomHex(t, 4)+"/x", "--s3-endpoint", m.Endpoint, "--s3-path-style",
		"--s3-access-key-id", m.AccessKey, "--s3-secret-access-key", m.SecretKey)
	cmd.Env = berthEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no-such-bucket") || strings.Contains(string(out), m.SecretKey) {
		t.Fatalf("berth on a missing bucket: %v\n%s", err, out)
	}

	s := startS3Berth(t, true)
	if r := s.do(t, http.MethodGet, "/readyz", nil, nil); r.Status != http.StatusOK {
		t.Fatalf("/readyz on a usable bucket: %d %s", r.Status, r.Body)
	}
}
