// Command berth is a self-hosted container registry that behaves like
// Amazon ECR. See the README for usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `berth: a self-hosted container registry that behaves like Amazon ECR

Usage:
  berth serve [flags]     run the registry (berth serve -h lists the flags)
  berth admin account …   create, list and delete accounts (berth admin -h)
  berth migrate [flags]   apply pending database schema migrations (berth migrate -h)
  berth gc [--dry-run]    collect garbage now, or report what would be reclaimed (berth gc -h)
  berth admin events …    event sinks (webhooks, NATS) and dead letters
  berth admin jobs        background jobs: where and when they run (berth admin jobs -h)
  berth admin audit …     look up, export and verify the audit trail
  berth version           print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "admin":
		return admin(args[1:], stdout, stderr)
	case "migrate":
		return migrate(args[1:], stdout, stderr)
	case "gc":
		return collectGarbage(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "berth", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "berth: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("berth serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := config.Load(fs, args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "berth serve: %v\n", err)
		return 2
	}
	log := app.NewLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, app.Deps{Logger: log, Clock: time.Now, Getenv: os.Getenv, Stdout: stdout})
	if err != nil {
		fmt.Fprintf(stderr, "berth serve: %v\n", err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "berth serve: %v\n", err)
		return 1
	}
	return 0
}

func admin(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, app.AdminUsage)
		return 0
	}
	cfg := config.Default()
	cfg.LogLevel = "warn" // migrations and store messages are not for the operator here
	log := app.NewLogger(cfg, stderr).With("command", "admin")
	err := app.Admin(context.Background(), args, app.Deps{Logger: log, Clock: time.Now, Getenv: os.Getenv, Stdout: stdout})
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "berth admin: %v\n", err)
		return 1
	}
	return 0
}

func migrate(args []string, stdout, stderr io.Writer) int {
	cfg := config.Default()
	cfg.LogLevel = "warn" // what was applied goes to stdout
	log := app.NewLogger(cfg, stderr).With("command", "migrate")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.Migrate(ctx, args, app.Deps{Logger: log, Clock: time.Now, Getenv: os.Getenv, Stdout: stdout})
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "berth migrate: %v\n", err)
		return 1
	}
	return 0
}

func collectGarbage(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, app.GCUsage)
		return 0
	}
	cfg := config.Default()
	cfg.LogLevel = "warn" // the report is printed; store messages are not for the operator here
	log := app.NewLogger(cfg, stderr).With("command", "gc")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.GC(ctx, args, app.Deps{Logger: log, Clock: time.Now, Getenv: os.Getenv, Stdout: stdout})
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "berth gc: %v\n", err)
		return 1
	}
	return 0
}
