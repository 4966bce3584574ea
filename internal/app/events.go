package app

import (
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/metastore"
)

// newDispatcher builds the event dispatcher, run as the event-delivery
// job; nil when events are off (--events=false).
func (a *App) newDispatcher() (*events.Dispatcher, error) {
	if !a.cfg.Events {
		return nil, nil
	}
	m, err := events.NewMetrics(a.metrics)
	if err != nil {
		return nil, err
	}
	return events.New(events.Options{
		Store: a.meta, Renderer: events.Renderer{Region: a.cfg.Region},
		OpenSecret: func(k metastore.EventSink) ([]byte, error) {
			return a.sealer.Open(k.SecretCiphertext, events.SecretAAD(k.AccountID, k.Name))
		},
		Logger: a.log.With("component", "events"), Clock: a.now, Metrics: m, Retention: a.cfg.EventsRetention,
	})
}

// wakeEvents wakes this node's dispatcher after it committed events; the
// dispatcher delivers only where it holds the job's claim, and polls
// anyway, so a wake on another node's behalf is merely early.
func (a *App) wakeEvents() {
	if d := a.events.Load(); d != nil {
		d.Wake()
	}
}
