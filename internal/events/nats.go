package events

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/berth-registry/berth/internal/metastore"
)

// NATS message headers. Nats-Msg-Id is the event id, so a JetStream stream
// capturing the subject drops a redelivered event within its duplicate
// window.
const (
	HeaderNATSMsgID  = "Nats-Msg-Id"
	HeaderRepository = "Berth-Repository"
)

// natsSink publishes events to a subject on a NATS server. An event counts
// as delivered once the server has acknowledged a flush after it, i.e. it
// received the message (core NATS hands it to the subscribers connected
// at that moment).
type natsSink struct {
	url, subject, name string
	timeout            time.Duration

	mu sync.Mutex
	nc *nats.Conn
}

// conn returns the live connection, connecting when there is none.
func (n *natsSink) conn() (*nats.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc != nil && !n.nc.IsClosed() {
		return n.nc, nil
	}
	nc, err := nats.Connect(n.url,
		nats.Name("berth events "+n.name),
		nats.Timeout(n.timeout),
		nats.MaxReconnects(-1),
		// While disconnected, publishing fails instead of buffering, so an
		// event is never counted as delivered before the server has it.
		nats.ReconnectBufSize(-1),
	)
	if err != nil {
		return nil, err
	}
	n.nc = nc
	return nc, nil
}

func (n *natsSink) send(ctx context.Context, ev metastore.Event, body []byte, attempt int) error {
	nc, err := n.conn()
	if err != nil {
		return &retryError{msg: "connect: " + err.Error()}
	}
	msg := nats.NewMsg(n.subject)
	msg.Data = body
	msg.Header.Set(HeaderNATSMsgID, ev.ID)
	msg.Header.Set(HeaderEventID, ev.ID)
	msg.Header.Set(HeaderDetailType, ev.DetailType)
	msg.Header.Set(HeaderRepository, ev.Repository)
	msg.Header.Set(HeaderAttempt, fmt.Sprint(attempt))
	if err := nc.PublishMsg(msg); err != nil {
		return &retryError{msg: "publish: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	if err := nc.FlushWithContext(ctx); err != nil {
		return &retryError{msg: "flush: " + err.Error()}
	}
	return nil
}

func (n *natsSink) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc != nil {
		n.nc.Close()
		n.nc = nil
	}
}
