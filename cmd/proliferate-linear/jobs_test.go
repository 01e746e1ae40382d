package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/secret"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// TestJobsCommand lists, retries and drops jobs through the command line
// on both stores, as an operator would.
func TestJobsCommand(t *testing.T) {
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			url := dc.URL(t)
			db := storetest.OpenURL(t, url)
			env := map[string]string{"DATABASE_URL": url}
			if dc.Name == store.DialectSQLite {
				env["DATABASE_URL"] = "sqlite:" + url
			} else {
				k, _ := secret.GenerateKey(1) // required with PostgreSQL, as for serve.
				env["ENCRYPTION_KEY"] = k.Encode()
			}
			a, err := db.AcceptAlert(ctx, alert.Alert{ErrorID: "E1", Channel: "C1", URL: "https://app.proliferate.dev/e/1"})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Enqueue(ctx, alert.NoteJob(a.Alert.ID, alert.Note{Kind: alert.NoteText, Text: "created ENG-1"}), alert.Job{Kind: "linear_delivery", Payload: "{}"}); err != nil {
				t.Fatal(err)
			}
			jobs, err := db.ListJobs(ctx, false, 10)
			if err != nil || len(jobs) != 3 {
				t.Fatalf("jobs %+v, %v", jobs, err)
			}
			render, note, delivery := jobs[0].ID, jobs[1].ID, jobs[2].ID
			claimed, err := db.ClaimJobs(ctx, "op-test", 10, time.Hour) // render and delivery; the note waits its turn.
			if err != nil || len(claimed) != 2 {
				t.Fatalf("claimed %+v, %v", claimed, err)
			}
			if err := db.BuryJob(ctx, render, "gave up after 10 attempts: slack chat.postMessage in C1: channel_not_found"); err != nil {
				t.Fatal(err)
			}
			id := func(n int64) string { return strconv.FormatInt(n, 10) }

			out, err := runCmd(t, env, "jobs", "list")
			if err != nil {
				t.Fatalf("jobs list: %v", err)
			}
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`(?m)^` + id(render) + `\s+render_alert\s+dead\s+1\s+` + id(a.Alert.ID) + `\s+-\s+gave up after 10 attempts: .*channel_not_found$`),
				regexp.MustCompile(`(?m)^` + id(note) + `\s+thread_note\s+queued\s+0\s+` + id(a.Alert.ID) + `\s+now\s*$`),
				regexp.MustCompile(`(?m)^` + id(delivery) + `\s+linear_delivery\s+running\s+0\s+-\s+-\s*$`),
			} {
				if !want.MatchString(out) {
					t.Errorf("jobs list lacks %s:\n%s", want, out)
				}
			}
			out, err = runCmd(t, env, "jobs", "list", "--dead")
			if err != nil || strings.Count(strings.TrimSpace(out), "\n") != 1 || !strings.Contains(out, "render_alert") {
				t.Errorf("jobs list --dead = %q, %v; want the header and the dead render job", out, err)
			}

			errs := []struct {
				args []string
				want string
			}{
				{[]string{"jobs", "retry", id(note)}, "is queued, not dead"},
				{[]string{"jobs", "drop", id(delivery)}, "is running"},
				{[]string{"jobs", "retry", "999999"}, "no job 999999"},
				{[]string{"jobs", "drop", "abc"}, `job ID must be a positive number, got "abc"`},
				{[]string{"jobs", "retry"}, "needs one job ID"},
				{[]string{"jobs", "list", "extra"}, "takes no arguments"},
				{[]string{"jobs", "frob"}, `unknown jobs command "frob"`},
				{[]string{"jobs"}, "jobs needs a command"},
			}
			for _, e := range errs {
				if _, err := runCmd(t, env, e.args...); err == nil || !strings.Contains(err.Error(), e.want) {
					t.Errorf("%q = %v, want an error saying %q", e.args, err, e.want)
				}
			}
			if jobs, _ := db.ListJobs(ctx, false, 10); len(jobs) != 3 {
				t.Errorf("refused commands changed the queue: %+v", jobs)
			}

			out, err = runCmd(t, env, "jobs", "retry", id(render))
			if err != nil || !strings.Contains(out, "queued again") {
				t.Fatalf("jobs retry = %q, %v", out, err)
			}
			revived, err := db.ClaimJobs(ctx, "op-test", 10, time.Hour)
			if err != nil || len(revived) != 1 || revived[0].ID != render || revived[0].Attempts != 0 {
				t.Errorf("after retry claimed %+v, %v; want the render job due at once with its attempts reset", revived, err)
			}
			out, err = runCmd(t, env, "jobs", "drop", id(note))
			if err != nil || !strings.Contains(out, "job "+id(note)+" dropped") {
				t.Fatalf("jobs drop = %q, %v", out, err)
			}
			if _, err := runCmd(t, env, "jobs", "drop", id(note)); !errors.Is(err, alert.ErrNotFound) {
				t.Errorf("dropping it again = %v, want not found", err)
			}
		})
	}
}

// TestJobsHelpTouchesNothing: --help answers without opening (or
// creating) the database.
func TestJobsHelpTouchesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	env := map[string]string{"DATABASE_URL": "sqlite:" + path}
	for _, args := range [][]string{{"jobs", "--help"}, {"jobs", "list", "--help"}, {"jobs", "retry", "-h"}, {"jobs", "help"}} {
		out, err := runCmd(t, env, args...)
		if err != nil || !strings.Contains(out, "list [--dead]") {
			t.Errorf("%q = %q, %v; want the usage", args, out, err)
		}
	}
	if _, err := runCmd(t, env, "jobs", "list"); err == nil || !strings.Contains(err.Error(), "no database at "+path) {
		t.Errorf("jobs list on a missing database = %v, want it named", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the jobs command created %s (%v)", path, err)
	}
}
