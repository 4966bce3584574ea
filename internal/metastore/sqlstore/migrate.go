package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// schemaMigrations records applied migrations. It is bootstrapped by the
// runner rather than by a migration so the runner can find its own state:
// version is the NNNN prefix of the file name, name the rest, applied_at
// Unix nanoseconds UTC.
const schemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)`

// migration is one NNNN_name.sql file.
type migration struct {
	version int
	name    string // file name
	sql     string
}

// loadMigrations reads the dialect's migrations in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration %q: name must be NNNN_name.sql", e.Name())
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("sqlstore: migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies every pending migration, each in its own write
// transaction that first re-checks schema_migrations, so concurrent openers
// (another process on the same file) apply each migration exactly once.
func migrate(ctx context.Context, db *sql.DB, d dialect, q queries, now func() time.Time, log *slog.Logger) error {
	ms, err := loadMigrations(d.migrations)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, schemaMigrations); err != nil {
		return fmt.Errorf("sqlstore: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		applied, err := applyMigration(ctx, db, q, m, now())
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
		if applied {
			log.Info("applied schema migration", "engine", d.name, "migration", m.name)
		}
	}
	return warnUnknownMigrations(ctx, db, q, ms, log)
}

func applyMigration(ctx context.Context, db *sql.DB, q queries, m migration, at time.Time) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	done, err := exists(ctx, tx, q.migrationApplied, m.version)
	if err != nil || done {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, q.insertMigration, m.version, strings.TrimSuffix(m.name, ".sql"), nanos(at)); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// warnUnknownMigrations logs versions applied by a newer binary: this one
// may not understand the schema it is about to use.
func warnUnknownMigrations(ctx context.Context, db *sql.DB, q queries, known []migration, log *slog.Logger) error {
	rows, err := db.QueryContext(ctx, q.listMigrations)
	if err != nil {
		return fmt.Errorf("sqlstore: list migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("sqlstore: list migrations: %w", err)
		}
		if !slices.ContainsFunc(known, func(m migration) bool { return m.version == v }) {
			log.Warn("database has a schema migration this binary does not know; was it opened by a newer berth?", "version", v)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlstore: list migrations: %w", err)
	}
	return nil
}
