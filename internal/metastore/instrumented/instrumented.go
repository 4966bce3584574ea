// Package instrumented wraps a metastore.Store so that every call is timed:
// the metadata store's latency, per operation, as Prometheus series. The
// wrapper is generated (store_gen.go, by ./gen) from the metastore.Store
// interface, so a new store method is instrumented by rerunning
// `go generate ./internal/metastore/instrumented`.
package instrumented

//go:generate go run ./gen store_gen.go

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/metastore"
)

// Metrics are the store-latency series.
type Metrics struct {
	duration *prometheus.HistogramVec
	errs     *prometheus.CounterVec
	// observers caches the histogram child of each operation, created on
	// its first call so that /metrics lists only operations in use.
	observers [len(operations)]atomic.Pointer[prometheus.Observer]
}

// buckets span an in-memory SQLite read (tens of microseconds) to a
// PostgreSQL write retried under contention (seconds).
var buckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "berth_metastore_operation_duration_seconds",
			Help:    "Time of one metadata-store call, by operation (the metastore.Store method), queueing for a write included.",
			Buckets: buckets,
		}, []string{"operation"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_metastore_operation_errors_total",
			Help: "Metadata-store calls that failed, by operation and kind: unavailable (the database is unreachable), canceled (the caller gave up) or other (any other error, answers such as not-found included).",
		}, []string{"operation", "kind"}),
	}
	for _, c := range []prometheus.Collector{m.duration, m.errs} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metadata-store metrics: %w", err)
		}
	}
	return m, nil
}

// observe records one call of op that started at start.
func (m *Metrics) observe(op int, start time.Time, err error) {
	if m == nil {
		return
	}
	took := time.Since(start)
	o := m.observers[op].Load()
	if o == nil {
		h := m.duration.WithLabelValues(operations[op])
		m.observers[op].CompareAndSwap(nil, &h)
		o = m.observers[op].Load()
	}
	(*o).Observe(took.Seconds())
	if err != nil {
		m.errs.WithLabelValues(operations[op], errorKind(err)).Inc()
	}
}

func errorKind(err error) string {
	switch {
	case errors.Is(err, metastore.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	default:
		return "other"
	}
}

// Store is a metastore.Store whose calls are timed.
type Store struct {
	next metastore.Store
	m    *Metrics
}

// Wrap returns next with every call recorded in m. Durations come from the
// monotonic clock (time.Since), not from an injected wall clock: a test
// clock that stands still must not make every call look free.
func Wrap(next metastore.Store, m *Metrics) metastore.Store {
	return &Store{next: next, m: m}
}

func (s *Store) now() time.Time { return time.Now() }
