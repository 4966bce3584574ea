package app

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
)

// openMeta opens the configured metadata store: SQLite in the data
// directory (the default), or the PostgreSQL database cfg.Database names.
// It applies pending migrations when cfg.Migrate is on.
func openMeta(ctx context.Context, cfg config.Config, o sqlstore.Options) (*sqlstore.Store, error) {
	o.NoMigrate = !cfg.Migrate
	if cfg.Postgres() {
		o.MaxConns, o.MaxIdleConns, o.ConnMaxLifetime = cfg.DBMaxConns, cfg.DBMaxIdleConns, cfg.DBConnMaxLifetime
		return sqlstore.OpenPostgres(ctx, cfg.Database, o)
	}
	o.MaxReaders = cfg.DBMaxConns
	return sqlstore.OpenSQLite(ctx, filepath.Join(cfg.DataDir, config.SQLiteFile), o)
}

// openAdminMeta opens the metadata store for an operator command: as
// openMeta, after creating the data directory when SQLite lives there.
func openAdminMeta(ctx context.Context, cfg config.Config, d Deps) (*sqlstore.Store, error) {
	if !cfg.Postgres() {
		if err := ensureDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	return openMeta(ctx, cfg, sqlstore.Options{Logger: d.Logger, Clock: d.Clock})
}

// MigrateUsage describes `berth migrate`.
const MigrateUsage = `Usage:
  berth migrate [storage flags]   apply pending schema migrations and print what was applied

Storage flags are those of berth serve (--database, --data-dir, --config, ...). Nodes started
with --migrate (the default) migrate by themselves; run this before starting nodes with
--migrate=false. Concurrent runs and starting nodes apply each migration exactly once.
`

// Migrate applies the configured database's pending migrations (args are
// those after "migrate") and prints what it applied.
func Migrate(ctx context.Context, args []string, d Deps) error {
	fs := flag.NewFlagSet("berth migrate", flag.ContinueOnError)
	fs.SetOutput(d.Stdout)
	fs.Usage = func() {
		fmt.Fprint(d.Stdout, MigrateUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	cfg, err := config.Load(fs, args, d.Getenv)
	if err != nil {
		return err
	}
	cfg.Migrate = true // what this command is for, whatever the configuration says
	meta, err := openAdminMeta(ctx, cfg, d)
	if err != nil {
		return err
	}
	defer meta.Close()
	applied := meta.Applied()
	for _, m := range applied {
		fmt.Fprintf(d.Stdout, "applied %s\n", m)
	}
	if len(applied) == 0 {
		fmt.Fprintf(d.Stdout, "%s schema of %s is up to date\n", meta.Engine(), cfg.DatabaseRedacted())
	} else {
		fmt.Fprintf(d.Stdout, "%s schema of %s is up to date (%d migrations applied)\n", meta.Engine(), cfg.DatabaseRedacted(), len(applied))
	}
	return nil
}
