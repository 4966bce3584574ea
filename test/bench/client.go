package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	targetBerth     = "berth"
	targetReference = "reference"
	targetLimit     = "limit"

	mediaOctet    = "application/octet-stream"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	acceptAll     = mediaManifest + ", application/vnd.oci.image.index.v1+json, " +
		"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"
)

// target is one server under test.
type target struct {
	name string
	base string   // scheme://host:port
	auth string   // Authorization header value; empty for none
	proc *process // nil for the in-process limit server
	tr   *http.Transport
	// keyID and secret are Berth's root access key, which signs ECR API
	// requests (SigV4); empty for the others.
	keyID, secret string
	// dataDir is Berth's data directory (admin commands); empty for the others.
	dataDir string
	// monolithic reports whether POST .../blobs/uploads/?digest= with a body
	// stores the blob (201); the reference answers 202 and ignores the body.
	monolithic bool
}

// newTransport is tuned for a load generator on loopback: one kept-alive
// connection per client, no compression, no proxy, large buffers so big
// transfers are not split into small syscalls.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2*conns + 8,
		MaxIdleConnsPerHost: 2*conns + 8,
		// Shorter than Berth's 2-minute server idle timeout, so the client
		// never sends a request on a connection the server is closing.
		IdleConnTimeout:    60 * time.Second,
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
		WriteBufferSize:    64 << 10,
		ReadBufferSize:     64 << 10,
	}
}

// stop closes the target's connections and stops its process.
func (t *target) stop() {
	t.tr.CloseIdleConnections()
	if t.proc != nil {
		t.proc.stop()
	}
}

// header returns a fresh header with the target's credentials.
func (t *target) header() http.Header {
	h := http.Header{}
	if t.auth != "" {
		h.Set("Authorization", t.auth)
	}
	return h
}

// template is a request that workers copy and adjust per operation; its
// Header is shared read-only by all copies.
func (t *target) template(ctx context.Context, method, path string, h http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header = t.header()
	for k, v := range h {
		req.Header[k] = v
	}
	return req, nil
}

// do sends one request built from scratch; for set-up, not hot paths.
func (t *target) do(ctx context.Context, method, rawURL string, h http.Header, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, err
	}
	for k, v := range t.header() {
		req.Header[k] = v
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil {
		req.ContentLength = size
	}
	return t.tr.RoundTrip(req)
}

// resolve turns a Location header into an absolute URL (distribution sends
// absolute URLs, Berth paths).
func (t *target) resolve(loc string) (string, error) {
	if loc == "" {
		return "", fmt.Errorf("%s: no Location header", t.name)
	}
	if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
		return loc, nil
	}
	return t.base + loc, nil
}

// withDigest appends digest=d to an upload URL that may carry a query.
func withDigest(u, d string) string {
	if strings.Contains(u, "?") {
		return u + "&digest=" + d
	}
	return u + "?digest=" + d
}

// expect checks the status, drains and closes the body (so the connection
// is reused) and returns the number of body bytes read.
func expect(resp *http.Response, err error, want int, buf []byte) (int64, error) {
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("%s %s: %s (want %d): %s", resp.Request.Method, resp.Request.URL.Path,
			resp.Status, want, bytes.TrimSpace(b))
	}
	var n int64
	for {
		k, rerr := resp.Body.Read(buf)
		n += int64(k)
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// startUpload opens an upload session and returns its absolute URL.
func (t *target) startUpload(ctx context.Context, repo string, buf []byte) (string, error) {
	resp, err := t.do(ctx, http.MethodPost, t.base+"/v2/"+repo+"/blobs/uploads/", nil, nil, 0)
	if _, err := expect(resp, err, http.StatusAccepted, buf); err != nil {
		return "", err
	}
	return t.resolve(resp.Header.Get("Location"))
}

// pushBlob stores a small blob by the fastest flow the target supports.
func (t *target) pushBlob(ctx context.Context, repo, d string, body []byte) error {
	buf := make([]byte, 4<<10)
	h := http.Header{"Content-Type": {mediaOctet}}
	if t.monolithic {
		resp, err := t.do(ctx, http.MethodPost, t.base+"/v2/"+repo+"/blobs/uploads/?digest="+d, h, bytes.NewReader(body), int64(len(body)))
		_, err = expect(resp, err, http.StatusCreated, buf)
		return err
	}
	loc, err := t.startUpload(ctx, repo, buf)
	if err != nil {
		return err
	}
	resp, err := t.do(ctx, http.MethodPut, withDigest(loc, d), h, bytes.NewReader(body), int64(len(body)))
	_, err = expect(resp, err, http.StatusCreated, buf)
	return err
}

// probeMonolithic finds out whether the target stores a blob sent with
// POST ?digest=; an upload session it opens instead is cancelled.
func (t *target) probeMonolithic(ctx context.Context, repo string, body []byte) error {
	buf := make([]byte, 4<<10)
	d := sha256Digest(body)
	h := http.Header{"Content-Type": {mediaOctet}}
	resp, err := t.do(ctx, http.MethodPost, t.base+"/v2/"+repo+"/blobs/uploads/?digest="+d, h, bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated:
		t.monolithic = true
		return nil
	case http.StatusAccepted:
		t.monolithic = false
		loc, err := t.resolve(resp.Header.Get("Location"))
		if err != nil {
			return err
		}
		resp, err := t.do(ctx, http.MethodDelete, loc, nil, nil, 0)
		_, _ = expect(resp, err, http.StatusNoContent, buf)
		return nil
	}
	return fmt.Errorf("%s: POST ?digest=: %s", t.name, resp.Status)
}

// pushStream uploads s as docker does: POST, one streamed PATCH (chunked
// transfer encoding, no Content-Length), PUT ?digest=.
func (t *target) pushStream(ctx context.Context, repo string, s *patternStream, d string) error {
	buf := make([]byte, 4<<10)
	loc, err := t.startUpload(ctx, repo, buf)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, loc, nil)
	if err != nil {
		return err
	}
	req.Header = t.header()
	req.Header.Set("Content-Type", mediaOctet)
	req.Body, req.ContentLength = s, -1
	resp, err := t.tr.RoundTrip(req)
	if _, err := expect(resp, err, http.StatusAccepted, buf); err != nil {
		return err
	}
	if loc, err = t.resolve(resp.Header.Get("Location")); err != nil {
		return err
	}
	resp, err = t.do(ctx, http.MethodPut, withDigest(loc, d), nil, nil, 0)
	_, err = expect(resp, err, http.StatusCreated, buf)
	return err
}

// pushLimit streams s to the limit server and returns the stored file's name.
func (t *target) pushLimit(ctx context.Context, s *patternStream) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, t.base+"/push/", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mediaOctet)
	req.Body, req.ContentLength = s, -1
	resp, err := t.tr.RoundTrip(req)
	if _, err := expect(resp, err, http.StatusCreated, make([]byte, 4<<10)); err != nil {
		return "", err
	}
	return strings.TrimPrefix(resp.Header.Get("Docker-Content-Digest"), "sha256:"), nil
}

// pull GETs rawURL and discards the body through buf; it returns the size.
func (t *target) pull(ctx context.Context, rawURL string, buf []byte) (int64, error) {
	resp, err := t.do(ctx, http.MethodGet, rawURL, nil, nil, 0)
	return expect(resp, err, http.StatusOK, buf)
}

// putManifest PUTs an OCI image manifest under ref (setup path).
func (t *target) putManifest(ctx context.Context, repo, ref string, body []byte) error {
	h := http.Header{"Content-Type": {mediaManifest}}
	resp, err := t.do(ctx, http.MethodPut, t.base+"/v2/"+repo+"/manifests/"+url.PathEscape(ref), h,
		bytes.NewReader(body), int64(len(body)))
	_, err = expect(resp, err, http.StatusCreated, make([]byte, 4<<10))
	return err
}

// patternStream is a large blob generated on the fly: a unique first block
// followed by a repeating random block, so the client spends no time on
// content and no two streams share a digest. WriteTo lets net/http's
// chunked writer send it in 1 MiB writes.
type patternStream struct {
	first, block []byte // first is block with a unique header over its start
	size, off    int64
}

func newPatternStream(block []byte, header string, size int64) *patternStream {
	first := append([]byte(nil), block...)
	copy(first, header)
	return &patternStream{first: first, block: block, size: size}
}

// chunk returns the bytes from the current offset to the end of the current
// block or the stream.
func (p *patternStream) chunk() []byte {
	src := p.block
	if p.off < int64(len(p.block)) {
		src = p.first
	}
	pos := p.off % int64(len(p.block))
	end := min(int64(len(src)), pos+p.size-p.off)
	return src[pos:end]
}

func (p *patternStream) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	n := copy(b, p.chunk())
	p.off += int64(n)
	return n, nil
}

func (p *patternStream) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for p.off < p.size {
		n, err := w.Write(p.chunk())
		p.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (p *patternStream) Close() error { return nil }

// digest hashes the whole stream and rewinds it.
func (p *patternStream) digest() string {
	h := sha256.New()
	p.off = 0
	_, _ = p.WriteTo(h)
	p.off = 0
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}
