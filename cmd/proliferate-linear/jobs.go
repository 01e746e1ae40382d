package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/config"
	"github.com/proliferate/proliferate-linear/store"
)

const jobsUsage = `usage: proliferate-linear jobs <command>

Look at and mend the work queue (Slack messages, thread notes and the other
work the bot promised). A job that failed for good is "dead" and keeps its
reason until an operator retries or drops it.

commands:
  list [--dead] [--limit N]   list jobs (only dead ones with --dead), oldest first
  retry ID                    queue dead job ID again, due now, its attempts reset
  drop ID                     delete queued or dead job ID (its work is not done)

It reads the environment serve reads (DATABASE_URL, and ENCRYPTION_KEY with
PostgreSQL); no Slack or Linear credentials are needed.
`

// jobsCmd is `proliferate-linear jobs …`. --help prints the usage and
// touches nothing (the database is not even opened).
func jobsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, jobsUsage)
		return fmt.Errorf("%w: jobs needs a command (list, retry or drop)", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("jobs "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stdout, jobsUsage) }
	dead := fs.Bool("dead", false, "only dead jobs")
	limit := fs.Int("limit", 100, "at most this many jobs")
	switch sub {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, jobsUsage)
		return nil
	case "list", "retry", "drop":
	default:
		fmt.Fprint(stderr, jobsUsage)
		return fmt.Errorf("%w: unknown jobs command %q (want list, retry or drop)", errUsage, sub)
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return fmt.Errorf("%w: jobs %s: %v", errUsage, sub, err)
	}
	var id int64
	switch sub {
	case "list":
		if fs.NArg() > 0 {
			return fmt.Errorf("%w: jobs list takes no arguments, got %q", errUsage, fs.Args())
		}
		if *limit < 1 {
			return fmt.Errorf("%w: --limit must be at least 1, got %d", errUsage, *limit)
		}
	default:
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: jobs %s needs one job ID (see jobs list)", errUsage, sub)
		}
		n, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("%w: job ID must be a positive number, got %q", errUsage, fs.Arg(0))
		}
		id = n
	}

	db, err := openExisting(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "list":
		jobs, err := db.ListJobs(ctx, *dead, *limit)
		if err != nil {
			return fmt.Errorf("list jobs: %w", err)
		}
		printJobs(stdout, jobs, time.Now())
		return nil
	case "retry":
		folded, err := db.ReviveJob(ctx, id)
		if err != nil {
			return jobErr(id, err)
		}
		if folded {
			fmt.Fprintf(stdout, "job %d removed: a queued job with the same key already does its work\n", id)
			return nil
		}
		fmt.Fprintf(stdout, "job %d queued again, due now; a running bot picks it up within seconds\n", id)
		return nil
	default:
		if err := db.DropJob(ctx, id); err != nil {
			return jobErr(id, err)
		}
		fmt.Fprintf(stdout, "job %d dropped\n", id)
		return nil
	}
}

// openExisting opens DATABASE_URL's database without creating or
// migrating it: an operator's command must not make an empty database
// where a typo in the path points.
func openExisting(ctx context.Context, getenv func(string) string, stderr io.Writer) (*store.DB, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return nil, err
	}
	if cfg.Database.Driver == config.DriverSQLite {
		if _, err := os.Stat(cfg.Database.Path); err != nil {
			return nil, fmt.Errorf("no database at %s (DATABASE_URL; run the bot or `proliferate-linear migrate` first): %w", cfg.Database.Path, err)
		}
	}
	db, err := store.Open(ctx, cfg.Database.DSN(), cfg.NewLogger(stderr))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// jobErr says what went wrong with job id in an operator's words.
func jobErr(id int64, err error) error {
	switch {
	case errors.Is(err, alert.ErrNotFound):
		return fmt.Errorf("no job %d (see jobs list): %w", id, err)
	case errors.Is(err, alert.ErrConflict):
		return fmt.Errorf("job %d: %w", id, err)
	}
	return fmt.Errorf("job %d: %w", id, err)
}

// printJobs writes jobs as a table, the last error on one short line.
func printJobs(w io.Writer, jobs []alert.Job, now time.Time) {
	if len(jobs) == 0 {
		fmt.Fprintln(w, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tATTEMPTS\tALERT\tDUE\tLAST ERROR")
	for _, j := range jobs {
		alertID := "-"
		if j.AlertID != 0 {
			alertID = strconv.FormatInt(j.AlertID, 10)
		}
		due := "-"
		if j.Status == alert.JobQueued {
			due = "now"
			if d := j.RunAt.Sub(now); d > 0 {
				due = "in " + d.Round(time.Second).String()
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", j.ID, j.Kind, j.Status, j.Attempts, alertID, due, oneLine(j.LastError, 120))
	}
	_ = tw.Flush()
}

// oneLine is s on one line, at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
