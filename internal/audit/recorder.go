package audit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// Options configures a Recorder. Store and Region are required.
type Options struct {
	Store  metastore.AuditStore
	Region string
	Logger *slog.Logger
	Clock  func() time.Time
	// Metrics records the writer's work; nil records nothing.
	Metrics *Metrics
	// RequestID returns the id the HTTP middleware gave the request.
	RequestID func(ctx context.Context) string
	// QueueSize, BatchSize and FlushInterval tune the writer; zero means
	// DefaultQueueSize, DefaultBatchSize and DefaultFlushInterval.
	QueueSize     int
	BatchSize     int
	FlushInterval time.Duration
}

// Recorder writes the audit trail.
type Recorder struct {
	o Options
	w *writer
}

// New starts a Recorder; Close stops it.
func New(o Options) (*Recorder, error) {
	if o.Store == nil || o.Region == "" {
		return nil, errors.New("audit: a store and a region are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.RequestID == nil {
		o.RequestID = func(context.Context) string { return "" }
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	return &Recorder{o: o, w: newWriter(o.Store, o.Logger, o.Metrics, o.QueueSize, o.BatchSize, o.FlushInterval)}, nil
}

// Close writes the records still queued; calls after it drop theirs.
func (r *Recorder) Close(ctx context.Context) error { return r.w.close(ctx) }

// Middleware gives every request a Note and, once the handler returns,
// records the call it describes. It goes inside the request-id middleware.
func (r *Recorder) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := r.o.Clock()
		n := &Note{}
		ctx := WithNote(req.Context(), n)
		next.ServeHTTP(w, req.WithContext(ctx))
		if !n.recordable() {
			return
		}
		rec := r.callRecord(ctx, n, start)
		e, err := rec.Entry()
		if err != nil {
			r.o.Logger.ErrorContext(ctx, "audit record not made", "event", n.name, "err", err)
			return
		}
		r.w.enqueue(ctx, e)
	})
}

// callRecord is the AwsApiCall record of a noted call.
func (r *Recorder) callRecord(ctx context.Context, n *Note, at time.Time) *Record {
	ri := auth.RequestInfoFrom(ctx)
	rec := &Record{
		EventVersion: EventVersion, EventTime: formatTime(at), EventSource: n.source, EventName: n.name,
		AWSRegion: r.o.Region, SourceIPAddress: ri.SourceIP, UserAgent: clip(ri.UserAgent, 1024),
		ErrorCode: n.errorCode, ErrorMessage: clip(n.errorMessage, 1024),
		RequestParameters: n.requestParameters(), ResponseElements: n.response, RequestID: r.o.RequestID(ctx),
		EventID: uuid.NewString(), ReadOnly: n.readOnly, Resources: n.resources, EventType: TypeAPICall,
		ManagementEvent: true, EventCategory: "Management", UserIdentity: identityOf(n),
	}
	if n.errorCode != "" {
		rec.ResponseElements = nil
	}
	rec.RecipientAccountID = rec.UserIdentity.AccountID
	if len(rec.Resources) > 0 && rec.Resources[0].AccountID != "" {
		rec.RecipientAccountID = rec.Resources[0].AccountID
	}
	return rec
}

// identityOf is the note's principal as CloudTrail's userIdentity.
func identityOf(n *Note) UserIdentity {
	if !n.haveWho {
		return UserIdentity{Type: IdentityAnonymous, AccessKeyID: n.accessKeyID}
	}
	p := n.who
	switch p.Type {
	case auth.TypeRoot:
		return UserIdentity{Type: IdentityRoot, PrincipalID: p.AccountID, ARN: p.ARN(), AccountID: p.AccountID,
			AccessKeyID: p.AccessKeyID}
	case auth.TypeIAMUser:
		return UserIdentity{Type: IdentityIAMUser, PrincipalID: p.UserID, ARN: p.ARN(), AccountID: p.AccountID,
			AccessKeyID: p.AccessKeyID, UserName: p.UserName}
	default:
		return UserIdentity{Type: IdentityAnonymous, AccountID: p.AccountID}
	}
}

// Append writes records at once (not through the queue) and returns when
// they are in the trail: for the few records a background job makes.
func (r *Recorder) Append(ctx context.Context, recs ...*Record) error {
	entries := make([]metastore.AuditEntry, 0, len(recs))
	for _, rec := range recs {
		e, err := rec.Entry()
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	if err := r.o.Store.AppendAudit(ctx, entries); err != nil {
		r.o.Metrics.add(func(m *Metrics) prometheus.Counter { return m.errors }, 1)
		return err
	}
	r.o.Metrics.add(func(m *Metrics) prometheus.Counter { return m.written }, len(entries))
	return nil
}

// clip bounds a free-text field to n bytes, cutting at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
