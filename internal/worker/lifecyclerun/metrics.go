package lifecyclerun

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the lifecycle runs' series. A nil *Metrics records nothing.
type Metrics struct {
	expired  prometheus.Counter
	archived prometheus.Counter
	skipped  prometheus.Counter
	runs     *prometheus.CounterVec
	errors   prometheus.Counter
	previews *prometheus.CounterVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_lifecycle_images_expired_total",
			Help: "Images deleted by lifecycle policy runs.",
		}),
		archived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_lifecycle_images_archived_total",
			Help: "Images moved to the archive storage class by lifecycle policy runs (the image a rule chose; images archived with it are not counted).",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_lifecycle_actions_skipped_total",
			Help: "Lifecycle decisions not carried out because the image changed (re-tagged, pulled, restored, deleted) after the evaluation.",
		}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_lifecycle_runs_total",
			Help: "Lifecycle policy evaluations of one repository, by result (success or error).",
		}, []string{"result"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_lifecycle_errors_total",
			Help: "Errors of lifecycle runs and previews (a repository whose run or preview failed).",
		}),
		previews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_lifecycle_previews_total",
			Help: "Lifecycle policy previews computed, by final status (COMPLETE or FAILED).",
		}, []string{"status"}),
	}
	for _, c := range []prometheus.Collector{m.expired, m.archived, m.skipped, m.runs, m.errors, m.previews} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register lifecycle metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) run(s RepositoryRun, err error) {
	if m == nil {
		return
	}
	m.expired.Add(float64(s.Expired))
	m.archived.Add(float64(s.Archived))
	m.skipped.Add(float64(s.Skipped))
	if err != nil {
		m.runs.WithLabelValues("error").Inc()
		m.errors.Inc()
		return
	}
	m.runs.WithLabelValues("success").Inc()
}

func (m *Metrics) preview(status string) {
	if m == nil {
		return
	}
	m.previews.WithLabelValues(status).Inc()
	if status != "COMPLETE" {
		m.errors.Inc()
	}
}
