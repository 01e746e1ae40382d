package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/proliferate/proliferate-linear/store"
)

// The bench command runs the bot's real code in this process against the
// fakes of Slack and Linear on loopback, and prints each figure beside a
// reference measured in the same run on the same machine.

const benchUsage = `usage: proliferate-linear bench [-store sqlite|postgres|both] [-database-url URL] [-quick]

Runs the bot in this process against built-in fakes of Slack and Linear on
loopback and prints a table: each figure, a reference measured in the same
run on the same machine, their ratio, the goal, and whether it is met.
PostgreSQL runs in a fresh schema of -database-url (default $DATABASE_URL),
dropped afterwards. Takes under a minute; -quick uses small counts to
check that the bench works (its figures mean little; the storm's updates
are paced 250 ms apart instead of 10 s).

The ack rows time an envelope from its frame's write to the kernel's
receive time of its ack (SO_TIMESTAMPNS on Linux): the fake shares the
bot's Go runtime, and its reader's own wait for a turn is not the bot's.
"bot-side read → ack" is the bot's own figure, from reading the frame to
writing the ack.

`

// benchScale holds the counts of one bench run.
type benchScale struct {
	intake, intakeWorkers, stormAlerts int
	clicks, creates, submits           int
	slowLinear, submitLinear           time.Duration
	starts, versions                   int // serve starts and `version` runs of the cold start row
	settle                             time.Duration
	updateGap                          time.Duration // the storm's update pacing; 0: the bot's own
	// channelGap replaces Slack's one message a second per channel in the
	// storm and submit rows; 0: the bot's own. The quick run's worlds do
	// not wait a second for each channel turn.
	channelGap time.Duration
}

var (
	fullScale = benchScale{intake: 5000, intakeWorkers: 32, stormAlerts: 10000,
		clicks: 200, creates: 16, submits: 16,
		slowLinear: 2 * time.Second, submitLinear: time.Second, starts: 3, versions: 5, settle: 2 * time.Second}
	quickScale = benchScale{intake: 200, intakeWorkers: 4, stormAlerts: 200,
		clicks: 10, creates: 2, submits: 2,
		slowLinear: 200 * time.Millisecond, submitLinear: 100 * time.Millisecond, starts: 1, versions: 1, settle: 100 * time.Millisecond,
		updateGap: 250 * time.Millisecond, channelGap: 50 * time.Millisecond}
)

// benchRow is one line of the table.
type benchRow struct {
	Name, Measured, Reference, Ratio, Goal string
	// Pass is "pass", "FAIL", or "" for a figure without a goal.
	Pass string
}

func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

// bench is one run: its options and the rows so far.
type bench struct {
	scale benchScale
	log   *slog.Logger
	exe   string // the binary whose idle RSS and cold start are measured
	// goRace is $GORACE, passed on to that binary: a race-enabled build
	// (the tests') reads its options from it at start.
	goRace string
	rows   []benchRow
	notes  []string // printed under the table
}

func (b *bench) add(r benchRow) { b.rows = append(b.rows, r) }

func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchUsage); fs.PrintDefaults() }
	stores := fs.String("store", "sqlite", "sqlite, postgres or both")
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "PostgreSQL URL for -store postgres or both")
	quick := fs.Bool("quick", false, "small counts: checks the bench runs, figures mean little")
	verbose := fs.Bool("v", false, "print the bot's logs to stderr")
	only := fs.String("rows", "intake,clicks,storm,submit,process", "the groups of rows to run, comma separated")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if done, err := parseFlags(fs, args, stdout, stderr); done {
		return err
	}
	var dialects []string
	switch *stores {
	case "sqlite":
		dialects = []string{store.DialectSQLite}
	case "postgres":
		dialects = []string{store.DialectPostgres}
	case "both":
		dialects = []string{store.DialectSQLite, store.DialectPostgres}
	default:
		return fmt.Errorf("%w: -store %q: want sqlite, postgres or both", errUsage, *stores)
	}
	if len(dialects) > 1 || dialects[0] == store.DialectPostgres {
		if !strings.HasPrefix(*dbURL, "postgres://") && !strings.HasPrefix(*dbURL, "postgresql://") {
			return fmt.Errorf("%w: -store %s needs -database-url postgres://… (or DATABASE_URL)", errUsage, *stores)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: the binary to start: %w", err)
	}
	logw := io.Discard
	if *verbose {
		logw = stderr
	}
	b := &bench{scale: fullScale, log: slog.New(slog.NewTextHandler(logw, nil)), exe: exe, goRace: getenv("GORACE")}
	if *quick {
		b.scale = quickScale
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	started := time.Now()
	fmt.Fprintf(stdout, "proliferate-linear %s bench: %s, %d CPUs, %s/%s, %s\n", version, runtime.Version(),
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02 15:04 MST"))

	want := map[string]bool{}
	for _, g := range strings.Split(*only, ",") {
		switch g = strings.TrimSpace(g); g {
		case "intake", "clicks", "storm", "submit", "process":
			want[g] = true
		default:
			return fmt.Errorf("%w: -rows %q: want intake, clicks, storm, submit or process", errUsage, g)
		}
	}
	// The other rows run on the first store asked for.
	for _, d := range dialects {
		if !want["intake"] {
			break
		}
		dbs, drop, err := benchDatabase(ctx, d, *dbURL)
		if err != nil {
			return err
		}
		err = b.intake(ctx, d, dbs)
		if derr := drop(); err == nil {
			err = derr
		}
		if err != nil {
			return fmt.Errorf("bench intake (%s): %w", d, err)
		}
	}
	others, drop, err := benchDatabase(ctx, dialects[0], *dbURL)
	if err != nil {
		return err
	}
	defer drop()
	steps := []struct {
		name string
		fn   func(context.Context, string) error
	}{
		{"clicks", b.clicks},
		{"storm", b.storm},
		{"submit", b.submit},
	}
	for _, s := range steps {
		if !want[s.name] {
			continue
		}
		if err := s.fn(ctx, others(s.name)); err != nil {
			return fmt.Errorf("bench %s: %w", s.name, err)
		}
	}
	if want["process"] {
		if err := b.process(ctx); err != nil {
			return fmt.Errorf("bench process: %w", err)
		}
	}
	b.print(stdout)
	fmt.Fprintf(stdout, "\nbench took %s; other rows on %s\n", time.Since(started).Round(100*time.Millisecond), dialects[0])
	for _, r := range b.rows {
		if r.Pass == "FAIL" {
			return errBenchGoals
		}
	}
	return nil
}

// errBenchGoals: the bench ran and some row missed its goal.
var errBenchGoals = errors.New("bench: some figures miss their goal (FAIL rows above)")

// benchDatabase returns, per scenario name, a fresh database of dialect:
// a SQLite file in a temporary directory (a copy of one migrated there
// first: each row's start-up then finds nothing to migrate, as the bot's
// does in production, and the run migrates once), or a schema of the
// PostgreSQL database at base. drop removes them all.
func benchDatabase(ctx context.Context, dialect, base string) (func(name string) string, func() error, error) {
	var cleanups []func() error
	drop := func() error {
		var errs []error
		for _, c := range cleanups {
			errs = append(errs, c())
		}
		cleanups = nil
		return errors.Join(errs...)
	}
	if dialect == store.DialectSQLite {
		dir, err := os.MkdirTemp("", "proliferate-linear-bench-")
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, func() error { return os.RemoveAll(dir) })
		tmpl, err := store.MigratedSQLiteFile(ctx, filepath.Join(dir, "template.db"))
		if err != nil {
			return nil, nil, errors.Join(err, drop())
		}
		var fail error
		fresh := func(name string) string {
			path := filepath.Join(dir, name+".db")
			if err := os.WriteFile(path, tmpl, 0o600); err != nil {
				fail = errors.Join(fail, err)
			}
			return "sqlite:" + path
		}
		return fresh, func() error { return errors.Join(fail, drop()) }, nil
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		return nil, nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	cleanups = append(cleanups, admin.Close)
	var fail error
	fresh := func(name string) string {
		var r [6]byte
		_, _ = rand.Read(r[:])
		schema := "bench_" + hex.EncodeToString(r[:])
		if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
			fail = errors.Join(fail, fmt.Errorf("create schema: %w", err))
		}
		// Dropped before the admin connection closes (cleanups run in order).
		cleanups = append([]func() error{func() error {
			_, err := admin.ExecContext(context.WithoutCancel(ctx), `DROP SCHEMA `+schema+` CASCADE`)
			return err
		}}, cleanups...)
		u, _ := url.Parse(base)
		q := u.Query()
		// lib/pq sends unknown parameters as run-time parameters, so every
		// pooled connection works in the schema.
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return fresh, func() error { return errors.Join(fail, drop()) }, nil
}

// print writes the table.
func (b *bench) print(out io.Writer) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmeasured\treference (same run)\tratio\tgoal\t")
	for _, r := range b.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Measured, r.Reference, r.Ratio, r.Goal, r.Pass)
	}
	tw.Flush()
	for _, n := range b.notes {
		fmt.Fprintln(out, n)
	}
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// perSec formats a rate with thousands separators.
func perSec(v float64) string { return thousands(int64(v+0.5)) + "/s" }

func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
