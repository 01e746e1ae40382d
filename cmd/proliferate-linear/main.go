// Command proliferate-linear is a Slack bot (Socket Mode) that turns
// Proliferate error alerts into Linear issues.
//
//	proliferate-linear [serve]   run the bot, the HTTP API and the Slack queue (default)
//	proliferate-linear migrate   apply database migrations and exit
//	proliferate-linear reseal    re-encrypt stored tokens under the current key
//	proliferate-linear jobs      list, retry and drop queued and dead jobs
//	proliferate-linear demo      run the whole loop against built-in fakes of Slack and Linear
//	proliferate-linear bench     measure it against the fakes, beside references measured in the same run
//	proliferate-linear version   print the version
//
// Configuration comes from the environment; see README.md.
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
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "proliferate-linear:", err)
		os.Exit(1)
	}
}

const usage = `usage: proliferate-linear [command]

commands:
  serve     run the bot, the HTTP API and the Slack queue (default)
  migrate   apply database migrations and exit
  reseal    re-encrypt stored tokens under ENCRYPTION_KEY after a key
            rotation (the old key in ENCRYPTION_KEY_PREVIOUS)
  jobs      list, retry and drop jobs of the work queue
            (jobs list [--dead], jobs retry ID, jobs drop ID; jobs --help)
  demo      walk one alert through the whole loop against built-in fakes
            of Slack and Linear, on a temporary embedded database
  bench     measure the bot against the fakes and print each figure beside
            a reference measured in the same run (bench -h)
  version   print the version

Every command takes -h (or --help) and then only prints its help.
Configuration is read from the environment; see README.md.
`

// commandHelp is each command's -h text, printed without side effects.
var commandHelp = map[string]string{
	"serve": `usage: proliferate-linear [serve]

Runs the bot: the alert webhook and HTTP API on HTTP_ADDR, the Socket Mode
connection to Slack, and the durable Slack queue. Migrates the database
first. The alert webhook stores alerts from the start; Slack is retried
with backoff until it answers (a refused SLACK_BOT_TOKEN fails at once).
SIGTERM or SIGINT drains the work in flight, then exits.
`,
	"migrate": `usage: proliferate-linear migrate

Applies the database migrations (DATABASE_URL, default the embedded
SQLite file) and exits. serve migrates on start too.
`,
	"reseal": `usage: proliferate-linear reseal

Re-encrypts every stored token under ENCRYPTION_KEY, the last step of a
key rotation (the old key in ENCRYPTION_KEY_PREVIOUS).
`,
	"version": `usage: proliferate-linear version

Prints the version.
`,
}

// errUsage marks a command-line mistake.
var errUsage = errors.New("usage")

// run is main without the process: tests call it with their own
// environment and writers.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if help, ok := commandHelp[cmd]; ok {
		// These commands take no flags or arguments: -h prints the help
		// and does nothing else; anything else is a usage error.
		if done, err := noArgs(cmd, help, args, stdout, stderr); done {
			return err
		}
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stderr)
	case "migrate":
		return migrate(ctx, getenv, stdout, stderr)
	case "reseal":
		return reseal(ctx, getenv, stdout, stderr)
	case "jobs":
		return jobsCmd(ctx, args, getenv, stdout, stderr)
	case "demo":
		return runDemo(ctx, args, stdout, stderr)
	case "bench":
		return runBench(ctx, args, getenv, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "proliferate-linear", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// noArgs parses the arguments of a command that takes none. done is true
// when the command must not run: -h was asked for (err nil, help on
// stdout) or the arguments are wrong (a usage error).
func noArgs(cmd, help string, args []string, stdout, stderr io.Writer) (done bool, err error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), help) }
	return parseFlags(fs, args, stdout, stderr)
}

// parseFlags parses the flags of a command that takes no other arguments;
// fs.Usage prints its help. done is true when the command must not run: -h
// was asked for (err nil, help on stdout) or the arguments are wrong (help
// on stderr and a usage error).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (done bool, err error) {
	fs.SetOutput(io.Discard) // the help is printed below, once, where it belongs
	usage := func(w io.Writer) {
		fs.SetOutput(w)
		fs.Usage()
	}
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return true, nil
	case err != nil:
		usage(stderr)
		return true, fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	case fs.NArg() > 0:
		usage(stderr)
		return true, fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, fs.Name(), fs.Args())
	}
	return false, nil
}
