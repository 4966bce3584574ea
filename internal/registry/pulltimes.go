package registry

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// Pull-time tracking (ECR's lastRecordedPullTime).
//
// A pull must not cost a database write: pulls are the hottest path, and
// SQLite has one writer. Each node keeps, in memory, the latest pull time of
// every (image, puller) it served since its last flush, and writes them in
// one batch every flush interval, when the buffer fills, and on shutdown.
// The write moves a stored time only forward and only by more than the
// flush interval, so nodes flushing in any order agree and an image pulled
// without pause costs one row update per interval, not one per pull.
// Pullers are kept apart in the buffer until the flush so that pulls by
// principals on the registry's exclusion list (checked at flush time
// against the database, the same list for every node) never count, even
// when their pull was the latest.

// Pull-time defaults.
const (
	DefaultPullTimeFlush      = 10 * time.Second
	DefaultPullTimeMaxPending = 1 << 16
)

// pullShards spreads the buffer over independent locks.
const pullShards = 16

// PullTimeOptions configures a PullTimes. Store is required.
type PullTimeOptions struct {
	Store metastore.PullTimeStore
	// Flush is the time between batched writes and the precision of the
	// recorded times (default DefaultPullTimeFlush).
	Flush time.Duration
	// MaxPending bounds the (image, puller) pairs held between flushes
	// (default DefaultPullTimeMaxPending). A full buffer starts a flush;
	// pulls of pairs not yet held are not recorded until it has swapped
	// the buffer out (counted in Metrics).
	MaxPending int
	Logger     *slog.Logger
	Clock      func() time.Time
	Metrics    *PullTimeMetrics
}

// PullTimes buffers pull times and writes them in batches. A nil
// *PullTimes records nothing. It is safe for concurrent use.
type PullTimes struct {
	o        PullTimeOptions
	perShard int
	seed     maphash.Seed
	shards   [pullShards]pullShard
	full     chan struct{} // wakes Run when a shard is full
	flushing sync.Mutex    // one flush at a time
}

type pullShard struct {
	mu sync.Mutex
	m  map[pullKey]pullVal
}

// pullKey is one image pulled by one puller.
type pullKey struct {
	repoID int64
	digest digest.Digest
	puller puller
}

// puller is an IAM user (whom an exclusion can name) by account and lower
// case name; the zero puller is everyone else.
type puller struct{ account, user string }

type pullVal struct {
	account string // the registry, whose exclusion list applies
	at      time.Time
}

// NewPullTimes builds a buffer; Run flushes it on schedule.
func NewPullTimes(o PullTimeOptions) (*PullTimes, error) {
	if o.Store == nil {
		return nil, errors.New("registry: PullTimeOptions.Store is required")
	}
	if o.Flush <= 0 {
		o.Flush = DefaultPullTimeFlush
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultPullTimeMaxPending
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	p := &PullTimes{o: o, perShard: max(1, o.MaxPending/pullShards), seed: maphash.MakeSeed(), full: make(chan struct{}, 1)}
	for i := range p.shards {
		p.shards[i].m = map[pullKey]pullVal{}
	}
	return p, nil
}

// pullerOf names who in the buffer; only IAM users can be excluded.
func pullerOf(who auth.Principal) puller {
	if who.Type != auth.TypeIAMUser {
		return puller{}
	}
	return puller{who.AccountID, strings.ToLower(who.UserName)}
}

// Record notes that who pulled image d of repository repoID (in account's
// registry) at at. It never blocks on I/O.
func (p *PullTimes) Record(account string, repoID int64, d digest.Digest, who auth.Principal, at time.Time) {
	if p == nil {
		return
	}
	p.record(pullKey{repoID: repoID, digest: d, puller: pullerOf(who)}, pullVal{account: account, at: at})
}

// record keeps the later of v and what the buffer holds for k.
func (p *PullTimes) record(k pullKey, v pullVal) {
	sh := &p.shards[maphash.String(p.seed, string(k.digest))%pullShards]
	sh.mu.Lock()
	held, ok := sh.m[k]
	switch {
	case ok && !v.at.After(held.at):
	case ok || len(sh.m) < p.perShard:
		sh.m[k] = v
	default:
		sh.mu.Unlock()
		p.o.Metrics.drop()
		select {
		case p.full <- struct{}{}:
		default:
		}
		return
	}
	sh.mu.Unlock()
}

// Run flushes every Flush interval, and at once when the buffer fills,
// until ctx ends. It does not flush at the end: the caller does, once
// nothing serves pulls any more.
func (p *PullTimes) Run(ctx context.Context) {
	t := time.NewTicker(p.o.Flush)
	defer t.Stop()
	full := p.full
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-full:
		}
		err := p.Flush(ctx)
		if err != nil && ctx.Err() == nil {
			p.o.Logger.Warn("pull times not recorded; retrying at the next flush", "err", err)
		}
		// After a failure the buffer refills from what failed: retry on
		// the schedule, not in a loop against a store that is down.
		full = p.full
		if err != nil {
			full = nil
		}
	}
}

// pending is one buffered pull.
type pending struct {
	k pullKey
	v pullVal
}

// Flush writes what the buffer holds. Pulls it could not write go back
// into the buffer for the next flush.
func (p *PullTimes) Flush(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.flushing.Lock()
	defer p.flushing.Unlock()
	var batch []pending
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		m := sh.m
		sh.m = make(map[pullKey]pullVal, len(m))
		sh.mu.Unlock()
		for k, v := range m {
			batch = append(batch, pending{k, v})
		}
	}
	if len(batch) == 0 {
		return nil
	}
	start := p.o.Clock()
	pulls, excluded, err := p.latest(ctx, batch)
	n := 0
	if err == nil {
		n, err = p.o.Store.RecordPullTimes(ctx, pulls, p.o.Flush)
	}
	p.o.Metrics.flushed(n, excluded, p.o.Clock().Sub(start), err)
	if err != nil {
		// Rewriting what a partial write already stored is harmless:
		// times only move forward.
		for _, b := range batch {
			p.record(b.k, b.v)
		}
		return fmt.Errorf("record pull times: %w", err)
	}
	return nil
}

// latest drops excluded pullers and keeps each image's latest pull.
func (p *PullTimes) latest(ctx context.Context, batch []pending) ([]metastore.PullTime, int, error) {
	exclusions := map[string]map[puller]bool{} // registry -> excluded pullers
	type image struct {
		repoID int64
		digest digest.Digest
	}
	newest := map[image]time.Time{}
	excluded := 0
	for _, b := range batch {
		if b.k.puller != (puller{}) {
			ex, ok := exclusions[b.v.account]
			if !ok {
				var err error
				if ex, err = p.excludedPullers(ctx, b.v.account); err != nil {
					return nil, 0, err
				}
				exclusions[b.v.account] = ex
			}
			if ex[b.k.puller] {
				excluded++
				continue
			}
		}
		img := image{b.k.repoID, b.k.digest}
		if b.v.at.After(newest[img]) {
			newest[img] = b.v.at
		}
	}
	out := make([]metastore.PullTime, 0, len(newest))
	for img, at := range newest {
		out = append(out, metastore.PullTime{RepositoryID: img.repoID, Digest: img.digest, At: at})
	}
	return out, excluded, nil
}

// excludedPullers loads a registry's exclusions as pullers. A user is
// named by account and name (IAM user names are unique in an account
// whatever their path, and compared without case); role ARNs name no
// Berth principal.
func (p *PullTimes) excludedPullers(ctx context.Context, account string) (map[puller]bool, error) {
	out := map[puller]bool{}
	last := ""
	for {
		page, err := p.o.Store.ListPullTimeExclusions(ctx, account, metastore.Page{Last: last, Limit: MaxPullTimeExclusions})
		if err != nil {
			return nil, fmt.Errorf("list pull time exclusions of %s: %w", account, err)
		}
		for _, e := range page {
			if who, ok := exclusionPuller(e.PrincipalARN); ok {
				out[who] = true
			}
			last = e.PrincipalARN
		}
		if len(page) < MaxPullTimeExclusions {
			return out, nil
		}
	}
}

// exclusionPuller turns arn:aws:iam::<account>:user/[path/]<name> into a
// puller.
func exclusionPuller(arn string) (puller, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" {
		return puller{}, false
	}
	res, ok := strings.CutPrefix(parts[5], "user/")
	if !ok {
		return puller{}, false
	}
	name := res[strings.LastIndexByte(res, '/')+1:]
	return puller{parts[4], strings.ToLower(name)}, name != ""
}

// PullTimeMetrics are the pull-time buffer's series. A nil *PullTimeMetrics
// records nothing.
type PullTimeMetrics struct {
	written, excluded, dropped prometheus.Counter
	flushes                    *prometheus.CounterVec
	duration                   prometheus.Histogram
}

// NewPullTimeMetrics registers the series on reg.
func NewPullTimeMetrics(reg prometheus.Registerer) (*PullTimeMetrics, error) {
	m := &PullTimeMetrics{
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_pull_time_images_written_total",
			Help: "Images whose recorded pull time a flush moved forward."}),
		excluded: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_pull_time_excluded_total",
			Help: "Buffered pulls not recorded because the puller is on the registry's pull time update exclusion list."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_pull_time_dropped_total",
			Help: "Pulls not recorded because the pull-time buffer was full."}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_pull_time_flushes_total",
			Help: "Batched pull-time writes, by result (ok, error)."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "berth_pull_time_flush_duration_seconds",
			Help: "Time to write one batch of pull times.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}),
	}
	for _, c := range []prometheus.Collector{m.written, m.excluded, m.dropped, m.flushes, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register pull time metrics: %w", err)
		}
	}
	return m, nil
}

func (m *PullTimeMetrics) drop() {
	if m != nil {
		m.dropped.Inc()
	}
}

func (m *PullTimeMetrics) flushed(written, excluded int, took time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.flushes.WithLabelValues("error").Inc()
		return
	}
	m.flushes.WithLabelValues("ok").Inc()
	m.written.Add(float64(written))
	m.excluded.Add(float64(excluded))
	m.duration.Observe(took.Seconds())
}
