package registry

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/metastore"
)

// Metrics are the service's series. A nil *Metrics records nothing.
type Metrics struct {
	uploadsExpired prometheus.Counter
	orphansSwept   prometheus.Counter
}

// NewMetrics registers the service's series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		uploadsExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_upload_sessions_expired_total",
			Help: "Idle upload sessions removed after the upload expiry.",
		}),
		orphansSwept: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_upload_orphans_swept_total",
			Help: "Upload data in the blob store without a session (left by a crash), removed by the sweeper.",
		}),
	}
	for _, c := range []prometheus.Collector{m.uploadsExpired, m.orphansSwept} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register registry metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) expired(sessions, orphans int) {
	if m == nil {
		return
	}
	m.uploadsExpired.Add(float64(sessions))
	m.orphansSwept.Add(float64(orphans))
}

// uploadStats reports the open upload sessions of the whole registry (all
// nodes: they live in the database) when /metrics is scraped.
type uploadStats struct {
	store       metastore.UploadStore
	log         *slog.Logger
	timeout     time.Duration
	open, bytes *prometheus.Desc
}

// RegisterUploadStats adds berth_upload_sessions_open and
// berth_upload_sessions_bytes to reg, read from store at each scrape (one
// aggregate query, given at most timeout). A scrape while the database is
// unreachable omits them and logs why, rather than failing the scrape.
func RegisterUploadStats(reg prometheus.Registerer, store metastore.UploadStore, log *slog.Logger, timeout time.Duration) error {
	c := &uploadStats{store: store, log: log, timeout: timeout,
		open: prometheus.NewDesc("berth_upload_sessions_open",
			"Upload sessions in progress in the registry (every node's), as the database holds them.", nil, nil),
		bytes: prometheus.NewDesc("berth_upload_sessions_bytes",
			"Bytes received so far by the upload sessions in progress.", nil, nil),
	}
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("register upload session metrics: %w", err)
	}
	return nil
}

func (c *uploadStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.bytes
}

func (c *uploadStats) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.store.UploadStats(ctx)
	if err != nil {
		c.log.Warn("upload session metrics not reported", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(st.Open))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
}
