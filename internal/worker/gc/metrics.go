package gc

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the collector's series, recorded for every pass that is not
// a dry run. A nil *Metrics records nothing.
type Metrics struct {
	reclaimed prometheus.Counter
	blobs     prometheus.Counter
	links     prometheus.Counter
	orphans   prometheus.Counter
	duration  prometheus.Histogram
}

// NewMetrics registers the collector's series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		reclaimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_gc_reclaimed_bytes_total",
			Help: "Bytes deleted from the blob store by garbage collection (blobs and orphaned bytes).",
		}),
		blobs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_gc_blobs_deleted_total",
			Help: "Blobs no repository linked any more, deleted by garbage collection.",
		}),
		links: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_gc_links_removed_total",
			Help: "Repository links to blobs no manifest referenced, removed by garbage collection.",
		}),
		orphans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_gc_orphans_deleted_total",
			Help: "Blobs in the blob store without metadata (left by a crash), deleted by garbage collection.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "berth_gc_pass_duration_seconds",
			Help:    "Duration of garbage-collection passes run by this process.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms … ~44 min
		}),
	}
	for _, c := range []prometheus.Collector{m.reclaimed, m.blobs, m.links, m.orphans, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register gc metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observe(r Report) {
	if m == nil {
		return
	}
	m.reclaimed.Add(float64(r.ReclaimedBytes()))
	m.blobs.Add(float64(r.BlobsDeleted))
	m.links.Add(float64(r.LinksRemoved))
	m.orphans.Add(float64(r.OrphansDeleted))
	m.duration.Observe(r.Duration.Seconds())
}

// Reclaimed is the reclaimed-bytes counter, for tests and status.
func (m *Metrics) Reclaimed() prometheus.Counter { return m.reclaimed }
