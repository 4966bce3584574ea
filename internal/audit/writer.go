package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/metastore"
)

// The writer keeps audit writes off the request path: requests put entries
// on a bounded queue, one goroutine appends them in batches (one
// transaction per batch, at least every FlushInterval). When the queue is
// full, requests wait for room (backpressure) rather than lose records; a
// record is dropped only when the waiting request is abandoned by its
// client or the trail is closed, and a batch only when the database keeps
// refusing it; both are counted (berth_audit_records_dropped_total) and
// logged.

// Writer defaults.
const (
	DefaultQueueSize     = 8192
	DefaultBatchSize     = 512
	DefaultFlushInterval = 100 * time.Millisecond
	// writeAttempts bounds the appends of one batch before it is dropped.
	writeAttempts = 5
)

// Metrics are the trail's series. A nil *Metrics records nothing.
type Metrics struct {
	written prometheus.Counter
	dropped prometheus.Counter
	errors  prometheus.Counter
	queue   prometheus.GaugeFunc
	queueFn func() float64
}

// NewMetrics registers the trail's series on reg; queueLen reports the
// writer's queue (set by New).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_audit_records_written_total",
			Help: "Audit records appended to the trail.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_audit_records_dropped_total",
			Help: "Audit records lost: abandoned while waiting for queue room, or in a batch the database refused repeatedly.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_audit_write_errors_total",
			Help: "Failed appends of a batch of audit records (each retried up to 5 times).",
		}),
	}
	m.queue = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "berth_audit_queue_length",
		Help: "Audit records waiting to be written.",
	}, func() float64 {
		if m.queueFn == nil {
			return 0
		}
		return m.queueFn()
	})
	for _, c := range []prometheus.Collector{m.written, m.dropped, m.errors, m.queue} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("audit metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) add(c func(*Metrics) prometheus.Counter, n int) {
	if m != nil && n > 0 {
		c(m).Add(float64(n))
	}
}

// writer is the batching queue in front of the store.
type writer struct {
	store    metastore.AuditStore
	log      *slog.Logger
	metrics  *Metrics
	queue    chan metastore.AuditEntry
	batch    int
	interval time.Duration

	mu     sync.RWMutex // held shared by senders, exclusively to close
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

func newWriter(store metastore.AuditStore, log *slog.Logger, m *Metrics, queue, batch int, interval time.Duration) *writer {
	w := &writer{store: store, log: log, metrics: m, queue: make(chan metastore.AuditEntry, queue),
		batch: batch, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	if m != nil {
		m.queueFn = func() float64 { return float64(len(w.queue)) }
	}
	go w.run()
	return w
}

// enqueue waits for room on the queue, or until ctx ends.
func (w *writer) enqueue(ctx context.Context, e metastore.AuditEntry) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.metrics.add(func(m *Metrics) prometheus.Counter { return m.dropped }, 1)
		w.log.Error("audit record dropped: the trail is closed", "event", e.EventName)
		return
	}
	select {
	case w.queue <- e: // room: the record goes in whether or not its client is still there
		return
	default:
	}
	select {
	case w.queue <- e:
	case <-ctx.Done():
		w.metrics.add(func(m *Metrics) prometheus.Counter { return m.dropped }, 1)
		w.log.Error("audit record dropped: request abandoned while the audit queue was full", "event", e.EventName)
	}
}

// run appends batches until close, then drains the queue.
func (w *writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	buf := make([]metastore.AuditEntry, 0, w.batch)
	for {
		select {
		case e := <-w.queue:
			buf = append(buf, e)
			if len(buf) >= w.batch {
				buf = w.flush(buf)
			}
		case <-t.C:
			buf = w.flush(buf)
		case <-w.stop:
			for {
				select {
				case e := <-w.queue:
					buf = append(buf, e)
					if len(buf) >= w.batch {
						buf = w.flush(buf)
					}
				default:
					w.flush(buf)
					return
				}
			}
		}
	}
}

// flush appends buf, retrying a few times, and returns it emptied.
func (w *writer) flush(buf []metastore.AuditEntry) []metastore.AuditEntry {
	if len(buf) == 0 {
		return buf
	}
	var err error
	for attempt := 0; attempt < writeAttempts; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = w.store.AppendAudit(ctx, buf)
		cancel()
		if err == nil {
			w.metrics.add(func(m *Metrics) prometheus.Counter { return m.written }, len(buf))
			return buf[:0]
		}
		w.metrics.add(func(m *Metrics) prometheus.Counter { return m.errors }, 1)
	}
	w.metrics.add(func(m *Metrics) prometheus.Counter { return m.dropped }, len(buf))
	w.log.Error("audit records dropped: the database refused them", "count", len(buf), "err", err)
	return buf[:0]
}

// close stops accepting records, writes those queued and waits for the
// writes, or until ctx ends.
func (w *writer) close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.stop)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: records still queued at shutdown: %w", ctx.Err())
	}
}
