package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

func (b *bench) largePushScenario() *scenario {
	return &scenario{
		key: "large_push", title: "large-blob push (" + formatSize(b.o.largeSize) + ")", unit: "MB/s",
		rule: rule{against: targetLimit, ratio: 0.9}, limit: true,
		warm: func(ctx context.Context, t *target) error {
			_, err := b.largePush(ctx, t, min(largeWarmup, b.o.largeSize), "warm")
			return err
		},
		measure: func(ctx context.Context, t *target, rep int) (sample, error) {
			return b.largePush(ctx, t, b.o.largeSize, fmt.Sprintf("rep%d", rep))
		},
	}
}

// largePush streams one new blob of size bytes to t and times it; the
// digest is computed before the clock starts, as docker knows it up front.
func (b *bench) largePush(ctx context.Context, t *target, size int64, label string) (sample, error) {
	s := newPatternStream(b.block, "berth-bench "+b.nonce+" "+t.name+" "+label+"\n", size)
	var d string
	if t.name != targetLimit {
		d = s.digest()
	}
	cpu := startCPU(t)
	start := time.Now()
	var err error
	if t.name == targetLimit {
		d, err = t.pushLimit(ctx, s)
	} else {
		err = t.pushStream(ctx, repoLarge, s, d)
	}
	elapsed := time.Since(start)
	if err != nil {
		return sample{}, err
	}
	out := sample{Value: float64(size) / elapsed.Seconds() / 1e6, Bytes: size, Seconds: elapsed.Seconds()}
	cpu.stop(&out)
	b.keepLarge(ctx, t, d, size == b.o.largeSize)
	return out, nil
}

// keepLarge remembers the blob the pull scenario reads. The limit server
// keeps only that one file, so its disk use stays at one blob.
func (b *bench) keepLarge(ctx context.Context, t *target, d string, full bool) {
	if t.name == targetLimit {
		drop := d
		if full {
			drop, b.large[t.name] = b.large[t.name], d
		}
		if drop != "" {
			resp, err := t.do(ctx, http.MethodDelete, t.base+"/file/"+drop, nil, nil, 0)
			_, _ = expect(resp, err, http.StatusNoContent, make([]byte, 512))
		}
		return
	}
	if full {
		b.large[t.name] = d
	}
}

func (b *bench) largePullScenario() *scenario {
	buf := make([]byte, 1<<20)
	pull := func(ctx context.Context, t *target) (sample, error) {
		d := b.large[t.name]
		if d == "" {
			return sample{}, errors.New("no large blob was pushed, so there is nothing to pull")
		}
		u := t.base + "/v2/" + repoLarge + "/blobs/" + d
		if t.name == targetLimit {
			u = t.base + "/file/" + d
		}
		cpu := startCPU(t)
		start := time.Now()
		n, err := t.pull(ctx, u, buf)
		elapsed := time.Since(start)
		if err != nil {
			return sample{}, err
		}
		if n != b.o.largeSize {
			return sample{}, fmt.Errorf("pulled %d bytes, want %d", n, b.o.largeSize)
		}
		out := sample{Value: float64(n) / elapsed.Seconds() / 1e6, Bytes: n, Seconds: elapsed.Seconds()}
		cpu.stop(&out)
		return out, nil
	}
	return &scenario{
		key: "large_pull", title: "large-blob pull (" + formatSize(b.o.largeSize) + ")", unit: "MB/s",
		rule: rule{against: targetLimit, ratio: 0.9}, limit: true,
		prepare: func(ctx context.Context, t *target) error {
			if b.large[t.name] != "" {
				return nil // the push scenario left one
			}
			_, err := b.largePush(ctx, t, b.o.largeSize, "pull")
			return err
		},
		warm: func(ctx context.Context, t *target) error {
			_, err := pull(ctx, t)
			return err
		},
		measure: func(ctx context.Context, t *target, _ int) (sample, error) { return pull(ctx, t) },
	}
}

// rssScenario records each server's peak VmRSS while it receives one
// -rss-size streamed push.
func (b *bench) rssScenario() *scenario {
	if b.o.rssSize == 0 {
		return nil
	}
	return &scenario{
		key: "push_peak_rss", title: "peak RSS during " + formatSize(b.o.rssSize) + " push", unit: "MiB",
		rule: rule{ceiling: 100}, once: true,
		measure: func(ctx context.Context, t *target, _ int) (sample, error) { return b.peakRSS(ctx, t) },
	}
}

func (b *bench) peakRSS(ctx context.Context, t *target) (sample, error) {
	if t.proc == nil {
		return sample{}, errors.New("no process to sample")
	}
	pid := t.proc.pid()
	s := newPatternStream(b.block, "berth-bench "+b.nonce+" "+t.name+" rss\n", b.o.rssSize)
	d := s.digest()
	peak, err := procRSS(pid)
	if err != nil {
		return sample{}, err
	}
	var mu sync.Mutex
	observe := func() {
		if r, err := procRSS(pid); err == nil {
			mu.Lock()
			peak = max(peak, r)
			mu.Unlock()
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				observe()
			}
		}
	})
	cpu := startCPU(t)
	start := time.Now()
	err = t.pushStream(ctx, repoRSS, s, d)
	elapsed := time.Since(start)
	close(done)
	wg.Wait()
	observe()
	if err != nil {
		return sample{}, err
	}
	out := sample{Value: float64(peak) / (1 << 20), Bytes: b.o.rssSize, Seconds: elapsed.Seconds()}
	cpu.stop(&out)
	return out, nil
}
