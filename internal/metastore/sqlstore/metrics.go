package sqlstore

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the store's series: how well group commit batches writes,
// what each commit (with its fsync) costs, and how often PostgreSQL's
// serializable writes ran again. A nil *Metrics records nothing.
type Metrics struct {
	batchSize     prometheus.Histogram
	commitLatency prometheus.Histogram
	retries       prometheus.Counter
}

// NewMetrics registers the store's series on reg. Build them once per
// registry and share them between stores opened on it.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "berth_sqlstore_commit_batch_size",
			Help:    "Writes per committed transaction (group commit on SQLite; always 1 on PostgreSQL).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 … 256 (maxBatch)
		}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "berth_sqlstore_commit_duration_seconds",
			Help:    "Time from BEGIN to a durable COMMIT of one write transaction.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_sqlstore_write_retries_total",
			Help: "Write transactions run again after a serialization failure or deadlock (PostgreSQL).",
		}),
	}
	for _, c := range []prometheus.Collector{m.batchSize, m.commitLatency, m.retries} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register store metrics: %w", err)
		}
	}
	return m, nil
}

// committed records one committed transaction of n writes.
func (m *Metrics) committed(n int, took time.Duration) {
	if m == nil {
		return
	}
	m.batchSize.Observe(float64(n))
	m.commitLatency.Observe(took.Seconds())
}

// retried records one write run again.
func (m *Metrics) retried() {
	if m == nil {
		return
	}
	m.retries.Inc()
}
