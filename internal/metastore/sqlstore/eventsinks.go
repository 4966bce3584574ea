package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// CreateEventSink stores a sink and assigns its ID.
func (s *Store) CreateEventSink(ctx context.Context, k *metastore.EventSink) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	for _, t := range k.DetailTypes {
		if t == "" || strings.Contains(t, "\n") {
			return s.fail("create event sink", errors.New("detail types must be non-empty single lines"))
		}
	}
	var id int64
	err := s.write(ctx, "create event sink", func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, s.eq.insertSink, k.AccountID, k.Name, k.Type, k.URL, k.Subject,
			nonNil(k.SecretCiphertext), joinLines(k.DetailTypes), k.RepositoryPrefix, int64(k.Timeout),
			k.MaxAttempts, int64(k.RetryFor), nanos(k.CreatedAt)).Scan(&id)
	})
	if err != nil {
		return err
	}
	k.ID = id
	return nil
}

// ListEventSinks returns an account's sinks ("" for all), by account and name.
func (s *Store) ListEventSinks(ctx context.Context, accountID string) ([]metastore.EventSink, error) {
	out, err := queryAll(ctx, s.reader, scanSink, s.eq.listSinks, accountID, accountID)
	return out, s.fail("list event sinks", err)
}

// DeleteEventSink removes a sink and its deliveries (ON DELETE CASCADE).
func (s *Store) DeleteEventSink(ctx context.Context, accountID, name string) error {
	return s.write(ctx, "delete event sink", func(ctx context.Context, tx *sql.Tx) error {
		return notFoundIfNone(execTx(ctx, tx, s.eq.deleteSink, accountID, name))
	})
}

// ListDeadLetters pages through an account's dead letters in event order.
func (s *Store) ListDeadLetters(ctx context.Context, accountID, sinkName string, after int64, limit int) ([]metastore.EventDelivery, error) {
	if limit <= 0 {
		return nil, s.fail("list dead letters", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, scanDelivery, s.eq.listDeadLetters, accountID, sinkName, sinkName, after, limit)
	return out, s.fail("list dead letters", err)
}

// RetryDeadLetters makes the selected dead letters pending again and their
// streams due at once.
func (s *Store) RetryDeadLetters(ctx context.Context, accountID, sinkName string, eventIDs []string) (int, error) {
	return s.changeDeadLetters(ctx, "retry dead letters", accountID, sinkName, eventIDs,
		func(ctx context.Context, tx *sql.Tx, k deadLetterKey) (int64, error) {
			n, err := execTx(ctx, tx, s.eq.reviveDelivery, k.sink, k.seq)
			if err != nil || n == 0 {
				return n, err
			}
			_, err = tx.ExecContext(ctx, s.eq.setRetry, k.sink, k.stream, 0)
			return n, err
		})
}

// DiscardDeadLetters deletes the selected dead letters.
func (s *Store) DiscardDeadLetters(ctx context.Context, accountID, sinkName string, eventIDs []string) (int, error) {
	return s.changeDeadLetters(ctx, "discard dead letters", accountID, sinkName, eventIDs,
		func(ctx context.Context, tx *sql.Tx, k deadLetterKey) (int64, error) {
			return execTx(ctx, tx, s.eq.discardDelivery, k.sink, k.seq)
		})
}

type deadLetterKey struct{ sink, seq, stream int64 }

// changeDeadLetters applies change to every dead letter of the account's
// sink (every sink when sinkName is "") whose event is one of eventIDs
// (every one when there are none), in one transaction.
func (s *Store) changeDeadLetters(ctx context.Context, op, accountID, sinkName string, eventIDs []string,
	change func(ctx context.Context, tx *sql.Tx, k deadLetterKey) (int64, error)) (int, error) {
	ids := eventIDs
	if len(ids) == 0 {
		ids = []string{""} // the query's "any event"
	}
	var n int64
	err := s.write(ctx, op, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		for _, id := range ids {
			keys, err := queryAll(ctx, tx, func(r scanner) (deadLetterKey, error) {
				var k deadLetterKey
				return k, r.Scan(&k.sink, &k.seq, &k.stream)
			}, s.eq.deadLetterKeys, accountID, sinkName, sinkName, id, id)
			if err != nil {
				return err
			}
			for _, k := range keys {
				c, err := change(ctx, tx, k)
				if err != nil {
					return err
				}
				n += c
			}
		}
		return nil
	})
	return int(n), err
}

func scanSink(r scanner) (metastore.EventSink, error) {
	var k metastore.EventSink
	var types string
	var timeout, retryFor, created int64
	err := r.Scan(&k.ID, &k.AccountID, &k.Name, &k.Type, &k.URL, &k.Subject, &k.SecretCiphertext, &types,
		&k.RepositoryPrefix, &timeout, &k.MaxAttempts, &retryFor, &created)
	if err != nil {
		return metastore.EventSink{}, err
	}
	if types != "" {
		k.DetailTypes = strings.Split(types, "\n")
	}
	k.Timeout, k.RetryFor, k.CreatedAt = time.Duration(timeout), time.Duration(retryFor), fromNanos(created)
	if len(k.SecretCiphertext) == 0 {
		k.SecretCiphertext = nil
	}
	return k, nil
}
