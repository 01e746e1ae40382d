package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestBenchQuick runs the bench command at its small counts, on both
// stores when PostgreSQL is configured, so it keeps working: it must
// finish, and print every row with a measured figure. Whether the figures
// meet their goals is the bench's business, not this test's (the machine
// running the tests decides that).
func TestBenchQuick(t *testing.T) {
	t.Parallel() // it checks the table, not the figures, so it may share the CPU.
	if testing.Short() {
		t.Skip("starts the bot several times")
	}
	args := []string{"-quick"}
	if u := os.Getenv("PROLIFERATE_TEST_DATABASE_URL"); u != "" {
		args = append(args, "-store", "both", "-database-url", u)
	}
	// The process row starts this race-enabled test binary as the bot;
	// without the race runtime's default second of sleep at exit, each
	// start and `version` costs what it costs the real binary.
	getenv := func(k string) string {
		if k == "GORACE" {
			return "atexit_sleep_ms=0"
		}
		return ""
	}
	var out, errOut bytes.Buffer
	err := runBench(context.Background(), args, getenv, &out, &errOut)
	if err != nil && !errors.Is(err, errBenchGoals) {
		t.Fatalf("bench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	t.Logf("\n%s", out.String())
	rows := []string{"durable intake, sqlite", "202 p99, sqlite", "Linear requests during intake",
		"ack p99", "click → views.open p99", "storm of 200 alerts of one error",
		"Linear requests per create", "submit → thread reply", "2 submits at once, p99",
		"cold start to connected", "idle RSS"}
	if len(args) > 1 {
		rows = append(rows, "durable intake, postgres", "202 p99, postgres")
	}
	for _, name := range rows {
		line := ""
		for l := range strings.Lines(out.String()) {
			if strings.HasPrefix(strings.TrimSpace(l), name) {
				line = l
			}
		}
		if line == "" {
			t.Errorf("no row %q", name)
			continue
		}
		if fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), name)); len(fields) == 0 {
			t.Errorf("row %q has no figure", name)
		}
	}
	if (err != nil) != strings.Contains(out.String(), "FAIL") {
		t.Errorf("bench returned %v, but its table says otherwise:\n%s", err, out.String())
	}
}

// TestBenchUsage: bad flags are usage errors that run nothing.
func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{{"-store", "mysql"}, {"-store", "postgres"}, {"extra"}} {
		var out, errOut bytes.Buffer
		err := runBench(context.Background(), args, func(string) string { return "" }, &out, &errOut)
		if !errors.Is(err, errUsage) {
			t.Errorf("bench %q: %v, want a usage error", args, err)
		}
		if strings.Contains(out.String(), "figure") {
			t.Errorf("bench %q ran: %s", args, out.String())
		}
	}
}
