package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
)

// TestTextPostgreSQLRefusesIsStored: a NUL or invalid UTF-8 in an alert
// (the sender's text), a thread note or a link title (Linear's) is stored
// as U+FFFD on both stores. PostgreSQL refuses both in text ("invalid byte
// sequence for encoding UTF8: 0x00"), which made a valid alert a 503 for
// ever.
func TestTextPostgreSQLRefusesIsStored(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		a := newAlert("E-nul\x00", "C1")
		a.ErrorMessage = "bad byte \x00 here"
		a.Stack = "at f (x.go:1)\n\xff\xfe at g"
		a.Release = "1.0\x00"
		got := accept(t, db, a)
		if got.ErrorMessage != "bad byte \uFFFD here" || got.Stack != "at f (x.go:1)\n\uFFFD at g" ||
			got.Release != "1.0\uFFFD" || got.ErrorID != "E-nul\uFFFD" {
			t.Errorf("stored %q / %q / %q / %q", got.ErrorMessage, got.Stack, got.Release, got.ErrorID)
		}
		// The repeat folds into the same row: cleaning is deterministic.
		if again := accept(t, db, a); again.ID != got.ID || again.Occurrences != 2 {
			t.Errorf("repeat = alert %d (%d occurrences), want %d folded", again.ID, again.Occurrences, got.ID)
		}
		if err := db.Enqueue(ctx, alert.Job{Kind: alert.JobThreadNote, AlertID: got.ID, Text: "note \x00"}, alert.Job{Kind: "k", Payload: "{\"a\":\"\xff\"}"}); err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		link := alert.IssueLink{ErrorID: got.ErrorID, IssueID: "issue-1", Identifier: "ENG-1", Title: "Crash\x00", URL: "https://linear.app/a/issue/ENG-1"}
		if err := db.SaveLink(ctx, link); err != nil {
			t.Fatalf("save link: %v", err)
		}
		if l, err := db.Link(ctx, got.ErrorID); err != nil || l.Title != "Crash\uFFFD" {
			t.Errorf("link = %+v, %v", l, err)
		}
		var texts []string
		for _, j := range store.AllJobs(t, db) {
			texts = append(texts, j.Text+j.Payload)
		}
		if joined := strings.Join(texts, "|"); strings.ContainsRune(joined, 0) || !strings.Contains(joined, "note \uFFFD") {
			t.Errorf("jobs hold %q", joined)
		}
	})
}
