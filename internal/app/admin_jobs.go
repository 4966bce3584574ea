package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/metastore"
)

// JobsUsage describes the job commands.
const JobsUsage = `Usage:
  berth admin jobs [--json] [storage flags]                              background jobs: state, claim, last and next run
  berth admin jobs runs --job <name> [--limit <n>] [--json] [storage flags]   a job's newest runs (up to 100), newest first
  berth admin jobs run --job <name> [--wait [--timeout <d>]] [storage flags]  make a job due now (e.g. gc, lifecycle,
                                                                         audit-retention); --wait prints its run

A job runs on one node at a time: the node holding its claim (HOLDER, <node name>/<id of its process>) until
CLAIMED-UNTIL, renewed while it runs. STATE is running (a live claim), lapsed (the holder stopped renewing:
its node died or stalled; another node takes the job over), due (waiting for a node to claim it) or idle.

` + "`run`" + ` makes the job due on every node; the first node to poll (within 5 s) runs it once, then the job
keeps its schedule. A job that is running runs once more when it finishes.
`

// jobView is one job as `berth admin jobs` shows it.
type jobView struct {
	Name           string     `json:"name"`
	State          string     `json:"state"`
	Holder         string     `json:"holder,omitempty"`
	ClaimedUntil   *time.Time `json:"claimedUntil,omitempty"`
	LastHolder     string     `json:"lastHolder,omitempty"`
	LastStartedAt  *time.Time `json:"lastStartedAt,omitempty"`
	LastFinishedAt *time.Time `json:"lastFinishedAt,omitempty"`
	LastResult     string     `json:"lastResult,omitempty"`
	Runs           int64      `json:"runs"`
	NextRunAt      time.Time  `json:"nextRunAt"`
}

// jobRunView is one run as `berth admin jobs runs` shows it.
type jobRunView struct {
	Job        string    `json:"job"`
	Holder     string    `json:"holder"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	Result     string    `json:"result"`
}

// adminJobs runs `berth admin jobs …` (args after "jobs").
func adminJobs(ctx context.Context, args []string, d Deps) error {
	verb := ""
	if len(args) > 0 && (args[0] == "runs" || args[0] == "run") {
		verb, args = args[0], args[1:]
	}
	runs, run := verb == "runs", verb == "run"
	fs := flag.NewFlagSet("berth admin jobs", flag.ContinueOnError)
	fs.SetOutput(d.Stdout)
	fs.Usage = func() {
		fmt.Fprint(d.Stdout, JobsUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	job := fs.String("job", "", "the job whose runs to list (runs), or to run (run)")
	limit := fs.Int("limit", 20, "how many runs to list, 1 to 100 (runs only)")
	wait := fs.Bool("wait", false, "wait for the run and print it; exit 1 if it failed (run only)")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long --wait waits (run only)")
	cfg, err := config.Load(fs, args, d.Getenv)
	if err != nil {
		return err
	}
	if !runs && !run && flagSet(fs, "job") {
		return errors.New("--job goes with `berth admin jobs runs` or `berth admin jobs run`")
	}
	if !runs && flagSet(fs, "limit") {
		return errors.New("--limit goes with `berth admin jobs runs`")
	}
	if !run && (flagSet(fs, "wait") || flagSet(fs, "timeout")) {
		return errors.New("--wait and --timeout go with `berth admin jobs run`")
	}
	if (runs || run) && *job == "" {
		return errors.New("--job is required, e.g. --job gc")
	}
	if *timeout <= 0 {
		return fmt.Errorf("--timeout %s: want a positive duration", *timeout)
	}
	if *limit < 1 || *limit > metastore.MaxJobRuns {
		return fmt.Errorf("--limit %d: want 1 to %d", *limit, metastore.MaxJobRuns)
	}
	meta, err := openAdminMeta(ctx, cfg, d)
	if err != nil {
		return err
	}
	defer meta.Close()
	if runs {
		return printJobRuns(ctx, meta, *job, *limit, *asJSON, d.Stdout)
	}
	if run {
		return runJob(ctx, meta, d, *job, *wait, *timeout, *asJSON)
	}
	return printJobs(ctx, meta, d.Clock(), *asJSON, d.Stdout)
}

// jobPoll is how often `jobs run --wait` looks at the job.
const jobPoll = 200 * time.Millisecond

// runJob makes a job due now and, with wait, waits for a run that started
// after that and prints it.
func runJob(ctx context.Context, meta metastore.Store, d Deps, name string, wait bool, timeout time.Duration, asJSON bool) error {
	before, err := findJob(ctx, meta, name)
	if err != nil {
		return err
	}
	if err := meta.ScheduleJob(ctx, name, d.Clock()); err != nil {
		return err
	}
	if !wait {
		fmt.Fprintf(d.Stdout, "job %s is due now; a node runs it within its poll interval\n", name)
		return nil
	}
	// A run under way when the job was made due started too early: the
	// run that serves the request is the one after it.
	want := before.Runs + 1
	if before.Holder != "" && before.ClaimedUntil.After(d.Clock()) {
		want++
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(jobPoll)
	defer t.Stop()
	waited := func() error {
		return fmt.Errorf("job %s: no run finished within %s (is a node running? `berth admin jobs` shows the job's state)", name, timeout)
	}
	for {
		j, err := findJob(ctx, meta, name)
		if err != nil {
			if ctx.Err() != nil {
				return waited()
			}
			return err
		}
		if j.Runs >= want {
			runs, err := meta.ListJobRuns(ctx, name, 1)
			if err != nil {
				return err
			}
			if len(runs) == 0 { // pruned or not yet visible: report the job's own record
				runs = []metastore.JobRun{{Name: name, Holder: j.LastHolder, StartedAt: j.LastStartedAt,
					FinishedAt: j.LastFinishedAt, Error: j.LastError}}
			}
			r := runs[0]
			v := jobRunView{Job: r.Name, Holder: r.Holder, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Result: result(r.Error)}
			if asJSON {
				err = writeJSON(d.Stdout, v)
			} else {
				fmt.Fprintf(d.Stdout, "job %s ran on %s: %s, took %s\n", v.Job, v.Holder, v.Result,
					v.FinishedAt.Sub(v.StartedAt).Round(time.Millisecond))
			}
			if err == nil && r.Error != "" {
				err = fmt.Errorf("job %s failed: %s", name, r.Error)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return waited()
		case <-t.C:
		}
	}
}

// findJob returns the named job; nodes register their jobs when they start.
func findJob(ctx context.Context, meta metastore.Store, name string) (metastore.Job, error) {
	jobs, err := meta.ListJobs(ctx)
	if err != nil {
		return metastore.Job{}, err
	}
	names := make([]string, 0, len(jobs))
	for _, j := range jobs {
		if j.Name == name {
			return j, nil
		}
		names = append(names, j.Name)
	}
	if len(names) == 0 {
		return metastore.Job{}, fmt.Errorf("unknown job %q: no node has registered its jobs yet (start berth serve first)", name)
	}
	return metastore.Job{}, fmt.Errorf("unknown job %q; the jobs are: %s", name, strings.Join(names, ", "))
}

func printJobs(ctx context.Context, meta metastore.Store, now time.Time, asJSON bool, out io.Writer) error {
	jobs, err := meta.ListJobs(ctx)
	if err != nil {
		return err
	}
	views := make([]jobView, 0, len(jobs))
	for _, j := range jobs {
		views = append(views, viewJob(j, now))
	}
	if asJSON {
		return writeJSON(out, views)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JOB\tSTATE\tHOLDER\tCLAIMED-UNTIL\tLAST-HOLDER\tLAST-START\tLAST-END\tLAST-RESULT\tRUNS\tNEXT-RUN")
	for _, v := range views {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", v.Name, v.State, dash(v.Holder),
			timeOrDash(v.ClaimedUntil), dash(v.LastHolder), timeOrDash(v.LastStartedAt), timeOrDash(v.LastFinishedAt),
			dash(v.LastResult), v.Runs, v.NextRunAt.Format(time.RFC3339))
	}
	return w.Flush()
}

func printJobRuns(ctx context.Context, meta metastore.Store, job string, limit int, asJSON bool, out io.Writer) error {
	runs, err := meta.ListJobRuns(ctx, job, limit)
	if err != nil {
		return err
	}
	views := make([]jobRunView, 0, len(runs))
	for _, r := range runs {
		views = append(views, jobRunView{Job: r.Name, Holder: r.Holder, StartedAt: r.StartedAt,
			FinishedAt: r.FinishedAt, Result: result(r.Error)})
	}
	if asJSON {
		return writeJSON(out, views)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JOB\tHOLDER\tSTARTED\tFINISHED\tTOOK\tRESULT")
	for _, v := range views {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Job, v.Holder, v.StartedAt.Format(time.RFC3339Nano),
			v.FinishedAt.Format(time.RFC3339Nano), v.FinishedAt.Sub(v.StartedAt).Round(time.Millisecond), v.Result)
	}
	return w.Flush()
}

// viewJob derives a job's state at now.
func viewJob(j metastore.Job, now time.Time) jobView {
	v := jobView{Name: j.Name, LastHolder: j.LastHolder, Runs: j.Runs, NextRunAt: j.NextRunAt.UTC()}
	switch {
	case j.Holder != "" && j.ClaimedUntil.After(now):
		v.State = "running"
	case j.Holder != "":
		v.State = "lapsed"
	case !j.NextRunAt.After(now):
		v.State = "due"
	default:
		v.State = "idle"
	}
	if j.Holder != "" {
		v.Holder, v.ClaimedUntil = j.Holder, utcPtr(j.ClaimedUntil)
	}
	if j.Runs > 0 {
		v.LastStartedAt, v.LastFinishedAt, v.LastResult = utcPtr(j.LastStartedAt), utcPtr(j.LastFinishedAt), result(j.LastError)
	}
	return v
}

func result(runErr string) string {
	if runErr == "" {
		return "ok"
	}
	return "error: " + runErr
}

func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
