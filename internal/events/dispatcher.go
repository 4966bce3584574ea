package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// Store is what the dispatcher needs of the metadata store.
type Store interface {
	metastore.EventOutbox
	ListEventSinks(ctx context.Context, accountID string) ([]metastore.EventSink, error)
}

// Options configures a Dispatcher. Store and Renderer.Region are required.
type Options struct {
	Store    Store
	Renderer Renderer
	// OpenSecret unseals a webhook sink's signing secret; required when a
	// sink has one.
	OpenSecret func(k metastore.EventSink) ([]byte, error)
	Logger     *slog.Logger
	Clock      func() time.Time
	Metrics    *Metrics
	// Poll is how often an idle dispatcher looks for new events (default
	// 1s); Wake starts a look at once.
	Poll time.Duration
	// Gather is the pause between cycles while events keep coming (default
	// 100ms): under load, events are routed and delivered in batches
	// rather than one by one, which costs the pushes far less. A cycle
	// that filled a batch goes on at once.
	Gather time.Duration
	// Retention is how long an event delivered to every sink stays in the
	// outbox (default 24h).
	Retention time.Duration
	// Streams bounds how many repository streams are delivered at once
	// (default 8).
	Streams int
	// MinBackoff and MaxBackoff bound the delay before retrying a failed
	// event: MinBackoff doubled per failed attempt, at most MaxBackoff, with
	// jitter (defaults 1s and 5m). A receiver's Retry-After can lengthen
	// it up to MaxRetryAfter (default 1h).
	MinBackoff, MaxBackoff, MaxRetryAfter time.Duration
	// HTTPClient sends webhooks; nil means a client without redirects.
	HTTPClient *http.Client
}

// Dispatcher routes and delivers outbox events. Run it as one background
// job for the whole deployment (package worker).
type Dispatcher struct {
	o    Options
	wake chan struct{}

	mu      sync.Mutex
	senders map[int64]sender // by sink id; sinks never change once created
}

// Batch sizes of one dispatch cycle.
const (
	routeBatch    = 500 // events routed per transaction
	dueBatch      = 64  // streams looked at per cycle
	streamBatch   = 200 // events delivered per stream per cycle
	pruneBatch    = 1000
	maintainEvery = time.Minute
	statsEvery    = 5 * time.Second
)

// New builds a Dispatcher.
func New(o Options) (*Dispatcher, error) {
	if o.Store == nil || o.Renderer.Region == "" {
		return nil, errors.New("events: Store and Renderer.Region are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.OpenSecret == nil {
		o.OpenSecret = func(metastore.EventSink) ([]byte, error) { return nil, errors.New("no secret opener configured") }
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Poll, time.Second)
	def(&o.Gather, 100*time.Millisecond)
	def(&o.Retention, 24*time.Hour)
	def(&o.MinBackoff, time.Second)
	def(&o.MaxBackoff, 5*time.Minute)
	def(&o.MaxRetryAfter, time.Hour)
	if o.Streams <= 0 {
		o.Streams = 8
	}
	if o.HTTPClient == nil {
		o.HTTPClient = newHTTPClient()
	}
	return &Dispatcher{o: o, wake: make(chan struct{}, 1), senders: map[int64]sender{}}, nil
}

// Wake makes a running dispatcher look for events now; it never blocks.
// The store calls it after committing events (sqlstore Options.OnEvents).
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends (the node stops or loses the job's claim),
// then closes its connections and returns nil. Store errors are logged and
// retried on the next poll: they never end the run.
func (d *Dispatcher) Run(ctx context.Context) error {
	defer d.closeSenders(nil)
	var lastMaintain, lastStats time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := d.o.Clock()
		if now.Sub(lastMaintain) >= maintainEvery {
			lastMaintain = now
			d.maintain(ctx, now)
		}
		load, err := d.Cycle(ctx)
		if err != nil && ctx.Err() == nil {
			d.o.Logger.Warn("event dispatch failed; retrying", "err", err)
		}
		if now := d.o.Clock(); now.Sub(lastStats) >= statsEvery {
			lastStats = now
			d.stats(ctx, now)
		}
		// Idle: wait for a wake or the poll. Busy: gather a batch (wakes
		// are ignored meanwhile). A full batch: go on at once.
		wait, wake := d.o.Poll, d.wake
		switch {
		case err != nil:
		case load == Full:
			wait = 0
		case load == Some:
			wait, wake = d.o.Gather, nil
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-timer.C:
		}
	}
}

// Load says how much work a cycle found.
type Load int

// Loads, in increasing order.
const (
	Idle Load = iota // nothing to do
	Some             // some work, all of it done
	Full             // a batch was full: more is waiting
)

// Cycle routes new events and delivers what is due, once.
func (d *Dispatcher) Cycle(ctx context.Context) (Load, error) {
	load := Idle
	for {
		n, err := d.o.Store.RouteEvents(ctx, routeBatch)
		if err != nil {
			return Some, fmt.Errorf("route events: %w", err)
		}
		if n > 0 {
			load = Some
		}
		if n < routeBatch {
			break
		}
	}
	due, err := d.o.Store.DueEventStreams(ctx, d.o.Clock(), dueBatch)
	if err != nil {
		return Some, fmt.Errorf("due event streams: %w", err)
	}
	if len(due) == 0 {
		return load, nil
	}
	load = Some
	if len(due) == dueBatch {
		load = Full
	}
	sinks, err := d.sinks(ctx)
	if err != nil {
		return Some, err
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, d.o.Streams)
		mu   sync.Mutex
		errs []error
	)
	for _, st := range due {
		k, ok := sinks[st.SinkID]
		if !ok {
			continue // deleted since: its queue went with it
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			l, err := d.deliverStream(ctx, k, st)
			mu.Lock()
			load = max(load, l)
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return load, errors.Join(errs...)
}

// sinks loads every sink by id and drops the senders of deleted ones.
func (d *Dispatcher) sinks(ctx context.Context) (map[int64]metastore.EventSink, error) {
	list, err := d.o.Store.ListEventSinks(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list event sinks: %w", err)
	}
	out := make(map[int64]metastore.EventSink, len(list))
	for _, k := range list {
		out[k.ID] = k
	}
	d.closeSenders(out)
	return out, nil
}

// deliverStream delivers the head of one sink's repository stream in
// order, stopping at the first failure, and records the outcome.
func (d *Dispatcher) deliverStream(ctx context.Context, k metastore.EventSink, st metastore.EventStream) (Load, error) {
	head, err := d.o.Store.PendingDeliveries(ctx, k.ID, st.StreamID, streamBatch)
	if err != nil {
		return Some, fmt.Errorf("pending deliveries: %w", err)
	}
	rec := metastore.DeliveryRecord{SinkID: k.ID, StreamID: st.StreamID}
	for _, dl := range head {
		if ctx.Err() != nil {
			break
		}
		err := d.attempt(ctx, k, dl)
		if err == nil {
			rec.Delivered = append(rec.Delivered, dl.Event.Seq)
			d.o.Metrics.delivered(k.Type, outcomeDelivered, d.o.Clock().Sub(dl.Event.Time))
			continue
		}
		if ctx.Err() != nil {
			break // interrupted, not failed: the next run tries again
		}
		rec.Failed = d.failure(k, dl, err)
		break
	}
	// Recorded even when the node is stopping, so nothing delivered is
	// sent twice without need.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.o.Store.RecordDeliveries(rctx, rec); err != nil {
		return Some, fmt.Errorf("record deliveries of sink %s: %w", k.Name, err)
	}
	if len(rec.Delivered) == streamBatch {
		return Full, nil
	}
	return Some, nil
}

// attempt renders and sends one event.
func (d *Dispatcher) attempt(ctx context.Context, k metastore.EventSink, dl metastore.EventDelivery) error {
	s, err := d.sender(k)
	if err != nil {
		return &permanentError{msg: err.Error()}
	}
	body, err := d.o.Renderer.Render(dl.Event)
	if err != nil {
		return &permanentError{msg: err.Error()}
	}
	return s.send(ctx, dl.Event, body, dl.Attempts+1)
}

// failure decides what a failed attempt means: a dead letter when the
// receiver refused the event or the sink's attempt or time limit is
// reached, else a retry after the backoff.
func (d *Dispatcher) failure(k metastore.EventSink, dl metastore.EventDelivery, err error) *metastore.DeliveryFailure {
	now := d.o.Clock()
	attempts := dl.Attempts + 1
	first := dl.FirstAttemptAt
	if first.IsZero() {
		first = now
	}
	f := &metastore.DeliveryFailure{Seq: dl.Event.Seq, At: now, Error: truncate(err.Error(), 1000)}
	var perm *permanentError
	switch {
	case errors.As(err, &perm):
		f.Dead = true
	case k.MaxAttempts > 0 && attempts >= k.MaxAttempts:
		f.Dead, f.Error = true, fmt.Sprintf("%s (attempt %d of %d)", f.Error, attempts, k.MaxAttempts)
	case k.RetryFor > 0 && now.Sub(first) >= k.RetryFor:
		f.Dead, f.Error = true, fmt.Sprintf("%s (still failing %s after the first attempt)", f.Error, k.RetryFor)
	}
	if f.Dead {
		d.o.Metrics.delivered(k.Type, outcomeDeadLettered, 0)
		d.o.Logger.Warn("event dead-lettered", "sink", k.Name, "account", k.AccountID, "event", dl.Event.ID,
			"repository", dl.Event.Repository, "attempts", attempts, "err", f.Error)
		return f
	}
	wait := d.backoff(attempts)
	var re *retryError
	if errors.As(err, &re) && re.after > wait {
		wait = min(re.after, d.o.MaxRetryAfter)
	}
	f.RetryAt = now.Add(wait)
	d.o.Metrics.delivered(k.Type, outcomeRetry, 0)
	d.o.Logger.Info("event delivery failed; will retry", "sink", k.Name, "account", k.AccountID,
		"event", dl.Event.ID, "repository", dl.Event.Repository, "attempt", attempts, "retry_in", wait, "err", f.Error)
	return f
}

// backoff is MinBackoff doubled per failed attempt, capped at MaxBackoff,
// with "equal jitter": half fixed, half random, so retries of many streams
// spread out but never come sooner than half the nominal delay.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := d.o.MinBackoff
	for i := 1; i < attempts && b < d.o.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.o.MaxBackoff)
	return b/2 + rand.N(b/2+1)
}

// sender returns (creating once) the sender of sink k.
func (d *Dispatcher) sender(k metastore.EventSink) (sender, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.senders[k.ID]; ok {
		return s, nil
	}
	var s sender
	switch k.Type {
	case metastore.SinkWebhook:
		var secret []byte
		if len(k.SecretCiphertext) > 0 {
			var err error
			if secret, err = d.o.OpenSecret(k); err != nil {
				return nil, fmt.Errorf("cannot open the sink's signing secret: %w", err)
			}
		}
		s = &webhook{url: k.URL, secret: secret, timeout: k.Timeout, client: d.o.HTTPClient, now: d.o.Clock}
	case metastore.SinkNATS:
		s = &natsSink{url: k.URL, subject: k.Subject, name: k.Name, timeout: k.Timeout}
	default:
		return nil, fmt.Errorf("unknown sink type %q", k.Type)
	}
	d.senders[k.ID] = s
	return s, nil
}

// closeSenders closes the senders of sinks not in keep (all when nil).
func (d *Dispatcher) closeSenders(keep map[int64]metastore.EventSink) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, s := range d.senders {
		if _, ok := keep[id]; !ok {
			s.close()
			delete(d.senders, id)
		}
	}
}

// maintain prunes delivered events past the retention.
func (d *Dispatcher) maintain(ctx context.Context, now time.Time) {
	total := 0
	for ctx.Err() == nil {
		n, err := d.o.Store.MaintainEvents(ctx, now.Add(-d.o.Retention), pruneBatch)
		if err != nil {
			if ctx.Err() == nil {
				d.o.Logger.Warn("event outbox maintenance failed", "err", err)
			}
			return
		}
		total += n
		if n < pruneBatch {
			break
		}
	}
	if total > 0 {
		d.o.Logger.Info("pruned delivered events", "count", total)
	}
}

// stats refreshes the backlog gauges.
func (d *Dispatcher) stats(ctx context.Context, now time.Time) {
	if d.o.Metrics == nil {
		return
	}
	st, err := d.o.Store.EventStats(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.o.Logger.Warn("event stats failed", "err", err)
		}
		return
	}
	d.o.Metrics.backlog(st, now)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
