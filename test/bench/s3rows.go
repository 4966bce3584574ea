package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Repositories of the S3 rows.
const (
	repoS3Large      = "bench/s3-large"
	repoS3Concurrent = "bench/s3-concurrent"
	repoS3RSS        = "bench/s3-rss"
)

// largePushS3 is the large-blob push on S3: POST, one streamed PATCH,
// PUT ?digest= to the registries; one PutObject for the limit.
func (sb *s3Bench) largePushS3() *scenario {
	size := sb.o.largeSize
	return &scenario{
		key: "s3_large_push", title: "S3: large-blob push (" + formatSize(size) + ")", unit: "MB/s",
		rule: rule{against: targetReference, ratio: 1.5}, limit: true,
		warm: func(ctx context.Context, t *target) error {
			_, err := sb.pushOne(ctx, t, min(largeWarmup, size), "warm", false)
			return err
		},
		measure: func(ctx context.Context, t *target, rep int) (sample, error) {
			return sb.pushOne(ctx, t, size, fmt.Sprintf("rep%d", rep), true)
		},
	}
}

// pushOne pushes one new blob of size bytes to t and times it; keep makes
// it the blob the pull rows read.
func (sb *s3Bench) pushOne(ctx context.Context, t *target, size int64, label string, keep bool) (sample, error) {
	s := newPatternStream(sb.block, "berth-bench s3 "+sb.nonce+" "+t.base+" "+label+"\n", size)
	var d string
	if t.name != targetLimit {
		d = s.digest()
	}
	cpu := startCPU(t)
	start := time.Now()
	var err error
	if t.name == targetLimit {
		d, err = sb.putLimit(ctx, "large/"+label, s, size)
	} else {
		err = t.pushStream(ctx, repoS3Large, s, d)
	}
	elapsed := time.Since(start)
	if err != nil {
		return sample{}, err
	}
	out := sample{Value: float64(size) / elapsed.Seconds() / 1e6, Bytes: size, Seconds: elapsed.Seconds()}
	cpu.stop(&out)
	if keep {
		sb.large[t] = d
	}
	return out, nil
}

// putLimit writes s as the object key with one PutObject, hashing it in
// the same pass as a registry must, and returns the key.
func (sb *s3Bench) putLimit(ctx context.Context, key string, s *patternStream, size int64) (string, error) {
	h := sha256.New()
	_, err := sb.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &sb.bucket, Key: &key, Body: io.TeeReader(s, h), ContentLength: aws.Int64(size),
		ContentType: aws.String(mediaOctet),
	})
	if err != nil {
		return "", fmt.Errorf("limit: PutObject %s: %w", key, err)
	}
	_ = h.Sum(nil) // the digest a registry would check
	return key, nil
}

// largePullS3 is the large-blob pull on S3: a GET of the blob the push row
// left (or prepare pushed), following a redirect to MinIO when the server
// answers with one; redirect says whether the servers must redirect.
func (sb *s3Bench) largePullS3(key string, redirect bool) *scenario {
	size := sb.o.largeSize
	buf := make([]byte, 1<<20)
	pull := func(ctx context.Context, t *target) (sample, error) {
		d := sb.large[t]
		if d == "" {
			return sample{}, errors.New("no large blob was pushed, so there is nothing to pull")
		}
		cpu := startCPU(t)
		start := time.Now()
		var n int64
		var redirected bool
		var err error
		if t.name == targetLimit {
			n, err = sb.getLimit(ctx, d, buf)
		} else {
			n, redirected, err = pullFollow(ctx, t, t.base+"/v2/"+repoS3Large+"/blobs/"+d, buf)
		}
		elapsed := time.Since(start)
		switch {
		case err != nil:
			return sample{}, err
		case n != size:
			return sample{}, fmt.Errorf("pulled %d bytes, want %d", n, size)
		case t.name != targetLimit && redirected != redirect:
			return sample{}, fmt.Errorf("the server redirected: %t, want %t", redirected, redirect)
		}
		out := sample{Value: float64(n) / elapsed.Seconds() / 1e6, Bytes: n, Seconds: elapsed.Seconds()}
		cpu.stop(&out)
		return out, nil
	}
	how := "streamed through the server"
	if redirect {
		how = "redirected to MinIO"
	}
	return &scenario{
		key: key, title: "S3: large-blob pull, " + how + " (" + formatSize(size) + ")", unit: "MB/s",
		rule: rule{against: targetReference, ratio: 1}, limit: true,
		prepare: func(ctx context.Context, t *target) error {
			if sb.large[t] != "" {
				return nil
			}
			_, err := sb.pushOne(ctx, t, size, "pull", true)
			return err
		},
		warm:    func(ctx context.Context, t *target) error { _, err := pull(ctx, t); return err },
		measure: func(ctx context.Context, t *target, _ int) (sample, error) { return pull(ctx, t) },
	}
}

// pullFollow GETs rawURL with t's credentials; a redirect is followed
// once, without them (a presigned URL carries its own), as docker does.
func pullFollow(ctx context.Context, t *target, rawURL string, buf []byte) (int64, bool, error) {
	resp, err := t.do(ctx, http.MethodGet, rawURL, nil, nil, 0)
	if err != nil {
		return 0, false, err
	}
	switch resp.StatusCode {
	case http.StatusTemporaryRedirect, http.StatusFound, http.StatusSeeOther, http.StatusPermanentRedirect, http.StatusMovedPermanently:
	default:
		n, err := expect(resp, nil, http.StatusOK, buf)
		return n, false, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return 0, true, fmt.Errorf("%s: redirect without a usable Location: %w", t.name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return 0, true, err
	}
	resp, err = t.tr.RoundTrip(req)
	n, err := expect(resp, err, http.StatusOK, buf)
	return n, true, err
}

// getLimit reads the object key with one GetObject through buf.
func (sb *s3Bench) getLimit(ctx context.Context, key string, buf []byte) (int64, error) {
	out, err := sb.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &sb.bucket, Key: &key})
	if err != nil {
		return 0, fmt.Errorf("limit: GetObject %s: %w", key, err)
	}
	defer out.Body.Close()
	return io.CopyBuffer(io.Discard, struct{ io.Reader }{out.Body}, buf)
}

// concurrentPushS3 is -s3-clients pushes of -s3-push-size at once; MB/s of
// all of them over the time the last one took.
func (sb *s3Bench) concurrentPushS3() *scenario {
	n, size := sb.o.s3.clients, sb.o.s3.pushSize
	return &scenario{
		key: "s3_concurrent_push", title: fmt.Sprintf("S3: %d concurrent pushes (%s each)", n, formatSize(size)), unit: "MB/s",
		rule: rule{against: targetReference, ratio: 1.5}, limit: true,
		measure: func(ctx context.Context, t *target, rep int) (sample, error) {
			s, _, err := sb.pushMany(ctx, t, repoS3Concurrent, n, size, fmt.Sprintf("concurrent%d", rep), nil)
			return s, err
		},
	}
}

// pushMany pushes n distinct blobs of size bytes to t at once (digests
// computed before the clock starts) and returns the aggregate MB/s; during
// the pushes it calls during, if not nil, every 50 ms.
func (sb *s3Bench) pushMany(ctx context.Context, t *target, repo string, n int, size int64, label string, during func()) (sample, time.Duration, error) {
	streams := make([]*patternStream, n)
	digests := make([]string, n)
	for i := range streams {
		streams[i] = newPatternStream(sb.block, fmt.Sprintf("berth-bench s3 %s %s %s %d\n", sb.nonce, t.base, label, i), size)
		if t.name != targetLimit {
			digests[i] = streams[i].digest()
		}
	}
	done := make(chan struct{})
	var sampler sync.WaitGroup
	if during != nil {
		sampler.Go(func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					during()
				}
			}
		})
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	cpu := startCPU(t)
	start := time.Now()
	for i := range streams {
		wg.Go(func() {
			if t.name == targetLimit {
				_, errs[i] = sb.putLimit(ctx, fmt.Sprintf("%s/%d", label, i), streams[i], size)
			} else {
				errs[i] = t.pushStream(ctx, repo, streams[i], digests[i])
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(done)
	sampler.Wait()
	if err := errors.Join(errs...); err != nil {
		return sample{}, elapsed, err
	}
	total := int64(n) * size
	out := sample{Value: float64(total) / elapsed.Seconds() / 1e6, Bytes: total, Seconds: elapsed.Seconds()}
	cpu.stop(&out)
	return out, elapsed, nil
}

// rssS3 is each server's peak RSS (VmHWM, the kernel's own high-water
// mark, checked against VmRSS sampled every 50 ms) during -s3-rss-pushes
// concurrent pushes of -s3-rss-size; the bound is two part buffers per
// upload (Berth's at most) plus 128 MiB.
func (sb *s3Bench) rssS3() *scenario {
	n, size := sb.o.s3.rssPushes, sb.o.s3.rssSize
	ceiling := float64(n*2*8) + 128 // MiB: 8 MiB parts, Berth's default
	return &scenario{
		key: "s3_push_peak_rss", title: fmt.Sprintf("S3: peak RSS during %d concurrent %s pushes", n, formatSize(size)),
		unit: "MiB", rule: rule{ceiling: ceiling}, once: true,
		measure: func(ctx context.Context, t *target, _ int) (sample, error) {
			if t.proc == nil {
				return sample{}, errors.New("no process to sample")
			}
			pid := t.proc.pid()
			var mu sync.Mutex
			var peak int64
			observe := func() {
				if r, err := procRSS(pid); err == nil {
					mu.Lock()
					peak = max(peak, r)
					mu.Unlock()
				}
			}
			s, elapsed, err := sb.pushMany(ctx, t, repoS3RSS, n, size, "rss", observe)
			if err != nil {
				return sample{}, err
			}
			hwm, err := procHWM(pid)
			if err != nil {
				return sample{}, err
			}
			fmt.Fprintf(sb.log, "bench: %s: %d pushes of %s in %.1fs (%.0f MB/s); VmRSS sampled peak %d MiB, VmHWM %d MiB\n",
				t.name, n, formatSize(size), elapsed.Seconds(), s.Value, peak>>20, hwm>>20)
			s.Value = float64(max(hwm, peak)) / (1 << 20)
			return s, nil
		},
	}
}

// procHWM returns a process's peak resident set size (VmHWM) in bytes.
func procHWM(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}
