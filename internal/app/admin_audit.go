package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
)

// AuditUsage describes `berth admin audit`.
const AuditUsage = `Usage:
  berth admin audit lookup [--start-time T] [--end-time T] [--event-name NAME]
                           [--principal ARN|USER|ACCESS-KEY-ID] [--resource ARN|REPOSITORY]
                           [--max-results N] [--next-token TOKEN] [storage flags]
      print matching audit records, newest first, as LookupEvents JSON
  berth admin audit export [--start-time T] [--end-time T] [--out FILE] [storage flags]
      print the records of a time range, oldest first, one CloudTrail JSON record per line
  berth admin audit verify [storage flags]
      check the hash chain; exits non-zero naming the first changed or removed record

Times are RFC 3339 (2026-12-06T08:00:00Z); --start-time is inclusive, --end-time exclusive.
`

// auditCommand holds the flags of every audit command.
type auditCommand struct {
	start, end, eventName, principal, resource, nextToken, out string
	maxResults                                                 int
}

// adminAudit runs `berth admin audit …` (args after "audit").
func adminAudit(ctx context.Context, args []string, d Deps) error {
	if len(args) == 0 {
		return fmt.Errorf("missing audit command\n\n%s", AuditUsage)
	}
	verb := args[0]
	fs := flag.NewFlagSet("berth admin audit "+verb, flag.ContinueOnError)
	fs.SetOutput(d.Stdout)
	var c auditCommand
	fs.StringVar(&c.start, "start-time", "", "only records at or after this time (RFC 3339)")
	fs.StringVar(&c.end, "end-time", "", "only records before this time (RFC 3339)")
	fs.StringVar(&c.eventName, "event-name", "", "only records of this eventName (lookup)")
	fs.StringVar(&c.principal, "principal", "", "only records of this principal ARN, user name or access key id (lookup)")
	fs.StringVar(&c.resource, "resource", "", "only records about this resource ARN or repository name (lookup)")
	fs.IntVar(&c.maxResults, "max-results", audit.DefaultMaxResults, fmt.Sprintf("records per page, 1 to %d (lookup)", audit.MaxMaxResults))
	fs.StringVar(&c.nextToken, "next-token", "", "NextToken of the previous page (lookup)")
	fs.StringVar(&c.out, "out", "", "file to write the export to (default: standard output)")
	cfg, err := config.Load(fs, args[1:], d.Getenv)
	if err != nil {
		return err
	}
	f, err := c.filter()
	if err != nil {
		return err
	}
	var meta auditDB
	if cfg.Postgres() {
		s, err := openAdminMeta(ctx, cfg, d)
		if err != nil {
			return err
		}
		defer s.Close()
		meta = auditDB{AuditStore: s}
	} else {
		// Only a server writes the trail: a data directory without one is
		// a mistake (a mistyped --data-dir), not an empty trail.
		if _, err := os.Stat(filepath.Join(cfg.DataDir, auditSQLiteFile)); err != nil {
			return fmt.Errorf("no audit trail in data directory %s (%s); is --data-dir the server's?", cfg.DataDir, auditSQLiteFile)
		}
		if meta, err = openAuditDB(ctx, cfg, nil, sqlstore.Options{Logger: d.Logger, Clock: d.Clock}); err != nil {
			return err
		}
	}
	defer meta.Close()
	switch verb {
	case "lookup":
		out, err := audit.Lookup(ctx, meta, audit.LookupInput{Filter: f, MaxResults: c.maxResults, NextToken: c.nextToken})
		if err != nil {
			return err
		}
		return writeJSON(d.Stdout, out)
	case "export":
		if f.EventName != "" || f.Principal != "" || f.Resource != "" {
			return errors.New("export selects by time only (--start-time, --end-time); use lookup to filter further")
		}
		return exportAudit(ctx, meta, f, c.out, d.Stdout)
	case "verify":
		return verifyAudit(ctx, meta, d.Stdout)
	}
	return fmt.Errorf("unknown audit command %q\n\n%s", verb, AuditUsage)
}

// filter parses the selection flags.
func (c auditCommand) filter() (metastore.AuditFilter, error) {
	f := metastore.AuditFilter{EventName: c.eventName, Principal: c.principal, Resource: c.resource}
	for _, t := range []struct {
		flag, v string
		dst     *time.Time
	}{{"start-time", c.start, &f.Start}, {"end-time", c.end, &f.End}} {
		if t.v == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, t.v)
		if err != nil {
			return f, fmt.Errorf("--%s %q: want an RFC 3339 time such as 2026-12-06T08:00:00Z", t.flag, t.v)
		}
		*t.dst = at
	}
	if !f.Start.IsZero() && !f.End.IsZero() && !f.End.After(f.Start) {
		return f, errors.New("--end-time must be after --start-time")
	}
	return f, nil
}

// exportAudit writes JSON lines to path (or w) and says how many on stderr
// only when writing a file.
func exportAudit(ctx context.Context, s metastore.AuditStore, f metastore.AuditFilter, path string, w io.Writer) error {
	if path == "" {
		_, err := audit.Export(ctx, s, f, w)
		return err
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	n, err := audit.Export(ctx, s, f, file)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "exported %d audit records to %s\n", n, path)
	return nil
}

// verifyAudit checks the chain and fails naming the first bad record.
func verifyAudit(ctx context.Context, s metastore.AuditStore, w io.Writer) error {
	res, err := audit.Verify(ctx, s)
	if err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("audit trail verification FAILED at record %d (%s): %s", res.BadSeq, res.Problem, res.Detail)
	}
	fmt.Fprintf(w, "audit trail verified: %d records, seq %d to %d, chain intact; head hash %s\n",
		res.Records, res.AnchorSeq+1, res.HeadSeq, res.HeadHash)
	return nil
}
