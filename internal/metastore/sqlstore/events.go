package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
)

// The event outbox (schema: migrations/*/0008_events.sql). Change methods
// call emit inside their write transaction, so an event exists exactly when
// its change committed; the dispatcher (package events) reads it back
// through metastore.EventOutbox.

// eventQueries are the statements of the outbox, its sinks and deliveries,
// rendered for the dialect.
type eventQueries struct {
	// lockStream: writing an event first runs streamLock (PostgreSQL;
	// see newEventQueries); SQLite's single writer already commits in
	// outbox order and skips it.
	lockStream                                                                       bool
	ensureStream, streamID                                                           string
	streamLock, insertEvent, repositoryOf, manifestTypes, tagsOf, deleteTagReturning string
	listEvents, anyUnrouted, unroutedEvents, markRouted, allSinks, insertDelivery    string
	outboxBounds, firstFrom                                                          string
	enqueue                                                                          string
	dueStreams, pendingDeliveries, deleteDelivered, failDelivery, killDelivery       string
	streamHasPending, dequeue, setRetry, stats, prune, requeueOrphans                string
	insertSink, listSinks, deleteSink, listDeadLetters, deadLetterKeys               string
	reviveDelivery, discardDelivery                                                  string
}

const (
	eventCols = "seq, id, account_id, repository, detail_type, action_type, result, image_digest, image_tag," +
		" manifest_media_type, artifact_media_type, detail, occurred_at"
	eventColsO = "o.seq, o.id, o.account_id, o.repository, o.detail_type, o.action_type, o.result, o.image_digest," +
		" o.image_tag, o.manifest_media_type, o.artifact_media_type, o.detail, o.occurred_at"
	sinkCols = "id, account_id, name, type, url, subject, secret_ciphertext, detail_types, repository_prefix," +
		" timeout, max_attempts, retry_for, created_at"
	// deliveryColsD are a delivery's columns, its sink's name and its
	// event, from event_deliveries d JOIN event_sinks k JOIN event_outbox o.
	deliveryColsD = "d.sink_id, k.name, d.stream_id, d.state, d.attempts, d.first_attempt_at, d.last_attempt_at," +
		" d.last_error, d.dead_at, " + eventColsO
	joinDelivery = " FROM event_deliveries d JOIN event_sinks k ON k.id = d.sink_id JOIN event_outbox o ON o.seq = d.seq"
)

func newEventQueries(d dialect) eventQueries {
	q := eventQueries{
		lockStream: d.name == "postgres",
		// On PostgreSQL a transaction writing an event of a repository
		// first takes a transaction-scoped advisory lock on the
		// repository's stream, held until it commits, and only then draws
		// its outbox sequence number: so within a repository, outbox order
		// is commit order and routing (which follows seq) never sees a
		// later event before an earlier one. An advisory lock waits where
		// a row lock under SERIALIZABLE would abort every concurrent pusher
		// of the repository but one. Two repositories whose keys collide
		// merely serialize their event writes.
		streamLock: "SELECT 1",
		ensureStream: "INSERT INTO event_streams (account_id, repository) VALUES (?, ?)" +
			" ON CONFLICT (account_id, repository) DO NOTHING",
		streamID: "SELECT id FROM event_streams WHERE account_id = ? AND repository = ?",
		insertEvent: insertSQL("event_outbox", []string{"id", "account_id", "repository", "detail_type", "action_type",
			"result", "image_digest", "image_tag", "manifest_media_type", "artifact_media_type", "detail", "occurred_at"}),
		repositoryOf:       "SELECT account_id, name FROM repositories WHERE id = ?",
		manifestTypes:      "SELECT media_type, artifact_type FROM manifests WHERE repository_id = ? AND digest = ?",
		tagsOf:             "SELECT name FROM tags WHERE repository_id = ? AND digest = ? ORDER BY name",
		deleteTagReturning: "DELETE FROM tags WHERE repository_id = ? AND name = ? RETURNING digest",

		listEvents:     "SELECT " + eventCols + " FROM event_outbox WHERE seq > ? ORDER BY seq LIMIT ?",
		anyUnrouted:    "SELECT 1 FROM event_outbox WHERE routed = 0 LIMIT 1",
		unroutedEvents: "SELECT " + eventCols + " FROM event_outbox WHERE routed = 0 ORDER BY seq LIMIT ?",
		markRouted:     "UPDATE event_outbox SET routed = 1 WHERE seq = ?",
		allSinks:       "SELECT " + sinkCols + " FROM event_sinks ORDER BY id",
		insertDelivery: "INSERT INTO event_deliveries (sink_id, seq, stream_id) VALUES (?, ?, ?) ON CONFLICT (sink_id, seq) DO NOTHING",
		enqueue: "INSERT INTO event_queue (sink_id, stream_id, retry_at) VALUES (?, ?, ?)" +
			" ON CONFLICT (sink_id, stream_id) DO NOTHING",

		dueStreams: "SELECT sink_id, stream_id, retry_at FROM event_queue WHERE retry_at <= ? ORDER BY retry_at LIMIT ?",
		pendingDeliveries: "SELECT " + deliveryColsD + joinDelivery +
			" WHERE d.sink_id = ? AND d.stream_id = ? AND d.state = 'pending' ORDER BY d.seq LIMIT ?",
		deleteDelivered: "DELETE FROM event_deliveries WHERE sink_id = ? AND seq = ? AND state = 'pending'",
		failDelivery: "UPDATE event_deliveries SET attempts = attempts + 1," +
			" first_attempt_at = CASE WHEN first_attempt_at = 0 THEN ? ELSE first_attempt_at END," +
			" last_attempt_at = ?, last_error = ? WHERE sink_id = ? AND seq = ? AND state = 'pending'",
		killDelivery:     "UPDATE event_deliveries SET state = 'dead', dead_at = ? WHERE sink_id = ? AND seq = ? AND state = 'pending'",
		streamHasPending: "SELECT 1 FROM event_deliveries WHERE sink_id = ? AND stream_id = ? AND state = 'pending' LIMIT 1",
		dequeue:          "DELETE FROM event_queue WHERE sink_id = ? AND stream_id = ?",
		setRetry: "INSERT INTO event_queue (sink_id, stream_id, retry_at) VALUES (?, ?, ?)" +
			" ON CONFLICT (sink_id, stream_id) DO UPDATE SET retry_at = excluded.retry_at",
		stats: "SELECT (SELECT count(*) FROM event_outbox WHERE routed = 0)," +
			" (SELECT count(*) FROM event_deliveries WHERE state = 'pending')," +
			" (SELECT count(*) FROM event_deliveries WHERE state = 'dead')," +
			" (SELECT min(occurred_at) FROM event_outbox WHERE seq = (SELECT min(seq) FROM event_outbox WHERE routed = 0))," +
			" (SELECT min(occurred_at) FROM event_outbox WHERE seq = (SELECT min(seq) FROM event_deliveries WHERE state = 'pending'))",
		outboxBounds: "SELECT min(seq), max(seq) FROM event_outbox",
		firstFrom:    "SELECT seq, occurred_at FROM event_outbox WHERE seq >= ? ORDER BY seq LIMIT 1",
		prune: "DELETE FROM event_outbox WHERE seq IN (SELECT o.seq FROM event_outbox o WHERE o.seq <= ?" +
			" AND o.routed = 1 AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.seq = o.seq)" +
			" ORDER BY o.seq LIMIT ?)",
		requeueOrphans: "INSERT INTO event_queue (sink_id, stream_id, retry_at)" +
			" SELECT DISTINCT sink_id, stream_id, 0 FROM event_deliveries WHERE state = 'pending'" +
			" ON CONFLICT (sink_id, stream_id) DO NOTHING",

		insertSink: insertSQL("event_sinks", []string{"account_id", "name", "type", "url", "subject", "secret_ciphertext",
			"detail_types", "repository_prefix", "timeout", "max_attempts", "retry_for", "created_at"}) + " RETURNING id",
		listSinks:  "SELECT " + sinkCols + " FROM event_sinks WHERE ? = '' OR account_id = ? ORDER BY account_id, name",
		deleteSink: "DELETE FROM event_sinks WHERE account_id = ? AND name = ?",
		listDeadLetters: "SELECT " + deliveryColsD + joinDelivery +
			" WHERE k.account_id = ? AND (? = '' OR k.name = ?) AND d.state = 'dead' AND d.seq > ?" +
			" ORDER BY d.seq, d.sink_id LIMIT ?",
		deadLetterKeys: "SELECT d.sink_id, d.seq, d.stream_id" + joinDelivery +
			" WHERE k.account_id = ? AND (? = '' OR k.name = ?) AND d.state = 'dead' AND (? = '' OR o.id = ?)",
		reviveDelivery: "UPDATE event_deliveries SET state = 'pending', attempts = 0, first_attempt_at = 0, dead_at = 0" +
			" WHERE sink_id = ? AND seq = ? AND state = 'dead'",
		discardDelivery: "DELETE FROM event_deliveries WHERE sink_id = ? AND seq = ? AND state = 'dead'",
	}
	if q.lockStream {
		q.streamLock = "SELECT pg_advisory_xact_lock(hashtextextended(?, 8))"
	}
	for _, p := range []*string{
		&q.ensureStream, &q.streamID, &q.outboxBounds, &q.firstFrom,
		&q.streamLock, &q.insertEvent, &q.repositoryOf, &q.manifestTypes, &q.tagsOf, &q.deleteTagReturning,
		&q.listEvents, &q.anyUnrouted, &q.unroutedEvents, &q.markRouted, &q.allSinks, &q.insertDelivery, &q.enqueue,
		&q.dueStreams, &q.pendingDeliveries, &q.deleteDelivered, &q.failDelivery, &q.killDelivery,
		&q.streamHasPending, &q.dequeue, &q.setRetry, &q.stats, &q.prune, &q.requeueOrphans,
		&q.insertSink, &q.listSinks, &q.deleteSink, &q.listDeadLetters, &q.deadLetterKeys,
		&q.reviveDelivery, &q.discardDelivery,
	} {
		*p = d.rebind(*p)
	}
	return q
}

// eventStmts are the outbox's hot write statements, prepared once on the
// writer connection: preparing and finalizing a statement per event cost
// a push more than the inserts themselves.
type eventStmts struct {
	streamLock, insertEvent, insertDelivery, enqueue, markRouted, deleteDelivered *sql.Stmt
}

func prepareEventStmts(ctx context.Context, db *sql.DB, q eventQueries) (eventStmts, error) {
	var ws eventStmts
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&ws.streamLock, q.streamLock}, {&ws.insertEvent, q.insertEvent}, {&ws.insertDelivery, q.insertDelivery},
		{&ws.enqueue, q.enqueue}, {&ws.markRouted, q.markRouted}, {&ws.deleteDelivered, q.deleteDelivered},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			_ = ws.close()
			return eventStmts{}, fmt.Errorf("sqlstore: prepare: %w", err)
		}
		*p.stmt = st
	}
	return ws, nil
}

func (ws eventStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{ws.streamLock, ws.insertEvent, ws.insertDelivery, ws.enqueue, ws.markRouted, ws.deleteDelivered} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// emitMark records, for one write, that it wrote events; write passes it
// down in the context so the store can wake the dispatcher after the commit.
type emitMark struct{ emitted bool }

type emitKey struct{}

// emit appends ev to the outbox inside tx, the transaction of the change it
// describes. ev.AccountID and ev.Repository name the repository (see
// repositoryOf); an empty ID, Time or Result is filled in (a new UUID, the
// store's clock, SUCCESS). With the outbox off (Options.NoOutbox) it does
// nothing. Store code that changes images calls it for every event:
//
//	acct, repo, err := s.repositoryOf(ctx, tx, repoID)
//	...
//	err = s.emit(ctx, tx, metastore.Event{AccountID: acct, Repository: repo,
//		DetailType: metastore.DetailTypeImageAction, ActionType: metastore.ActionUpdateStorageClass,
//		Digest: d, ManifestMediaType: mt, ArtifactMediaType: at,
//		Detail: json.RawMessage(`{"target-storage-class":"ARCHIVE"}`)})
func (s *Store) emit(ctx context.Context, tx *sql.Tx, ev metastore.Event) error {
	if s.noOutbox {
		return nil
	}
	if ev.AccountID == "" || ev.Repository == "" || ev.DetailType == "" {
		return errors.New("event: account, repository and detail type are required")
	}
	if len(ev.Detail) > 0 && (!json.Valid(ev.Detail) || !strings.HasPrefix(strings.TrimSpace(string(ev.Detail)), "{")) {
		return fmt.Errorf("event: detail %.100q is not a JSON object", ev.Detail)
	}
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	if ev.Result == "" {
		ev.Result = metastore.ResultSuccess
	}
	if s.eq.lockStream {
		if _, err := tx.StmtContext(ctx, s.ews.streamLock).ExecContext(ctx, ev.AccountID+"/"+ev.Repository); err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
	}
	// One statement, two B-tree pages (the outbox and its unrouted index):
	// inside a group commit every page a write touches is copied to the
	// savepoint journal, so each page here is paid by every push.
	_, err := tx.StmtContext(ctx, s.ews.insertEvent).ExecContext(ctx, ev.ID, ev.AccountID, ev.Repository, ev.DetailType,
		ev.ActionType, ev.Result, ev.Digest.String(), ev.Tag, ev.ManifestMediaType, ev.ArtifactMediaType,
		string(ev.Detail), nanos(ev.Time))
	if err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if m, ok := ctx.Value(emitKey{}).(*emitMark); ok {
		m.emitted = true
	}
	return nil
}

// repositoryOf returns the account and name of repository id, read inside
// tx; ErrNotFound when it does not exist.
func (s *Store) repositoryOf(ctx context.Context, tx *sql.Tx, id int64) (account, name string, err error) {
	err = tx.QueryRowContext(ctx, s.eq.repositoryOf, id).Scan(&account, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("repository %d: %w", id, metastore.ErrNotFound)
	}
	return account, name, err
}

// imageEvents returns one event per tag, or one untagged event when tags is
// empty: the image events of a push or an image delete.
func imageEvents(base metastore.Event, tags []string) []metastore.Event {
	if len(tags) == 0 {
		return []metastore.Event{base}
	}
	out := make([]metastore.Event, len(tags))
	for i, t := range tags {
		out[i] = base
		out[i].Tag = t
	}
	return out
}

// emitAll emits every event in order.
func (s *Store) emitAll(ctx context.Context, tx *sql.Tx, evs []metastore.Event) error {
	for _, ev := range evs {
		if err := s.emit(ctx, tx, ev); err != nil {
			return err
		}
	}
	return nil
}

// ListEvents returns outbox events after a sequence number, in order.
func (s *Store) ListEvents(ctx context.Context, after int64, limit int) ([]metastore.Event, error) {
	if limit <= 0 {
		return nil, s.fail("list events", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, scanEvent, s.eq.listEvents, after, limit)
	return out, s.fail("list events", err)
}

// RouteEvents makes a pending delivery of each unrouted event for every
// sink that matches it and queues its stream for that sink.
func (s *Store) RouteEvents(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, s.fail("route events", errBadLimit)
	}
	// An idle outbox costs a read, not a write transaction.
	var one int
	if err := s.reader.QueryRowContext(ctx, s.eq.anyUnrouted).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, s.fail("route events", err)
	}
	var n int
	err := s.write(ctx, "route events", func(ctx context.Context, tx *sql.Tx) error {
		evs, err := queryAll(ctx, tx, scanEvent, s.eq.unroutedEvents, limit)
		if err != nil || len(evs) == 0 {
			return err
		}
		sinks, err := queryAll(ctx, tx, scanSink, s.eq.allSinks)
		if err != nil {
			return err
		}
		insert, enqueue, mark := tx.StmtContext(ctx, s.ews.insertDelivery), tx.StmtContext(ctx, s.ews.enqueue),
			tx.StmtContext(ctx, s.ews.markRouted)
		streams := map[[2]string]int64{}
		for _, ev := range evs {
			for _, k := range sinks {
				if !k.Matches(ev) {
					continue
				}
				stream, err := s.streamOf(ctx, tx, streams, ev)
				if err != nil {
					return err
				}
				if _, err := insert.ExecContext(ctx, k.ID, ev.Seq, stream); err != nil {
					return err
				}
				if _, err := enqueue.ExecContext(ctx, k.ID, stream, 0); err != nil {
					return err
				}
			}
			if _, err := mark.ExecContext(ctx, ev.Seq); err != nil {
				return err
			}
		}
		n = len(evs)
		return nil
	})
	return n, err
}

// streamOf returns the id of ev's stream, creating it, through cache.
func (s *Store) streamOf(ctx context.Context, tx *sql.Tx, cache map[[2]string]int64, ev metastore.Event) (int64, error) {
	key := [2]string{ev.AccountID, ev.Repository}
	if id, ok := cache[key]; ok {
		return id, nil
	}
	if _, err := tx.ExecContext(ctx, s.eq.ensureStream, ev.AccountID, ev.Repository); err != nil {
		return 0, fmt.Errorf("event stream: %w", err)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, s.eq.streamID, ev.AccountID, ev.Repository).Scan(&id); err != nil {
		return 0, fmt.Errorf("event stream: %w", err)
	}
	cache[key] = id
	return id, nil
}

// DueEventStreams returns queued streams due by now, earliest first.
func (s *Store) DueEventStreams(ctx context.Context, now time.Time, limit int) ([]metastore.EventStream, error) {
	if limit <= 0 {
		return nil, s.fail("due event streams", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, func(r scanner) (metastore.EventStream, error) {
		var st metastore.EventStream
		var at int64
		err := r.Scan(&st.SinkID, &st.StreamID, &at)
		st.RetryAt = fromNanos(at)
		return st, err
	}, s.eq.dueStreams, nanos(now), limit)
	return out, s.fail("due event streams", err)
}

// PendingDeliveries returns the head of a stream, in order.
func (s *Store) PendingDeliveries(ctx context.Context, sinkID, streamID int64, limit int) ([]metastore.EventDelivery, error) {
	if limit <= 0 {
		return nil, s.fail("pending deliveries", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, scanDelivery, s.eq.pendingDeliveries, sinkID, streamID, limit)
	return out, s.fail("pending deliveries", err)
}

// RecordDeliveries records what the dispatcher did with a stream's head.
func (s *Store) RecordDeliveries(ctx context.Context, r metastore.DeliveryRecord) error {
	return s.write(ctx, "record deliveries", func(ctx context.Context, tx *sql.Tx) error {
		del := tx.StmtContext(ctx, s.ews.deleteDelivered)
		for _, seq := range r.Delivered {
			if _, err := del.ExecContext(ctx, r.SinkID, seq); err != nil {
				return err
			}
		}
		var retryAt int64 // due at once
		if f := r.Failed; f != nil {
			at := nanos(f.At)
			if _, err := tx.ExecContext(ctx, s.eq.failDelivery, at, at, f.Error, r.SinkID, f.Seq); err != nil {
				return err
			}
			if f.Dead {
				if _, err := tx.ExecContext(ctx, s.eq.killDelivery, at, r.SinkID, f.Seq); err != nil {
					return err
				}
			} else {
				retryAt = nanos(f.RetryAt)
			}
		}
		pending, err := exists(ctx, tx, s.eq.streamHasPending, r.SinkID, r.StreamID)
		if err != nil {
			return err
		}
		if !pending {
			_, err = tx.ExecContext(ctx, s.eq.dequeue, r.SinkID, r.StreamID)
			return err
		}
		_, err = tx.ExecContext(ctx, s.eq.setRetry, r.SinkID, r.StreamID, retryAt)
		return err
	})
}

// EventStats counts the backlog.
func (s *Store) EventStats(ctx context.Context) (metastore.EventStats, error) {
	var st metastore.EventStats
	var unrouted, pending sql.NullInt64
	err := s.reader.QueryRowContext(ctx, s.eq.stats).Scan(&st.Unrouted, &st.Pending, &st.Dead, &unrouted, &pending)
	if err != nil {
		return metastore.EventStats{}, s.fail("event stats", err)
	}
	for _, v := range []sql.NullInt64{unrouted, pending} {
		if v.Valid && (st.OldestPending.IsZero() || fromNanos(v.Int64).Before(st.OldestPending)) {
			st.OldestPending = fromNanos(v.Int64)
		}
	}
	return st, nil
}

// MaintainEvents deletes delivered events older than before and requeues
// streams left without a queue entry.
func (s *Store) MaintainEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, s.fail("maintain events", errBadLimit)
	}
	bound, err := s.lastSeqBefore(ctx, before)
	if err != nil {
		return 0, s.fail("maintain events", err)
	}
	var n int64
	err = s.write(ctx, "maintain events", func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if n, err = execTx(ctx, tx, s.eq.prune, bound, limit); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.eq.requeueOrphans)
		return err
	})
	return int(n), err
}

// lastSeqBefore returns the last outbox seq of an event that happened
// before t (0 when none), by binary search over seq: event times follow
// seq (up to the moments between a change's clock reading and its
// commit), so retention needs no index on time, which would cost every
// push a page.
func (s *Store) lastSeqBefore(ctx context.Context, t time.Time) (int64, error) {
	var lo, hi sql.NullInt64
	if err := s.reader.QueryRowContext(ctx, s.eq.outboxBounds).Scan(&lo, &hi); err != nil || !lo.Valid {
		return 0, err
	}
	first := func(from int64) (int64, int64, error) {
		var seq, at int64
		err := s.reader.QueryRowContext(ctx, s.eq.firstFrom, from).Scan(&seq, &at)
		return seq, at, err
	}
	_, at, err := first(lo.Int64)
	if err != nil || at >= nanos(t) {
		return 0, err
	}
	l, h := lo.Int64, hi.Int64 // invariant: the event at l happened before t
	for l < h {
		mid := l + (h-l+1)/2
		seq, at, err := first(mid)
		if err != nil {
			return 0, err
		}
		if at < nanos(t) {
			l = seq
		} else {
			h = mid - 1
		}
	}
	return l, nil
}

func scanEvent(r scanner) (metastore.Event, error) { return scanEventWith(r) }

// scanEventWith scans eventCols after the leading columns in extra.
func scanEventWith(r scanner, extra ...any) (metastore.Event, error) {
	var e metastore.Event
	var d, detail string
	var at int64
	dest := append(extra, &e.Seq, &e.ID, &e.AccountID, &e.Repository, &e.DetailType, &e.ActionType, &e.Result,
		&d, &e.Tag, &e.ManifestMediaType, &e.ArtifactMediaType, &detail, &at)
	if err := r.Scan(dest...); err != nil {
		return metastore.Event{}, err
	}
	e.Digest, e.Time = digest.Digest(d), fromNanos(at)
	if detail != "" {
		e.Detail = json.RawMessage(detail)
	}
	return e, nil
}

func scanDelivery(r scanner) (metastore.EventDelivery, error) {
	var dl metastore.EventDelivery
	var first, last, dead int64
	e, err := scanEventWith(r, &dl.SinkID, &dl.SinkName, &dl.StreamID, &dl.State, &dl.Attempts, &first, &last,
		&dl.LastError, &dead)
	if err != nil {
		return metastore.EventDelivery{}, err
	}
	dl.Event = e
	dl.FirstAttemptAt, dl.LastAttemptAt, dl.DeadAt = optionalTime(first), optionalTime(last), optionalTime(dead)
	return dl, nil
}

// optionalTime decodes a time column where 0 means none.
func optionalTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}
