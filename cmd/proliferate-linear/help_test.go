package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// TestHelpHasNoSideEffects: -h and --help on every subcommand print that
// command's help and do nothing else. The environment points at a database
// file (and, for serve, at a Slack nobody listens on): any work would
// create the file or fail.
func TestHelpHasNoSideEffects(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "must-not-exist.db")
	env := map[string]string{
		"DATABASE_URL":               "sqlite:" + dbPath,
		"SLACK_BOT_TOKEN":            "xoxb-x",
		"SLACK_APP_TOKEN":            "xapp-x",
		"SLACK_API_URL":              "http://127.0.0.1:1/",
		"PROLIFERATE_WEBHOOK_SECRET": "0123456789abcdef0123",
		"HTTP_ADDR":                  "127.0.0.1:0",
	}
	for _, cmd := range []string{"serve", "migrate", "reseal", "demo", "bench", "version"} {
		for _, flag := range []string{"-h", "--help", "-help"} {
			t.Run(cmd+" "+flag, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				var out, errw bytes.Buffer
				err := run(ctx, []string{cmd, flag}, func(k string) string { return env[k] }, &out, &errw)
				if err != nil {
					t.Fatalf("%s %s = %v (stderr %q)", cmd, flag, err, errw.String())
				}
				if !strings.HasPrefix(out.String(), "usage: proliferate-linear ") || !strings.Contains(out.String(), cmd) {
					t.Errorf("%s %s printed %q, want its usage", cmd, flag, out.String())
				}
				if strings.Contains(out.String(), "migrated") || strings.Contains(out.String(), "re-encrypted") {
					t.Errorf("%s %s did the work: %q", cmd, flag, out.String())
				}
				entries, _ := os.ReadDir(dir)
				if len(entries) != 0 {
					t.Errorf("%s %s touched the database directory: %v", cmd, flag, entries)
				}
			})
		}
	}
}

// TestStrayArguments: a command that takes none refuses them before doing
// anything.
func TestStrayArguments(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "x.db")}
	for _, args := range [][]string{{"migrate", "now"}, {"migrate", "-force"}, {"reseal", "x"}, {"serve", "--port=1"}, {"demo", "extra"}, {"bench", "extra"}} {
		_, err := runCmd(t, env, args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("%q = %v, want a usage error", args, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%q touched the database directory: %v", args, entries)
		}
	}
}

// TestDemoNamesTheAssignee: the demo prints the name of the person the
// issue was assigned to in Linear, not their UUID.
func TestDemoNamesTheAssignee(t *testing.T) {
	t.Parallel() // it waits on the real channel pace the demo keeps
	out, err := runCmd(t, nil, "demo")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	if !strings.Contains(out, "assignee Bob Builder,") {
		t.Errorf("demo output does not name the assignee:\n%s", out)
	}
	if strings.Contains(out, fakelinear.UserBobID) {
		t.Errorf("demo output shows the assignee's UUID %s:\n%s", fakelinear.UserBobID, out)
	}
}
