package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL layout: one pool of connections serves reads and writes. Reads
// are single autocommit statements (READ COMMITTED: each sees every
// transaction committed before it started, as on SQLite). Writes do not
// share transactions as SQLite's group commit does: each runs alone, as
// SERIALIZABLE, from the pool (txwriter.go), so many nodes write at once
// and every check-then-write of the store stays race-free across them.

// defaultMaxConns sizes the pool when Options.MaxConns is zero.
const defaultMaxConns = 16

// defaultConnectTimeout bounds a connection attempt when the DSN sets no
// connect_timeout: while the database is down, requests fail within it.
const defaultConnectTimeout = 5 * time.Second

// migrationLockKey is the advisory lock a migration run holds: any
// constant of Berth's own, the same in every version.
const migrationLockKey = 7_450_817_166_329_372_001

// OpenPostgres connects to the PostgreSQL database named by dsn (a
// postgres:// URL or a key=value connection string), applies pending
// migrations unless opts.NoMigrate, and prepares the hot read statements.
// Errors never show the DSN's password.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres: %w", err) // pgx redacts the password
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "berth" // names the sessions in pg_stat_activity
	}
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(registerBoolInts))
	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	idle := opts.MaxIdleConns
	if idle <= 0 || idle > maxConns {
		idle = maxConns // keep connections (and their prepared statements) warm
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(idle)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	where := fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlstore: connect to postgres %s: %w", where, err)
	}
	s := newStore(postgresDialect(), opts)
	s.reader, s.writer = db, db
	if err := s.migrate(ctx, !opts.NoMigrate); err != nil {
		_ = db.Close()
		return nil, err
	}
	if s.rs, err = prepareReadStmts(ctx, s.reader, s.q, s.gq); err != nil {
		_ = db.Close()
		return nil, err
	}
	if s.ews, err = prepareEventStmts(ctx, db, s.eq); err != nil {
		_ = s.rs.close()
		_ = db.Close()
		return nil, err
	}
	s.writes = newTxWriter(db, s.d, opts.Metrics, opts.Clock)
	s.log.Info("metadata store opened", "engine", s.d.name, "database", where, "max_conns", maxConns,
		"max_idle_conns", idle, "conn_max_lifetime", opts.ConnMaxLifetime)
	return s, nil
}

func postgresDialect() dialect {
	sub, err := fs.Sub(migrationFS, "migrations/postgres")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return dialect{
		name:             "postgres",
		migrations:       sub,
		placeholder:      postgresPlaceholder,
		classify:         classifyPostgres,
		writeTx:          &sql.TxOptions{Isolation: sql.LevelSerializable},
		schemaMigrations: postgresSchemaMigrations,
		hasSchemaMigrations: "SELECT count(*) FROM pg_catalog.pg_tables" +
			" WHERE schemaname = current_schema() AND tablename = 'schema_migrations'",
		lockMigrations:   "SELECT pg_advisory_lock(" + strconv.FormatInt(migrationLockKey, 10) + ")",
		unlockMigrations: "SELECT pg_advisory_unlock(" + strconv.FormatInt(migrationLockKey, 10) + ")",
	}
}

// postgresSchemaMigrations is sqliteSchemaMigrations in PostgreSQL's types.
const postgresSchemaMigrations = `CREATE TABLE schema_migrations (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
);
COMMENT ON TABLE schema_migrations IS 'Migrations applied to this database, one row per migrations/postgres/NNNN_name.sql file; written by the migration runner, not by a migration.';
COMMENT ON COLUMN schema_migrations.version IS 'NNNN prefix of the migration file name';
COMMENT ON COLUMN schema_migrations.name IS 'file name without .sql, e.g. 0001_init';
COMMENT ON COLUMN schema_migrations.applied_at IS 'when it was applied, Unix nanoseconds UTC'`

// postgresPlaceholder renders $1, $2, ... for the PostgreSQL dialect.
func postgresPlaceholder(n int) string { return "$" + strconv.Itoa(n) }

// classifyPostgres maps SQLSTATEs and connection failures to errClass.
func classifyPostgres(err error) errClass {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return errUnique
		case "23503": // foreign_key_violation
			return errForeignKey
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return errRetry
		case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return errUnavailable
		case "25006": // read_only_sql_transaction: a standby, e.g. during a failover
			return errUnavailable
		}
		switch pe.Code[:2] {
		case "08": // connection_exception
			return errUnavailable
		case "53": // insufficient_resources: too many connections, out of memory or disk
			return errUnavailable
		}
		return errOther
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled): // the caller went away; pgx may wrap this as a timeout
		return errOther
	case errors.As(err, &ce), errors.As(err, &ne), pgconn.Timeout(err),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded): // the database did not answer in time
		return errUnavailable
	}
	return classifyConn(err)
}

// registerBoolInts lets each new connection encode Go bools into integer
// parameters as 0 and 1: the schema keeps SQLite's 0/1 INTEGER booleans
// (with a CHECK), so the store passes bools on both engines. Scanning
// needs nothing: database/sql converts 0 and 1 to bool itself.
func registerBoolInts(_ context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	for _, name := range []string{"int2", "int4", "int8"} {
		t, ok := m.TypeForName(name)
		if !ok {
			return fmt.Errorf("pgx has no %s type", name)
		}
		m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: boolIntCodec{t.Codec}})
	}
	return nil
}

// boolIntCodec is an integer codec that also encodes bools.
type boolIntCodec struct{ pgtype.Codec }

func (c boolIntCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(bool); ok {
		// The map's plan, not the codec's: it adapts int64 to the codec.
		if next := m.PlanEncode(oid, format, int64(0)); next != nil {
			return boolAsInt{next}
		}
	}
	return c.Codec.PlanEncode(m, oid, format, value)
}

type boolAsInt struct{ next pgtype.EncodePlan }

func (p boolAsInt) Encode(value any, buf []byte) ([]byte, error) {
	var n int64
	if value.(bool) {
		n = 1
	}
	return p.next.Encode(n, buf)
}
