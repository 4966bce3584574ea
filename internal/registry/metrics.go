package registry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
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
