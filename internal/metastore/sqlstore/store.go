// Package sqlstore implements metastore.Store on SQL databases: SQLite
// (modernc.org/sqlite, pure Go) by default and PostgreSQL (pgx, pure Go) for
// many nodes, behind one dialect seam (dialect.go). The schema, with a
// comment on every table and column, lives in migrations/<dialect>/*.sql.
//
// SQLite layout: one writer connection (writes are serialized in-process and
// every write transaction is BEGIN IMMEDIATE, so it never fails to upgrade a
// read lock) and a pool of read-only connections. In WAL mode readers never
// block the writer nor each other, and each autocommit read sees every
// transaction committed before it started.
//
// Durability: the writer runs with synchronous=FULL. In WAL mode that fsyncs
// the WAL on every commit, so once PutManifest returns the manifest survives
// SIGKILL and power loss; synchronous=NORMAL would only survive process
// crashes and could lose a manifest the registry already acknowledged with
// 201 Created.
//
// PostgreSQL layout: see postgres.go and txwriter.go.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/metastore"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Options configures a Store.
type Options struct {
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Clock stamps created/updated times the caller leaves zero; nil means time.Now.
	Clock func() time.Time
	// MaxReaders bounds the read connection pool; 0 means max(4, GOMAXPROCS).
	MaxReaders int
	// BusyTimeout is how long a connection waits for a lock held by another
	// process (e.g. an admin command on the same file); 0 means 10s.
	BusyTimeout time.Duration
	// Metrics records write transactions; nil records nothing.
	Metrics *Metrics
	// MaxConns bounds PostgreSQL's pool (reads and writes); 0 means 16.
	// SQLite's read pool is MaxReaders.
	MaxConns int
	// MaxIdleConns is how many of PostgreSQL's connections stay open when
	// idle; 0 means all (MaxConns), keeping their prepared statements warm.
	MaxIdleConns int
	// ConnMaxLifetime closes PostgreSQL connections older than this, after
	// their current use; 0 keeps them.
	ConnMaxLifetime time.Duration
	// NoMigrate opens without applying pending migrations (another node or
	// `berth migrate` does); the open then fails if any is pending.
	NoMigrate bool
	// NoOutbox turns the event outbox off: changes write no events (berth
	// serve --events=false). By default every change that makes a registry
	// event writes it in its own transaction.
	NoOutbox bool
	// OnEvents, when set, is called after a write that wrote events has
	// committed (to wake a local dispatcher); it must not block.
	OnEvents func()
}

// Store is a metastore.Store backed by SQL. It is safe for concurrent use.
type Store struct {
	d      dialect
	q      queries
	jq     jobQueries
	cq     clusterQueries
	sq     storageQueries
	gq     gcQueries
	eq     eventQueries
	lq     lifecycleQueries
	aq     auditQueries
	ews    eventStmts // prepared on the writer
	rs     readStmts
	writes writer  // runs every write transaction
	writer *sql.DB // the connections writes use: SQLite's one writer
	reader *sql.DB // all reads outside write transactions; writer itself on PostgreSQL
	log    *slog.Logger
	now    func() time.Time // Options.Clock in UTC
	// applied names the migrations this open applied.
	applied []string
	// noOutbox and onEvents are Options.NoOutbox and Options.OnEvents.
	noOutbox bool
	onEvents func()
}

var _ metastore.Store = (*Store)(nil)

// OpenSQLite opens (creating if needed) the SQLite database at path, applies
// pending migrations and prepares the hot read statements.
func OpenSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	clock := opts.Clock
	s := newStore(sqliteDialect(), opts)

	if s.writer, err = openPool(ctx, sqliteDSN(abs, false, opts.BusyTimeout), 1); err != nil {
		return nil, fmt.Errorf("sqlstore: open writer %s: %w", abs, err)
	}
	// Migrations run before readers exist: a read-only connection cannot
	// create the WAL index of a brand-new database.
	if err = s.migrate(ctx, !opts.NoMigrate); err != nil {
		_ = s.writer.Close()
		return nil, err
	}
	if s.reader, err = openPool(ctx, sqliteDSN(abs, true, opts.BusyTimeout), opts.MaxReaders); err != nil {
		_ = s.writer.Close()
		return nil, fmt.Errorf("sqlstore: open readers %s: %w", abs, err)
	}
	if s.rs, err = prepareReadStmts(ctx, s.reader, s.q, s.gq); err != nil {
		_ = s.reader.Close()
		_ = s.writer.Close()
		return nil, err
	}
	if s.ews, err = prepareEventStmts(ctx, s.writer, s.eq); err != nil {
		_ = s.rs.close()
		_ = s.reader.Close()
		_ = s.writer.Close()
		return nil, err
	}
	s.writes = newCommitter(s.writer, s.d.writeTx, opts.Metrics, clock)
	s.log.Info("metadata store opened", "engine", s.d.name, "path", abs, "readers", opts.MaxReaders)
	return s, nil
}

// newStore is the engine-independent part of opening a store: every
// statement rendered for d. A feature's own query struct is rendered here
// too, so both engines get it.
func newStore(d dialect, opts Options) *Store {
	clock := opts.Clock
	return &Store{d: d, q: newQueries(d), jq: newJobQueries(d), cq: newClusterQueries(d), gq: newGCQueries(d), eq: newEventQueries(d),
		aq: newAuditQueries(d), sq: newStorageQueries(d), lq: newLifecycleQueries(d), log: opts.Logger,
		now: func() time.Time { return clock().UTC() }, noOutbox: opts.NoOutbox,
		onEvents: opts.OnEvents}
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxReaders <= 0 {
		o.MaxReaders = max(4, runtime.GOMAXPROCS(0))
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 10 * time.Second
	}
	return o
}

// sqliteDSN builds a modernc.org/sqlite URI. The driver applies each _pragma
// on every new connection (busy_timeout first); _txlock=immediate makes
// BeginTx issue BEGIN IMMEDIATE.
// readerMmapSize bounds how much of the database file each reader maps
// (address space, not memory).
const readerMmapSize = 1 << 30

func sqliteDSN(path string, readOnly bool, busy time.Duration) string {
	v := url.Values{}
	v.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	if readOnly {
		v.Set("mode", "ro")
		v.Add("_pragma", "query_only(1)")
		// Readers map the database file rather than pread each page they
		// miss in their small page cache: a scan of many rows (a lifecycle
		// run over 100,000 images, GC) otherwise makes a system call per
		// page. Pages still come from the OS page cache; WAL frames are
		// read as before.
		v.Add("_pragma", "mmap_size("+strconv.Itoa(readerMmapSize)+")")
	} else {
		v.Add("_pragma", "foreign_keys(1)")
		v.Add("_pragma", "journal_mode(WAL)")
		v.Add("_pragma", "synchronous(FULL)")
		// Group commit runs each write in a savepoint, which copies every
		// page it changes to the statement journal; past 64 KiB SQLite
		// spills that journal to a temporary file, created and written for
		// each large batch. In memory it costs a copy.
		v.Add("_pragma", "temp_store(MEMORY)")
		v.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath() + "?" + v.Encode()
}

func openPool(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns) // keep connections (and their prepared statements) warm
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// Ping checks that the database answers on the connections reads and
// writes use.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.reader.PingContext(ctx); err != nil {
		return s.fail("ping", err)
	}
	if s.writer != s.reader {
		if err := s.writer.PingContext(ctx); err != nil {
			return s.fail("ping writer", err)
		}
	}
	return nil
}

// Applied names the migrations (NNNN_name) this open applied, in order.
func (s *Store) Applied() []string { return slices.Clone(s.applied) }

// Engine names the database engine: "sqlite" or "postgres".
func (s *Store) Engine() string { return s.d.name }

// Close releases all connections. The store must not be used afterwards.
func (s *Store) Close() error {
	s.writes.close()
	if s.d.onClose != "" {
		if _, err := s.writer.Exec(s.d.onClose); err != nil {
			s.log.Warn("metadata store close hook failed", "engine", s.d.name, "err", err)
		}
	}
	errs := []error{s.rs.close(), s.ews.close(), s.reader.Close()}
	if s.writer != s.reader {
		errs = append(errs, s.writer.Close())
	}
	return errors.Join(errs...)
}

// write runs fn in a write transaction and returns once that transaction
// is durable; an error undoes fn's changes only and is mapped by fail. On
// SQLite the transaction (BEGIN IMMEDIATE) is shared with other writes by
// group commit and fn must use tx only: the writer pool has a single
// connection, which tx holds. On PostgreSQL it is fn's own SERIALIZABLE
// transaction and fn may run again after a serialization failure, so fn
// must touch nothing but tx and its own results. When fn wrote events
// (emit), Options.OnEvents runs after the commit.
func (s *Store) write(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if s.onEvents == nil {
		return s.fail(op, s.writes.submit(ctx, op, fn))
	}
	mark := &emitMark{}
	err := s.fail(op, s.writes.submit(context.WithValue(ctx, emitKey{}, mark), op, fn))
	if err == nil && mark.emitted {
		s.onEvents()
	}
	return err
}

// exec runs one write statement and returns the affected rows.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.writes.submit(ctx, "exec", func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// fail maps err to the metastore contract, prefixed with the operation. Driver
// constraint errors become sentinels without the driver's text, which names
// schema objects; other errors are wrapped for logs.
func (s *Store) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, metastore.ErrNotFound)
	}
	switch s.d.classify(err) {
	case errUnique:
		return fmt.Errorf("sqlstore: %s: %w", op, metastore.ErrAlreadyExists)
	case errForeignKey:
		// Only inserts can violate a foreign key here: the parent is gone.
		// (Deletes refused by a foreign key without cascade, such as
		// DeleteUser's, check first and report ErrDeleteConflict.)
		return fmt.Errorf("sqlstore: %s: parent record: %w", op, metastore.ErrNotFound)
	case errUnavailable:
		return fmt.Errorf("sqlstore: %s: %w: %w", op, metastore.ErrUnavailable, err)
	case errRetry: // a write still conflicting after its retries: busy, try later
		return fmt.Errorf("sqlstore: %s: %w: serialization conflict: %w", op, metastore.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// after is p.Last as the bound of "name > ?". PostgreSQL text cannot hold
// NUL; for names without NUL, which every stored name is, "after Last" is
// the same as "after Last cut at its first NUL", so the cut is exact on
// both engines.
func after(p metastore.Page) string {
	if i := strings.IndexByte(p.Last, 0); i >= 0 {
		return p.Last[:i]
	}
	return p.Last
}

// notFoundIfNone turns "no row affected" into ErrNotFound.
func notFoundIfNone(n int64, err error) error {
	if err == nil && n == 0 {
		return metastore.ErrNotFound
	}
	return err
}

// exists reports whether query returns a row.
func exists(ctx context.Context, tx *sql.Tx, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// nanos and fromNanos are the one encoding of timestamps: Unix nanoseconds, UTC.
func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// nonNil stores an absent byte slice as an empty BLOB, not NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
