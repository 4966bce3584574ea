package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/metastore"
)

// EventsUsage describes the event commands.
const EventsUsage = `Usage:
  berth admin events sink create --name <name> --type webhook --url <http(s) URL> [--secret <s> | --secret-file <file>]
                                 [sink options] [storage flags]
  berth admin events sink create --name <name> --type nats --url nats://<host:port> --subject <subject>
                                 [sink options] [storage flags]
  berth admin events sink list [--account <id>] [storage flags]
  berth admin events sink delete --name <name> [--account <id>] [storage flags]
  berth admin events dead-letters list [--account <id>] [--sink <name>] [storage flags]
  berth admin events dead-letters retry|discard [--account <id>] [--sink <name>] [--event-id <id>]... [storage flags]
  berth admin events status [storage flags]

Sink options: --account <id> (default: the default account), --detail-type <type> (repeatable; default: all),
--repository-prefix <prefix>, --timeout <duration> (10s), --max-attempts <n> (0: no limit), --retry-for <duration> (24h).
retry and discard without --event-id act on every dead letter of the sink (of every sink without --sink).
`

// detailTypes are the EventBridge detail-types ECR sends (spec §9), the
// values --detail-type accepts.
var detailTypes = []string{
	metastore.DetailTypeImageAction, metastore.DetailTypeReferrerAction, metastore.DetailTypeImageScan,
	metastore.DetailTypeReplicationAction, "ECR Pull Through Cache Action", "ECR Artifact Action",
	"ECR Scan Resource Change",
}

var (
	sinkNameRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	natsSubjectRE = regexp.MustCompile(`^[^.\s*>]+(\.[^.\s*>]+)*$`)
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// eventsCommand holds the flags of every event command.
type eventsCommand struct {
	account, name, typ, url, subject, secret, secretFile, prefix, sink string
	detailTypes, eventIDs                                              listFlag
	timeout, retryFor                                                  time.Duration
	maxAttempts                                                        int
}

// adminEvents runs `berth admin events …` (args after "events").
func adminEvents(ctx context.Context, args []string, d Deps) error {
	if len(args) == 0 {
		return fmt.Errorf("missing events command\n\n%s", EventsUsage)
	}
	verb := args[0]
	rest := args[1:]
	if verb == "sink" || verb == "dead-letters" {
		if len(args) < 2 {
			return fmt.Errorf("missing %s command\n\n%s", verb, EventsUsage)
		}
		verb, rest = args[0]+" "+args[1], args[2:]
	}
	fs := flag.NewFlagSet("berth admin events "+verb, flag.ContinueOnError)
	fs.SetOutput(d.Stdout)
	var c eventsCommand
	fs.StringVar(&c.account, "account", "", "account id (default: the default account)")
	fs.StringVar(&c.name, "name", "", "sink name")
	fs.StringVar(&c.typ, "type", "", "sink type: webhook or nats")
	fs.StringVar(&c.url, "url", "", "webhook URL or nats:// server URL")
	fs.StringVar(&c.subject, "subject", "", "NATS subject")
	fs.StringVar(&c.secret, "secret", "", "webhook signing secret (prefer --secret-file)")
	fs.StringVar(&c.secretFile, "secret-file", "", "file holding the webhook signing secret")
	fs.StringVar(&c.prefix, "repository-prefix", "", "deliver only events of repositories whose name starts with this")
	fs.StringVar(&c.sink, "sink", "", "sink name (dead letters)")
	fs.Var(&c.detailTypes, "detail-type", "deliver only events of this detail-type (repeatable)")
	fs.Var(&c.eventIDs, "event-id", "dead letter's event id (repeatable)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "bound of one delivery attempt")
	fs.DurationVar(&c.retryFor, "retry-for", 24*time.Hour, "dead-letter an event still failing this long after its first attempt")
	fs.IntVar(&c.maxAttempts, "max-attempts", 0, "dead-letter an event after this many failed attempts (0: no limit)")
	cfg, err := config.Load(fs, rest, d.Getenv)
	if err != nil {
		return err
	}
	if c.account == "" {
		c.account = cfg.AccountID
	}
	meta, err := openAdminMeta(ctx, cfg, d)
	if err != nil {
		return err
	}
	defer meta.Close()
	switch verb {
	case "sink create":
		return createSink(ctx, cfg, meta, c, d)
	case "sink list":
		return listSinks(ctx, meta, fs, c, d.Stdout)
	case "sink delete":
		if c.name == "" {
			return errors.New("--name is required")
		}
		if err := meta.DeleteEventSink(ctx, c.account, c.name); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				return fmt.Errorf("account %s has no sink named %q", c.account, c.name)
			}
			return err
		}
		fmt.Fprintf(d.Stdout, "deleted sink %s of account %s, with its pending deliveries and dead letters\n", c.name, c.account)
		return nil
	case "dead-letters list":
		return listDeadLetters(ctx, meta, c, d.Stdout)
	case "dead-letters retry", "dead-letters discard":
		return changeDeadLetters(ctx, meta, verb, c, d.Stdout)
	case "status":
		return eventStatus(ctx, meta, d)
	}
	return fmt.Errorf("unknown events command %q\n\n%s", verb, EventsUsage)
}

// createSink validates the flags, seals the secret and stores the sink.
func createSink(ctx context.Context, cfg config.Config, meta metastore.Store, c eventsCommand, d Deps) error {
	k := metastore.EventSink{AccountID: c.account, Name: c.name, Type: c.typ, URL: c.url, Subject: c.subject,
		DetailTypes: c.detailTypes, RepositoryPrefix: c.prefix, Timeout: c.timeout, MaxAttempts: c.maxAttempts,
		RetryFor: c.retryFor, CreatedAt: d.Clock()}
	secret, err := c.readSecret()
	if err != nil {
		return err
	}
	if err := validateSink(k, secret != ""); err != nil {
		return err
	}
	if secret != "" {
		sealer, err := openSealer(ctx, cfg, meta)
		if err != nil {
			return err
		}
		if k.SecretCiphertext, err = sealer.Seal([]byte(secret), events.SecretAAD(k.AccountID, k.Name)); err != nil {
			return err
		}
	}
	if err := meta.CreateEventSink(ctx, &k); err != nil {
		switch {
		case errors.Is(err, metastore.ErrAlreadyExists):
			return fmt.Errorf("account %s already has a sink named %q", k.AccountID, k.Name)
		case errors.Is(err, metastore.ErrNotFound):
			return fmt.Errorf("account %s does not exist", k.AccountID)
		}
		return err
	}
	fmt.Fprintf(d.Stdout, "created %s sink %s of account %s: events from now on go to %s\n", k.Type, k.Name, k.AccountID,
		sinkTarget(k))
	return nil
}

// readSecret returns the secret given by --secret or --secret-file.
func (c eventsCommand) readSecret() (string, error) {
	if c.secret != "" && c.secretFile != "" {
		return "", errors.New("give --secret or --secret-file, not both")
	}
	if c.secretFile == "" {
		return c.secret, nil
	}
	b, err := os.ReadFile(c.secretFile)
	if err != nil {
		return "", fmt.Errorf("--secret-file: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("--secret-file %s is empty", c.secretFile)
	}
	return s, nil
}

// validateSink checks a new sink and says what to fix.
func validateSink(k metastore.EventSink, hasSecret bool) error {
	var errs []error
	if !sinkNameRE.MatchString(k.Name) {
		errs = append(errs, fmt.Errorf("--name %q: want 1-64 letters, digits, '.', '_' or '-'", k.Name))
	}
	u, err := url.Parse(k.URL)
	switch k.Type {
	case metastore.SinkWebhook:
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--url %q: want an absolute http:// or https:// URL", redactURL(k.URL)))
		}
		if k.Subject != "" {
			errs = append(errs, errors.New("--subject is for NATS sinks"))
		}
	case metastore.SinkNATS:
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--url %q: want nats://host:port (or tls://)", redactURL(k.URL)))
		}
		if !natsSubjectRE.MatchString(k.Subject) || len(k.Subject) > 255 {
			errs = append(errs, fmt.Errorf("--subject %q: want a NATS subject such as registry.events (no spaces or wildcards)", k.Subject))
		}
		if hasSecret {
			errs = append(errs, errors.New("--secret is for webhook sinks (NATS authenticates with credentials in the URL)"))
		}
	default:
		errs = append(errs, fmt.Errorf("--type %q: want webhook or nats", k.Type))
	}
	for _, t := range k.DetailTypes {
		if !slices.Contains(detailTypes, t) {
			errs = append(errs, fmt.Errorf("--detail-type %q: want one of %q", t, detailTypes))
		}
	}
	if len(k.RepositoryPrefix) > 256 {
		errs = append(errs, errors.New("--repository-prefix: at most 256 characters"))
	}
	if k.Timeout < 100*time.Millisecond || k.Timeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("--timeout %s: want between 100ms and 5m", k.Timeout))
	}
	if k.MaxAttempts < 0 || k.MaxAttempts > 1000 {
		errs = append(errs, fmt.Errorf("--max-attempts %d: want 0 (no limit) to 1000", k.MaxAttempts))
	}
	if k.RetryFor < 0 || k.RetryFor > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("--retry-for %s: want 0 (no limit) to 720h", k.RetryFor))
	}
	return errors.Join(errs...)
}

// redactURL hides a URL's password (NATS credentials); never log a sink
// URL without it.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func sinkTarget(k metastore.EventSink) string {
	if k.Type == metastore.SinkNATS {
		return redactURL(k.URL) + " subject " + k.Subject
	}
	return redactURL(k.URL)
}

func listSinks(ctx context.Context, meta metastore.Store, fs *flag.FlagSet, c eventsCommand, out io.Writer) error {
	account := c.account
	if !flagSet(fs, "account") {
		account = "" // every account
	}
	sinks, err := meta.ListEventSinks(ctx, account)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ACCOUNT\tNAME\tTYPE\tTARGET\tSIGNED\tDETAIL-TYPES\tREPOSITORY-PREFIX\tTIMEOUT\tMAX-ATTEMPTS\tRETRY-FOR\tCREATED")
	for _, k := range sinks {
		types := strings.Join(k.DetailTypes, ",")
		if types == "" {
			types = "*"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\t%d\t%s\t%s\n", k.AccountID, k.Name, k.Type, sinkTarget(k),
			len(k.SecretCiphertext) > 0, types, k.RepositoryPrefix, k.Timeout, k.MaxAttempts, k.RetryFor,
			k.CreatedAt.Format(time.RFC3339))
	}
	return w.Flush()
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func listDeadLetters(ctx context.Context, meta metastore.Store, c eventsCommand, out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SINK\tEVENT-ID\tTIME\tREPOSITORY\tDETAIL-TYPE\tACTION\tTAG\tDIGEST\tATTEMPTS\tDEAD-AT\tLAST-ERROR")
	var after int64
	for {
		page, err := meta.ListDeadLetters(ctx, c.account, c.sink, after, 1000)
		if err != nil {
			return err
		}
		for _, dl := range page {
			e := dl.Event
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", dl.SinkName, e.ID, e.Time.Format(time.RFC3339),
				e.Repository, e.DetailType, e.ActionType, e.Tag, e.Digest, dl.Attempts, dl.DeadAt.Format(time.RFC3339),
				dl.LastError)
			after = e.Seq
		}
		if len(page) < 1000 {
			return w.Flush()
		}
	}
}

func changeDeadLetters(ctx context.Context, meta metastore.Store, verb string, c eventsCommand, out io.Writer) error {
	var n int
	var err error
	if verb == "dead-letters retry" {
		n, err = meta.RetryDeadLetters(ctx, c.account, c.sink, c.eventIDs)
	} else {
		n, err = meta.DiscardDeadLetters(ctx, c.account, c.sink, c.eventIDs)
	}
	if err != nil {
		return err
	}
	done := "requeued for delivery now"
	if verb == "dead-letters discard" {
		done = "discarded"
	}
	fmt.Fprintf(out, "%d dead letters %s\n", n, done)
	if n == 0 && len(c.eventIDs) > 0 {
		return errors.New("no dead letter matched the given --event-id values")
	}
	return nil
}

func eventStatus(ctx context.Context, meta metastore.Store, d Deps) error {
	st, err := meta.EventStats(ctx)
	if err != nil {
		return err
	}
	oldest := "-"
	if !st.OldestPending.IsZero() {
		oldest = fmt.Sprintf("%s (%s ago)", st.OldestPending.Format(time.RFC3339), d.Clock().Sub(st.OldestPending).Round(time.Second))
	}
	fmt.Fprintf(d.Stdout, "unrouted events:      %d\npending deliveries:   %d\ndead letters:         %d\noldest undelivered:   %s\n",
		st.Unrouted, st.Pending, st.Dead, oldest)
	return nil
}
