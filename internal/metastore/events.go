package metastore

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Registry events (EventBridge's "ECR Image Action" and its kin) are
// written by the store itself to an outbox, in the same transaction as the
// change they describe, so no door that changes images can forget one and
// none is lost when a node dies after the commit. A dispatcher (package
// events) routes each outbox event to the sinks configured for its account
// and delivers it, at least once, in order per repository and sink.

// Detail types (EventBridge "detail-type") and action types Berth writes.
const (
	DetailTypeImageAction       = "ECR Image Action"
	DetailTypeReferrerAction    = "ECR Referrer Action"
	DetailTypeImageScan         = "ECR Image Scan"
	DetailTypeReplicationAction = "ECR Replication Action"

	ActionPush               = "PUSH"
	ActionDelete             = "DELETE"
	ActionUpdateStorageClass = "UPDATE_STORAGE_CLASS"

	ResultSuccess = "SUCCESS"
)

// Event is one outbox event: the domain facts of a change. Package events
// renders it as EventBridge JSON (adding the region and the envelope).
type Event struct {
	// Seq is the outbox position, assigned by the store at insert; it
	// orders events (within a repository it is the commit order).
	Seq int64
	// ID is the event's UUID (EventBridge "id"); generated when empty.
	ID         string
	AccountID  string
	Repository string // repository name at the time of the change
	DetailType string // DetailTypeImageAction, ...
	ActionType string // ActionPush, ...; "" for detail types without one
	Result     string // ResultSuccess when empty
	Digest     digest.Digest
	Tag        string // "" when the event concerns no tag
	// ManifestMediaType and ArtifactMediaType describe the image (the
	// manifest's media type; its artifactType or config media type).
	ManifestMediaType string
	ArtifactMediaType string
	// Time is when the change happened; the store's clock when zero.
	Time time.Time
	// Detail holds further detail fields as a JSON object, such as
	// {"target-storage-class":"ARCHIVE"}; nil when none.
	Detail json.RawMessage
}

// Sink types.
const (
	SinkWebhook = "webhook"
	SinkNATS    = "nats"
)

// EventSink is a destination of one account's events with its filters.
type EventSink struct {
	ID        int64 // assigned by the store
	AccountID string
	Name      string // unique in the account
	Type      string // SinkWebhook or SinkNATS
	URL       string // https://… for a webhook, nats://… for NATS
	Subject   string // NATS subject; "" for webhooks
	// SecretCiphertext is the webhook signing secret sealed by the caller;
	// empty when requests are not signed. The store never sees plaintext.
	SecretCiphertext []byte
	// DetailTypes keeps only events of these detail types; empty keeps all.
	DetailTypes []string
	// RepositoryPrefix keeps only events of repositories whose name starts
	// with it; empty keeps all.
	RepositoryPrefix string
	// Timeout bounds one delivery attempt.
	Timeout time.Duration
	// MaxAttempts dead-letters an event after this many failed attempts;
	// 0 means no limit (RetryFor still applies).
	MaxAttempts int
	// RetryFor dead-letters an event still failing this long after its
	// first attempt.
	RetryFor time.Duration
	// CreatedAt: a sink receives events that happen from then on.
	CreatedAt time.Time
}

// Matches reports whether e goes to sink k: same account, the event
// happened after the sink was created, and the filters keep it.
func (k EventSink) Matches(e Event) bool {
	if e.AccountID != k.AccountID || e.Time.Before(k.CreatedAt) {
		return false
	}
	if !strings.HasPrefix(e.Repository, k.RepositoryPrefix) {
		return false
	}
	if len(k.DetailTypes) == 0 {
		return true
	}
	for _, t := range k.DetailTypes {
		if t == e.DetailType {
			return true
		}
	}
	return false
}

// Delivery states.
const (
	DeliveryPending = "pending" // waiting for its turn or a retry
	DeliveryDead    = "dead"    // dead-lettered: kept for the operator to retry or discard
)

// EventDelivery is one event on its way to one sink.
type EventDelivery struct {
	SinkID   int64
	SinkName string
	StreamID int64 // the event's repository stream: deliveries are ordered within it
	Event    Event
	State    string // DeliveryPending or DeliveryDead
	Attempts int
	// FirstAttemptAt and LastAttemptAt are zero before the first attempt.
	FirstAttemptAt time.Time
	LastAttemptAt  time.Time
	LastError      string
	DeadAt         time.Time // zero unless dead
}

// EventStream is one sink's queue of one repository's events that has
// deliveries pending; its head may be attempted from RetryAt.
type EventStream struct {
	SinkID   int64
	StreamID int64
	RetryAt  time.Time
}

// DeliveryRecord is the outcome of delivering part of an EventStream in
// order: the events delivered, then at most one that failed.
type DeliveryRecord struct {
	SinkID, StreamID int64
	Delivered        []int64 // Seq of each delivered event
	// Failed is the event that failed, after the delivered ones; nil when
	// none did.
	Failed *DeliveryFailure
}

// DeliveryFailure is one failed attempt.
type DeliveryFailure struct {
	Seq   int64
	At    time.Time // when the attempt was made
	Error string
	// Dead dead-letters the event; otherwise it is retried from RetryAt
	// and the stream waits until then.
	Dead    bool
	RetryAt time.Time
}

// EventStats describe the outbox's backlog.
type EventStats struct {
	Unrouted int64 // events not yet routed to sinks
	Pending  int64 // deliveries pending
	Dead     int64 // deliveries dead-lettered
	// OldestPending is when the oldest event not yet delivered (unrouted
	// or pending) happened; zero when there is none.
	OldestPending time.Time
}

// EventOutbox is the dispatcher's side of the outbox. Events are written by
// the store's own change methods (PutManifest, DeleteManifest, DeleteTag,
// ...), never through this interface.
type EventOutbox interface {
	// ListEvents returns outbox events with Seq > after, in Seq order, at
	// most limit (positive).
	ListEvents(ctx context.Context, after int64, limit int) ([]Event, error)
	// RouteEvents takes up to limit unrouted events in Seq order, makes a
	// pending delivery of each for every sink that Matches it, and marks
	// them routed; it returns how many events it routed.
	RouteEvents(ctx context.Context, limit int) (int, error)
	// DueEventStreams returns up to limit streams whose RetryAt is not
	// after now, earliest first.
	DueEventStreams(ctx context.Context, now time.Time, limit int) ([]EventStream, error)
	// PendingDeliveries returns the first pending deliveries of a stream,
	// in Seq order, at most limit.
	PendingDeliveries(ctx context.Context, sinkID, streamID int64, limit int) ([]EventDelivery, error)
	// RecordDeliveries removes delivered events from the stream, records
	// a failure (attempts, error, retry time or dead letter) and schedules
	// the stream: due at once after a success or a dead letter, at the
	// failure's RetryAt otherwise. Deliveries already gone are ignored.
	RecordDeliveries(ctx context.Context, r DeliveryRecord) error
	// EventStats reports the backlog.
	EventStats(ctx context.Context) (EventStats, error)
	// MaintainEvents deletes up to limit routed events that happened
	// before before and have no delivery left (pending or dead), and
	// requeues any stream whose pending deliveries have no queue entry; it
	// returns how many events it deleted.
	MaintainEvents(ctx context.Context, before time.Time, limit int) (int, error)
}

// EventSinkStore is the operator's side: sinks and dead letters.
type EventSinkStore interface {
	// CreateEventSink stores k and assigns k.ID; a zero CreatedAt is the
	// store's clock. ErrAlreadyExists when the account has a sink of that
	// name, ErrNotFound when the account does not exist.
	CreateEventSink(ctx context.Context, k *EventSink) error
	// ListEventSinks returns the sinks of an account ("" for every
	// account), by account and name.
	ListEventSinks(ctx context.Context, accountID string) ([]EventSink, error)
	// DeleteEventSink removes a sink with its deliveries; ErrNotFound when
	// missing.
	DeleteEventSink(ctx context.Context, accountID, name string) error
	// ListDeadLetters returns dead-lettered deliveries of an account's
	// sink (sinkName "" for every sink of the account) with event Seq >
	// after, in Seq order (then sink id), at most limit (positive).
	ListDeadLetters(ctx context.Context, accountID, sinkName string, after int64, limit int) ([]EventDelivery, error)
	// RetryDeadLetters makes dead letters pending again, due at once, with
	// fresh attempts; eventIDs selects them (none: every dead letter of
	// the sink). It returns how many it requeued.
	RetryDeadLetters(ctx context.Context, accountID, sinkName string, eventIDs []string) (int, error)
	// DiscardDeadLetters deletes dead letters selected as RetryDeadLetters
	// does and returns how many.
	DiscardDeadLetters(ctx context.Context, accountID, sinkName string, eventIDs []string) (int, error)
}
