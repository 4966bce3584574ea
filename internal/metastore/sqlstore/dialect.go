package sqlstore

import (
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations
var migrationFS embed.FS

// errClass is the engine-independent meaning of a driver error.
type errClass int

const (
	errOther      errClass = iota
	errUnique              // unique or primary-key violation
	errForeignKey          // foreign-key violation
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
	// PostgreSQL will need isolation (or row locks) so a check-then-insert
	// such as PutManifest's reference check cannot race a concurrent delete.
	writeTx *sql.TxOptions
	// onClose runs on the writer before closing; may be empty.
	onClose string
}

func sqliteDialect() dialect {
	sub, err := fs.Sub(migrationFS, "migrations/sqlite")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return dialect{
		name:       "sqlite",
		migrations: sub,
		classify:   classifySQLite,
		onClose:    "PRAGMA optimize", // refresh planner statistics found stale while running
	}
}

// postgresPlaceholder renders $1, $2, ... for the PostgreSQL dialect.
func postgresPlaceholder(n int) string { return "$" + strconv.Itoa(n) }

func classifySQLite(err error) errClass {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return errOther
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return errUnique
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return errForeignKey
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
