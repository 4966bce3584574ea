package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// The audit trail (schema: migrations/*/0009_audit.sql). Every change to
// the chain (append, retention) first reads the audit_chain row in its
// write transaction: SQLite's single writer serializes them anyway; on
// PostgreSQL the read is SELECT ... FOR UPDATE in a READ COMMITTED
// transaction, which waits for a concurrent appender on another node and
// then sees its head, so appends queue instead of aborting as SERIALIZABLE
// would.

const auditCols = "seq, event_time, event_name, event_source, principal_arn, user_name, access_key_id," +
	" resource_arn, repository, error_code, record, prev_hash, hash"

// auditQueries are the chain's fixed statements, rendered for the dialect.
type auditQueries struct {
	chain, lockChain, setHead, setAnchor, insert, oldest, deleteUpTo string
}

func newAuditQueries(d dialect) auditQueries {
	q := auditQueries{
		chain:     "SELECT anchor_seq, anchor_hash, head_seq, head_hash FROM audit_chain WHERE id = 1",
		setHead:   "UPDATE audit_chain SET head_seq = ?, head_hash = ? WHERE id = 1",
		setAnchor: "UPDATE audit_chain SET anchor_seq = ?, anchor_hash = ? WHERE id = 1",
		insert: insertSQL("audit_records", []string{"seq", "event_time", "event_name", "event_source", "principal_arn",
			"user_name", "access_key_id", "resource_arn", "repository", "error_code", "record", "prev_hash", "hash"}),
		oldest:     "SELECT seq, hash, event_time FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?",
		deleteUpTo: "DELETE FROM audit_records WHERE seq <= ?",
	}
	q.lockChain = q.chain
	if d.name == "postgres" {
		q.lockChain += " FOR UPDATE"
	}
	for _, p := range []*string{&q.chain, &q.lockChain, &q.setHead, &q.setAnchor, &q.insert, &q.oldest, &q.deleteUpTo} {
		*p = d.rebind(*p)
	}
	return q
}

// AppendAudit appends entries to the chain in one transaction.
func (s *Store) AppendAudit(ctx context.Context, entries []metastore.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	for _, e := range entries {
		if e.Time.IsZero() || len(e.Body) == 0 || e.EventName == "" {
			return s.fail("append audit", errors.New("audit entry needs a time, an event name and a body"))
		}
	}
	links := make([][2]string, len(entries)) // prev, hash of each, committed only on success
	seqs := make([]int64, len(entries))
	err := s.chainWrite(ctx, "append audit", func(ctx context.Context, tx *sql.Tx) error {
		c, err := readChain(ctx, tx, s.aq.lockChain)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, s.aq.insert)
		if err != nil {
			return err
		}
		defer stmt.Close()
		seq, prev := c.HeadSeq, c.HeadHash
		for i, e := range entries {
			seq++
			h := metastore.AuditHash(prev, seq, e.Body)
			if _, err := stmt.ExecContext(ctx, seq, nanos(e.Time), e.EventName, e.EventSource, e.PrincipalARN,
				e.UserName, e.AccessKeyID, e.ResourceARN, e.Repository, e.ErrorCode, string(e.Body), prev, h); err != nil {
				return err
			}
			links[i], seqs[i] = [2]string{prev, h}, seq
			prev = h
		}
		_, err = tx.ExecContext(ctx, s.aq.setHead, seq, prev)
		return err
	})
	if err != nil {
		return err
	}
	for i := range entries {
		entries[i].Seq, entries[i].PrevHash, entries[i].Hash = seqs[i], links[i][0], links[i][1]
	}
	return nil
}

// chainWrite runs fn as a write that may change the chain (see the top of
// this file).
func (s *Store) chainWrite(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if s.d.name != "postgres" {
		return s.write(ctx, op, fn)
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.readCommittedTx(ctx, fn); err == nil || s.d.classify(err) != errRetry {
			break
		}
	}
	return s.fail(op, err)
}

// readCommittedTx runs fn in one READ COMMITTED transaction on PostgreSQL;
// like txWriter.run, once begun it does not heed the caller's cancellation.
func (s *Store) readCommittedTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// rowQuerier is a *sql.DB or *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readChain(ctx context.Context, q rowQuerier, query string) (metastore.AuditChain, error) {
	var c metastore.AuditChain
	err := q.QueryRowContext(ctx, query).Scan(&c.AnchorSeq, &c.AnchorHash, &c.HeadSeq, &c.HeadHash)
	return c, err
}

// AuditChain returns the chain's anchor and head.
func (s *Store) AuditChain(ctx context.Context) (metastore.AuditChain, error) {
	c, err := readChain(ctx, s.reader, s.aq.chain)
	return c, s.fail("audit chain", err)
}

// LookupAudit returns matching records, newest first.
func (s *Store) LookupAudit(ctx context.Context, f metastore.AuditFilter, before int64, limit int) ([]metastore.AuditEntry, error) {
	if limit <= 0 || limit > metastore.MaxAuditPage {
		return nil, s.fail("lookup audit", fmt.Errorf("limit %d is not between 1 and %d", limit, metastore.MaxAuditPage))
	}
	where, args := auditWhere(f)
	if before > 0 {
		where += " AND seq < ?"
		args = append(args, before)
	}
	query := s.d.rebind("SELECT " + auditCols + " FROM audit_records WHERE " + where + " ORDER BY seq DESC LIMIT ?")
	out, err := queryAll(ctx, s.reader, scanAudit, query, append(args, limit)...)
	return out, s.fail("lookup audit", err)
}

// ScanAudit returns matching records in chain order.
func (s *Store) ScanAudit(ctx context.Context, f metastore.AuditFilter, after int64, limit int) ([]metastore.AuditEntry, error) {
	if limit <= 0 || limit > metastore.MaxAuditPage {
		return nil, s.fail("scan audit", fmt.Errorf("limit %d is not between 1 and %d", limit, metastore.MaxAuditPage))
	}
	where, args := auditWhere(f)
	query := s.d.rebind("SELECT " + auditCols + " FROM audit_records WHERE " + where + " AND seq > ? ORDER BY seq LIMIT ?")
	out, err := queryAll(ctx, s.reader, scanAudit, query, append(args, after, limit)...)
	return out, s.fail("scan audit", err)
}

// auditWhere renders f as a condition with '?' placeholders.
func auditWhere(f metastore.AuditFilter) (string, []any) {
	conds := []string{"1 = 1"}
	var args []any
	if !f.Start.IsZero() {
		conds, args = append(conds, "event_time >= ?"), append(args, nanos(f.Start))
	}
	if !f.End.IsZero() {
		conds, args = append(conds, "event_time < ?"), append(args, nanos(f.End))
	}
	if f.EventName != "" {
		conds, args = append(conds, "event_name = ?"), append(args, f.EventName)
	}
	// An ARN can only match the ARN column (user names, key ids and
	// repository names hold no ':'), and the others never start "arn:":
	// testing the one column the value can match lets the principal_arn
	// and repository indexes serve the common lookups, which an OR over
	// all the columns kept them from.
	if f.Principal != "" {
		if strings.HasPrefix(f.Principal, "arn:") {
			conds, args = append(conds, "principal_arn = ?"), append(args, f.Principal)
		} else {
			conds, args = append(conds, "(user_name = ? OR access_key_id = ?)"), append(args, f.Principal, f.Principal)
		}
	}
	if f.Resource != "" {
		if strings.HasPrefix(f.Resource, "arn:") {
			conds, args = append(conds, "resource_arn = ?"), append(args, f.Resource)
		} else {
			conds, args = append(conds, "repository = ?"), append(args, f.Resource)
		}
	}
	return strings.Join(conds, " AND "), args
}

func scanAudit(sc scanner) (metastore.AuditEntry, error) {
	var e metastore.AuditEntry
	var at int64
	var body string
	err := sc.Scan(&e.Seq, &at, &e.EventName, &e.EventSource, &e.PrincipalARN, &e.UserName, &e.AccessKeyID,
		&e.ResourceARN, &e.Repository, &e.ErrorCode, &body, &e.PrevHash, &e.Hash)
	e.Time, e.Body = fromNanos(at), []byte(body)
	return e, err
}

// DeleteAuditBefore deletes the oldest records older than before and
// moves the anchor past them.
func (s *Store) DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, s.fail("delete audit", errBadLimit)
	}
	var n int
	err := s.chainWrite(ctx, "delete audit", func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		c, err := readChain(ctx, tx, s.aq.lockChain)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.aq.oldest, c.AnchorSeq, limit)
		if err != nil {
			return err
		}
		lastSeq, lastHash := int64(0), ""
		for rows.Next() {
			var seq, at int64
			var h string
			if err := rows.Scan(&seq, &h, &at); err != nil {
				rows.Close()
				return err
			}
			if at >= nanos(before) {
				break
			}
			lastSeq, lastHash = seq, h
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil || n == 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.aq.deleteUpTo, lastSeq); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.aq.setAnchor, lastSeq, lastHash)
		return err
	})
	return n, err
}
