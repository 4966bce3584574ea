package events

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/metastore"
)

// Metrics are the dispatcher's series. A nil *Metrics records nothing. The
// backlog gauges are set by the node running the dispatcher.
type Metrics struct {
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	unrouted   prometheus.Gauge
	pending    prometheus.Gauge
	dead       prometheus.Gauge
	lag        prometheus.Gauge
}

// Delivery outcomes (label "outcome").
const (
	outcomeDelivered    = "delivered"
	outcomeRetry        = "retry"
	outcomeDeadLettered = "dead_lettered"
)

// NewMetrics registers the dispatcher's series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_event_deliveries_total",
			Help: "Event delivery attempts by sink type (webhook, nats) and outcome (delivered, retry, dead_lettered).",
		}, []string{"sink_type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "berth_event_delivery_latency_seconds",
			Help:    "Time from an event's change to its delivery, by sink type.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms … ~43 min
		}, []string{"sink_type"}),
		unrouted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_events_unrouted",
			Help: "Outbox events not yet routed to their sinks.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_event_deliveries_pending",
			Help: "Event deliveries waiting for their turn or a retry.",
		}),
		dead: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_event_dead_letters",
			Help: "Event deliveries dead-lettered, waiting for the operator (berth admin events dead-letters).",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_events_oldest_undelivered_age_seconds",
			Help: "Age of the oldest event not yet delivered to every sink (dead letters excluded); 0 when none.",
		}),
	}
	for _, c := range []prometheus.Collector{m.deliveries, m.latency, m.unrouted, m.pending, m.dead, m.lag} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register event metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) delivered(sinkType, outcome string, latency time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(sinkType, outcome).Inc()
	if outcome == outcomeDelivered {
		m.latency.WithLabelValues(sinkType).Observe(latency.Seconds())
	}
}

func (m *Metrics) backlog(st metastore.EventStats, now time.Time) {
	if m == nil {
		return
	}
	m.unrouted.Set(float64(st.Unrouted))
	m.pending.Set(float64(st.Pending))
	m.dead.Set(float64(st.Dead))
	lag := 0.0
	if !st.OldestPending.IsZero() {
		lag = max(now.Sub(st.OldestPending).Seconds(), 0)
	}
	m.lag.Set(lag)
}
