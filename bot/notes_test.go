package bot

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

func TestNoteText(t *testing.T) {
	t.Parallel()
	link := alert.IssueLink{
		Identifier: "ENG-42", Title: "Crash <@U9> & co", URL: "https://linear.app/acme/issue/ENG-42",
		StateName: "In <Progress>", StateType: "started", AssigneeName: "Ada",
		ClosedAt: time.Date(2026, 11, 12, 23, 30, 0, 0, time.FixedZone("X", -3600)),
	}
	state := func(typ, name string) alert.Note {
		l := link
		l.StateType, l.StateName = typ, name
		return alert.Note{Kind: alert.NoteStateChanged, Issue: alert.CreatedNote(l, "").Issue}
	}
	regressed := func(typ string) alert.Note {
		l := link
		l.StateType = typ
		return alert.RegressionNote(l)
	}
	ident := "<https://linear.app/acme/issue/ENG-42|ENG-42>"
	tests := []struct {
		name string
		note alert.Note
		want string
	}{
		{"created, by a Slack user", alert.CreatedNote(link, "U1"),
			":white_check_mark: Created Linear issue " + ident + ": Crash &lt;@U9&gt; &amp; co · assigned to Ada · by <@U1>\nhttps://linear.app/acme/issue/ENG-42"},
		{"created through the API credits nobody", alert.CreatedNote(link, "api"),
			":white_check_mark: Created Linear issue " + ident + ": Crash &lt;@U9&gt; &amp; co · assigned to Ada\nhttps://linear.app/acme/issue/ENG-42"},
		{"linked shows the state", alert.LinkedNote(link, "U2"),
			":link: Linked Linear issue " + ident + ": Crash &lt;@U9&gt; &amp; co · In &lt;Progress&gt; · assigned to Ada · by <@U2>\nhttps://linear.app/acme/issue/ENG-42"},
		{"started", state("started", "In <Progress>"), ":arrow_forward: " + ident + " moved to *In &lt;Progress&gt;*."},
		{"completed", state("completed", "Done"), ":white_check_mark: " + ident + " was completed (*Done*)."},
		{"canceled", state("canceled", "Won't fix"), ":no_entry_sign: " + ident + " was canceled (*Won't fix*)."},
		{"regressed after completion, date in UTC", regressed("completed"), ":repeat: " + ident + " was completed on 13 Nov; the error is back."},
		{"regressed after cancel", regressed("canceled"), ":repeat: " + ident + " was canceled on 13 Nov; the error is back."},
		{"older text note as it is", alert.Note{Kind: alert.NoteText, Text: "<@U1> made it"}, "<@U1> made it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Through the job's payload, as the dispatcher hands it over.
			n, err := alert.JobNote(alert.NoteJob(1, tt.note))
			if err != nil {
				t.Fatal(err)
			}
			got, err := noteText(n)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("noteText =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
	if _, err := noteText(alert.Note{Kind: "future"}); err == nil {
		t.Error("a note of an unknown kind rendered")
	}
}

func TestPostNoteRepliesInTheAlertsThread(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, fs := newFakeBot(t, nil)
	a := sampleAlert()
	ts, err := b.PostAlert(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.MessageTS = ts
	link := alert.IssueLink{Identifier: "ENG-1", Title: "Boom", URL: "https://linear.app/a/issue/ENG-1"}
	if err := b.PostNote(ctx, a, alert.CreatedNote(link, "U1")); err != nil {
		t.Fatalf("PostNote: %v", err)
	}
	th := fs.Thread("C100", a.MessageTS)
	if len(th) != 1 || !strings.HasPrefix(th[0].Text, ":white_check_mark: Created Linear issue <https://linear.app/a/issue/ENG-1|ENG-1>: Boom · by <@U1>") {
		t.Errorf("thread = %+v", th)
	}
	var perm *alert.PermanentError
	if err := b.PostNote(ctx, a, alert.Note{Kind: "future"}); !errors.As(err, &perm) {
		t.Errorf("unknown kind: err = %v, want a permanent error", err)
	}
}

func TestEscapeMrkdwn(t *testing.T) {
	t.Parallel()
	in := "<!channel> <@U123> <https://evil.example|click> a & b"
	got := escapeMrkdwn(in)
	if strings.ContainsAny(got, "<>") {
		t.Errorf("escapeMrkdwn(%q) = %q still has angle brackets", in, got)
	}
	if want := "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; a &amp; b"; got != want {
		t.Errorf("escapeMrkdwn = %q, want %q", got, want)
	}
	if l := slackLink("https://x/a|b>c", "<@U1>"); l != "<https://x/a%7Cb%3Ec|&lt;@U1&gt;>" {
		t.Errorf("slackLink = %q", l)
	}
}
