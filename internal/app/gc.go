package app

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/worker/gc"
)

// GCUsage describes `berth gc`.
const GCUsage = `Usage:
  berth gc [--dry-run] [--grace DURATION] [storage flags]

Runs one garbage-collection pass now: removes repository links to blobs that no manifest
references, blobs no repository links, and blob files without metadata, each once older than
the grace period (--grace, default --gc-grace: 1h). With --dry-run it reports what the pass
would reclaim and changes nothing. Safe while servers run: it follows the same protocol as
their background collection. Storage flags are those of berth serve (--data-dir, --config, ...).
`

// GC runs one garbage-collection pass (args after "gc") and prints what
// it reclaimed, or with --dry-run what it would.
func GC(ctx context.Context, args []string, d Deps) error {
	fs := flag.NewFlagSet("berth gc", flag.ContinueOnError)
	fs.SetOutput(d.Stdout)
	dry := fs.Bool("dry-run", false, "report what would be reclaimed; change nothing")
	grace := fs.Duration("grace", 0, "grace period of this pass (default: --gc-grace)")
	cfg, err := config.Load(fs, args, d.Getenv)
	if err != nil {
		return err
	}
	p := gc.PassOptions{Grace: cfg.GCGrace, DryRun: *dry}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "grace" {
			p.Grace = *grace
		}
	})
	if p.Grace < 0 {
		return fmt.Errorf("--grace %s: must not be negative", p.Grace)
	}
	if err := ensureDir(cfg.DataDir); err != nil {
		return err
	}
	meta, err := openMeta(ctx, cfg, sqlstore.Options{Logger: d.Logger, Clock: d.Clock})
	if err != nil {
		return err
	}
	defer meta.Close()
	blobs, err := openBlobStore(ctx, cfg)
	if err != nil {
		return err
	}
	c, err := gc.New(gc.Options{Meta: meta, Blobs: blobs, Logger: d.Logger, Clock: d.Clock})
	if err != nil {
		return err
	}
	r, err := c.Pass(ctx, p)
	printReport(d, r)
	return err
}

// printReport prints a pass's report, one figure per line.
func printReport(d Deps, r gc.Report) {
	verbs := [4]string{"links removed:", "blobs deleted:", "orphan files deleted:", "space reclaimed:"}
	head := "garbage collection"
	if r.DryRun {
		verbs = [4]string{"links to remove:", "blobs to delete:", "orphan files to delete:", "space to reclaim:"}
		head += " (dry run: nothing changed)"
	}
	fmt.Fprintf(d.Stdout, "%s, grace %s\n", head, r.Grace)
	fmt.Fprintf(d.Stdout, "%-24s%d\n", verbs[0], r.LinksRemoved)
	fmt.Fprintf(d.Stdout, "%-24s%d (%d bytes)\n", verbs[1], r.BlobsDeleted, r.BlobBytes)
	fmt.Fprintf(d.Stdout, "%-24s%d (%d bytes)\n", verbs[2], r.OrphansDeleted, r.OrphanBytes)
	fmt.Fprintf(d.Stdout, "%-24s%d bytes\n", verbs[3], r.ReclaimedBytes())
	fmt.Fprintf(d.Stdout, "took %s\n", r.Duration.Round(time.Millisecond))
}
