package worker

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the job runner's series. A nil *Metrics records nothing.
type Metrics struct {
	runs        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
}

// NewMetrics registers the runner's series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_job_runs_total",
			Help: "Background job runs on this node, by job and outcome (success or error).",
		}, []string{"job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "berth_job_duration_seconds",
			Help:    "Duration of background job runs on this node.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1 ms … ~4.4 min
		}, []string{"job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "berth_job_last_success_timestamp_seconds",
			Help: "Unix time at which the job last succeeded on this node.",
		}, []string{"job"}),
	}
	for _, c := range []prometheus.Collector{m.runs, m.duration, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register worker metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observe(job string, err error, took time.Duration, now time.Time) {
	if m == nil {
		return
	}
	outcome := "success"
	if err != nil {
		outcome = "error"
	} else {
		m.lastSuccess.WithLabelValues(job).Set(float64(now.UnixNano()) / 1e9)
	}
	m.runs.WithLabelValues(job, outcome).Inc()
	m.duration.WithLabelValues(job).Observe(took.Seconds())
}

// Runs returns the run counter of job with outcome, for tests and status.
func (m *Metrics) Runs(job, outcome string) prometheus.Counter {
	return m.runs.WithLabelValues(job, outcome)
}
