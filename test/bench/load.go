package main

import (
	"context"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// sample is one timed run against one target.
type sample struct {
	Value     float64 `json:"value"` // in the metric's unit
	Ops       int64   `json:"ops,omitempty"`
	Bytes     int64   `json:"bytes,omitempty"`
	Seconds   float64 `json:"seconds"`
	P50Ms     float64 `json:"p50_ms,omitempty"`
	P99Ms     float64 `json:"p99_ms,omitempty"`
	ServerCPU float64 `json:"server_cpu_s"` // CPU seconds the server process used; 0 for the in-process limit
	ClientCPU float64 `json:"client_cpu_s"` // CPU seconds this program used (includes the limit server)
	// ClientSignUs is the client CPU, in µs, of making and SigV4-signing
	// one request, measured alone after the run (ECR API rows only).
	ClientSignUs float64 `json:"client_sign_us,omitempty"`
}

// cpuMeter measures the CPU a target's process and this program use over an
// interval.
type cpuMeter struct {
	t              *target
	server, client time.Duration
}

func startCPU(t *target) cpuMeter {
	m := cpuMeter{t: t, client: selfCPU()}
	if t.proc != nil {
		m.server, _ = procCPU(t.proc.pid())
	}
	return m
}

// stop fills in the sample's CPU fields.
func (m cpuMeter) stop(s *sample) {
	s.ClientCPU = (selfCPU() - m.client).Seconds()
	if m.t.proc != nil {
		if now, err := procCPU(m.t.proc.pid()); err == nil {
			s.ServerCPU = (now - m.server).Seconds()
		}
	}
}

// opFunc performs one operation; it must not block past ctx.
type opFunc func() error

// workerStats is one worker's tally; each worker has its own, allocated
// separately, so counters do not share cache lines.
type workerStats struct {
	hist histogram
	ops  int64
	err  error
}

// runLoad runs workers concurrent loops of their operation for d (or until
// the first error or ctx ends) and returns ops/s over the whole run.
func runLoad(ctx context.Context, t *target, d time.Duration, workers int, newOp func(w int) (opFunc, error)) (sample, error) {
	ops := make([]opFunc, workers)
	for i := range ops {
		op, err := newOp(i)
		if err != nil {
			return sample{}, err
		}
		ops[i] = op
	}
	stats := make([]*workerStats, workers)
	var stop atomic.Bool
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	var wg sync.WaitGroup
	cpu := startCPU(t)
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for i, op := range ops {
		st := new(workerStats)
		stats[i] = st
		wg.Go(func() {
			for !stop.Load() {
				t0 := time.Now()
				if err := op(); err != nil {
					st.err = err
					stop.Store(true)
					return
				}
				st.hist.add(time.Since(t0))
				st.ops++
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var s sample
	cpu.stop(&s)
	var h histogram
	for _, st := range stats {
		if st.err != nil && ctx.Err() == nil {
			return sample{}, st.err
		}
		s.Ops += st.ops
		h.merge(&st.hist)
	}
	if err := ctx.Err(); err != nil {
		return sample{}, err
	}
	s.Seconds = elapsed.Seconds()
	s.Value = float64(s.Ops) / s.Seconds
	s.P50Ms = h.quantile(0.50).Seconds() * 1e3
	s.P99Ms = h.quantile(0.99).Seconds() * 1e3
	return s, nil
}

// histogram counts latencies in log-linear buckets: 8 per power of two,
// about 12% resolution, from 1ns to centuries, in 4 KiB.
type histogram [512]uint64

func bucketOf(ns uint64) int {
	if ns < 8 {
		return int(ns)
	}
	e := bits.Len64(ns) - 1 // >= 3
	m := (ns >> (e - 3)) & 7
	return (e-2)*8 + int(m)
}

func bucketLow(i int) uint64 {
	if i < 8 {
		return uint64(i)
	}
	e, m := i/8+2, uint64(i%8)
	return (8 + m) << (e - 3)
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h[bucketOf(uint64(d))]++
}

func (h *histogram) merge(o *histogram) {
	for i := range h {
		h[i] += o[i]
	}
}

// quantile returns the lower bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for _, c := range h {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for i, c := range h {
		seen += c
		if seen >= rank {
			return time.Duration(bucketLow(i))
		}
	}
	return 0
}
