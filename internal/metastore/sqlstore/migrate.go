package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

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

// migrate brings the schema up to date, or with apply false only checks
// that it is. Each migration runs in its own write transaction that first
// re-checks schema_migrations, on one connection holding the dialect's
// migration lock, so nodes opening the database at once (another process
// on the same SQLite file, many nodes on one PostgreSQL database) apply
// each migration exactly once.
func (s *Store) migrate(ctx context.Context, apply bool) error {
	ms, err := loadMigrations(s.d.migrations)
	if err != nil {
		return err
	}
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return s.fail("migrate", err)
	}
	defer conn.Close()
	if !apply {
		return s.requireMigrated(ctx, conn, ms)
	}
	if s.d.lockMigrations != "" {
		if _, err := conn.ExecContext(ctx, s.d.lockMigrations); err != nil {
			return s.fail("lock migrations", err)
		}
		// The lock also ends with the session, should this fail.
		defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), s.d.unlockMigrations) }()
	}
	if err := s.createSchemaMigrations(ctx, conn); err != nil {
		return err
	}
	for _, m := range ms {
		applied, err := applyMigration(ctx, conn, s.q, m, s.now())
		if err != nil {
			return s.fail("migration "+m.name, err)
		}
		if applied {
			s.applied = append(s.applied, m.id())
			s.log.Info("applied schema migration", "engine", s.d.name, "migration", m.name)
		}
	}
	return warnUnknownMigrations(ctx, conn, s.q, ms, s.log)
}

// id is the migration's name without .sql, as schema_migrations keeps it.
func (m migration) id() string { return strings.TrimSuffix(m.name, ".sql") }

// createSchemaMigrations creates the runner's table unless it exists. On
// SQLite, BEGIN IMMEDIATE keeps two openers from both creating it.
func (s *Store) createSchemaMigrations(ctx context.Context, conn *sql.Conn) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return s.fail("create schema_migrations", err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	var n int
	if err := tx.QueryRowContext(ctx, s.d.hasSchemaMigrations).Scan(&n); err != nil {
		return s.fail("find schema_migrations", err)
	}
	if n == 0 {
		if _, err := tx.ExecContext(ctx, s.d.schemaMigrations); err != nil {
			return s.fail("create schema_migrations", err)
		}
	}
	return s.fail("create schema_migrations", tx.Commit())
}

// requireMigrated fails, naming them, when migrations are pending. It
// writes nothing.
func (s *Store) requireMigrated(ctx context.Context, conn *sql.Conn, ms []migration) error {
	var n int
	if err := conn.QueryRowContext(ctx, s.d.hasSchemaMigrations).Scan(&n); err != nil {
		return s.fail("find schema_migrations", err)
	}
	var pending []string
	for _, m := range ms {
		if n == 0 {
			pending = append(pending, m.id())
			continue
		}
		var one int
		err := conn.QueryRowContext(ctx, s.q.migrationApplied, m.version).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			pending = append(pending, m.id())
			continue
		}
		if err != nil {
			return s.fail("check migrations", err)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("sqlstore: the %s schema lacks migrations %s: run `berth migrate` with the same storage flags, "+
			"or start with --migrate", s.d.name, strings.Join(pending, ", "))
	}
	return warnUnknownMigrations(ctx, conn, s.q, ms, s.log)
}

func applyMigration(ctx context.Context, conn *sql.Conn, q queries, m migration, at time.Time) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
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
	if _, err := tx.ExecContext(ctx, q.insertMigration, m.version, m.id(), nanos(at)); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// warnUnknownMigrations logs versions applied by a newer binary: this one
// may not understand the schema it is about to use.
func warnUnknownMigrations(ctx context.Context, conn *sql.Conn, q queries, known []migration, log *slog.Logger) error {
	rows, err := conn.QueryContext(ctx, q.listMigrations)
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
