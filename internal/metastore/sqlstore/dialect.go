package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"io/fs"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations
var migrationFS embed.FS

// errClass is the engine-independent meaning of a driver error.
type errClass int

const (
	errOther       errClass = iota
	errUnique               // unique or primary-key violation
	errForeignKey           // foreign-key violation
	errRetry                // serialization failure or deadlock: running the transaction again may succeed
	errUnavailable          // the database cannot be reached or cannot serve now
)

// dialect is the seam between the store and one SQL engine. Queries are
// written once with '?' placeholders and rebound per dialect; everything else
// that differs between SQLite and PostgreSQL lives here.
type dialect struct {
	name string
	// migrations holds NNNN_name.sql files, applied in version order.
	migrations fs.FS
	// placeholder renders the n-th (1-based) bind parameter; nil keeps '?'.
	placeholder func(n int) string
	// classify maps a driver error to an errClass.
	classify func(err error) errClass
	// writeTx are the options of every write transaction. SQLite needs none:
	// its single writer and BEGIN IMMEDIATE (_txlock) serialize writes.
	// PostgreSQL runs writes concurrently, as SERIALIZABLE (see txwriter.go).
	writeTx *sql.TxOptions
	// schemaMigrations creates the migration runner's own table;
	// hasSchemaMigrations counts (0 or 1) whether it exists, so a node that
	// must not migrate (and may lack the rights to) runs no DDL.
	schemaMigrations, hasSchemaMigrations string
	// lockMigrations and unlockMigrations bracket a migration run on one
	// connection so that nodes starting together apply each migration
	// exactly once; empty where each migration's write transaction already
	// excludes the others (SQLite's BEGIN IMMEDIATE).
	lockMigrations, unlockMigrations string
	// onClose runs on the writer before closing; may be empty.
	onClose string
}

func sqliteDialect() dialect {
	sub, err := fs.Sub(migrationFS, "migrations/sqlite")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return dialect{
		name:             "sqlite",
		migrations:       sub,
		classify:         classifySQLite,
		schemaMigrations: sqliteSchemaMigrations,
		onClose:          "PRAGMA optimize", // refresh planner statistics found stale while running

		hasSchemaMigrations: "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
	}
}

// sqliteSchemaMigrations records applied migrations: version is the NNNN
// prefix of the file name, name the rest, applied_at Unix nanoseconds UTC.
const sqliteSchemaMigrations = `CREATE TABLE schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)`

func classifySQLite(err error) errClass {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return classifyConn(err)
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return errUnique
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return errForeignKey
	}
	// Another process (an admin command, a backup) held the database
	// locked for longer than the busy timeout.
	switch se.Code() & 0xff { // primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return errUnavailable
	}
	return errOther
}

// classifyConn recognizes database/sql's own connection failures, whatever
// the engine.
func classifyConn(err error) errClass {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return errUnavailable
	}
	return errOther
}

// rebind rewrites '?' placeholders for the dialect. Queries in this package
// never contain '?' inside string literals.
func (d dialect) rebind(q string) string {
	if d.placeholder == nil {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString(d.placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// insertIgnore renders an INSERT that silently skips rows whose key already
// exists. SQLite (3.24+) and PostgreSQL share this syntax; a dialect that does
// not would branch here.
func (d dialect) insertIgnore(table string, cols, key []string) string {
	return insertSQL(table, cols) + " ON CONFLICT (" + strings.Join(key, ", ") + ") DO NOTHING"
}

// upsert renders an INSERT that, on a key conflict, overwrites the update
// columns with the new row's values.
func (d dialect) upsert(table string, cols, key, update []string) string {
	set := make([]string, len(update))
	for i, c := range update {
		set[i] = c + " = excluded." + c
	}
	return insertSQL(table, cols) + " ON CONFLICT (" + strings.Join(key, ", ") +
		") DO UPDATE SET " + strings.Join(set, ", ")
}

func insertSQL(table string, cols []string) string {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + marks + ")"
}
