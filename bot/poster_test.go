package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// newFakeBot starts a fake Slack with channel C100 and a Bot talking to it.
func newFakeBot(t *testing.T, svc *alert.Service) (*Bot, *fakeslack.Server) {
	t.Helper()
	fs := fakeslack.New(fakeslack.Options{})
	t.Cleanup(fs.Close)
	fs.AddChannel("C100", "alerts")
	fs.AddUser(fakeslack.User{ID: "U1", Name: "ada"})
	b, err := New(Config{BotToken: "xoxb-fake", AppToken: "xapp-fake", APIURL: fs.URL(), Workers: 2}, svc)
	if err != nil {
		t.Fatal(err)
	}
	return b, fs
}

func TestPoster(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b, fs := newFakeBot(t, nil)
	a := sampleAlert()

	ts, err := b.PostAlert(ctx, a, nil)
	if err != nil {
		t.Fatalf("PostAlert: %v", err)
	}
	msg, ok := fs.Message("C100", ts)
	if !ok {
		t.Fatalf("message %s not in the channel", ts)
	}
	if !strings.Contains(string(msg.Blocks), `"create_issue"`) {
		t.Errorf("posted blocks lack the create button: %s", msg.Blocks)
	}
	if calls := fs.Calls("chat.postMessage"); len(calls) != 1 || calls[0].Params.Get("unfurl_links") != "false" {
		t.Errorf("chat.postMessage calls = %+v, want one with unfurl_links=false", calls)
	}

	a.MessageTS = ts
	link := sampleLink()
	if err := b.UpdateAlert(ctx, a, &link); err != nil {
		t.Fatalf("UpdateAlert: %v", err)
	}
	msg, _ = fs.Message("C100", ts)
	if msg.Edits != 1 || !strings.Contains(string(msg.Blocks), "ENG-42") {
		t.Errorf("after update: edits %d, blocks %s", msg.Edits, msg.Blocks)
	}

	// A note queued as finished text (by an older version) goes out as it is.
	if err := b.PostNote(ctx, a, alert.Note{Kind: alert.NoteText, Text: "note &lt;safe&gt;"}); err != nil {
		t.Fatalf("PostNote: %v", err)
	}
	if th := fs.Thread("C100", ts); len(th) != 1 || th[0].Text != "note &lt;safe&gt;" {
		t.Errorf("thread = %+v", th)
	}
}

func TestPosterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		prepare   func(fs *fakeslack.Server)
		channel   string
		wantTemp  bool
		wantAfter time.Duration
		wantText  string
	}{
		{"rate limited keeps Retry-After", func(fs *fakeslack.Server) { fs.RateLimit("chat.postMessage", 1, 7*time.Second) }, "C100", true, 7 * time.Second, "rate limit"},
		{"unknown channel is permanent", func(*fakeslack.Server) {}, "C404", false, 0, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, fs := newFakeBot(t, nil)
			tt.prepare(fs)
			a := sampleAlert()
			a.Channel = tt.channel
			_, err := b.PostAlert(t.Context(), a, nil)
			if err == nil {
				t.Fatal("PostAlert succeeded, want an error")
			}
			var tmp *alert.TemporaryError
			if got := errors.As(err, &tmp); got != tt.wantTemp {
				t.Fatalf("temporary = %v, want %v (err %v)", got, tt.wantTemp, err)
			}
			if tt.wantTemp && tmp.After != tt.wantAfter {
				t.Errorf("retry after %v, want %v", tmp.After, tt.wantAfter)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q lacks %q", err, tt.wantText)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantTemp  bool
		wantAfter time.Duration
	}{
		{"429", &slack.RateLimitedError{RetryAfter: 3 * time.Second}, true, 3 * time.Second},
		{"503", slack.StatusCodeError{Code: http.StatusServiceUnavailable, Status: "503 Service Unavailable"}, true, 0},
		{"404", slack.StatusCodeError{Code: http.StatusNotFound, Status: "404 Not Found"}, false, 0},
		{"internal_error", slack.SlackErrorResponse{Err: "internal_error"}, true, 0},
		{"invalid_blocks", slack.SlackErrorResponse{Err: "invalid_blocks"}, false, 0},
		{"not_in_channel", slack.SlackErrorResponse{Err: "not_in_channel"}, false, 0},
		{"network", fmt.Errorf("post: %w", context.DeadlineExceeded), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(tt.err, "chat.postMessage", "C1")
			var tmp *alert.TemporaryError
			if got := errors.As(err, &tmp); got != tt.wantTemp {
				t.Fatalf("temporary = %v, want %v (%v)", got, tt.wantTemp, err)
			}
			if tt.wantTemp && tmp.After != tt.wantAfter {
				t.Errorf("after = %v, want %v", tmp.After, tt.wantAfter)
			}
			if !wraps(err, tt.err) {
				t.Errorf("%v does not wrap %v", err, tt.err)
			}
		})
	}
}

// wraps reports whether target is in err's chain, by type and text (Slack's
// error values are not all comparable, so errors.Is cannot tell).
func wraps(err, target error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if fmt.Sprintf("%T %v", err, err) == fmt.Sprintf("%T %v", target, target) {
			return true
		}
	}
	return false
}

// hostileAlert is a 60 KB alert: every free-text field as long as the
// webhook lets it be, full of characters that escaping lengthens.
func hostileAlert() alert.Alert {
	a := sampleAlert()
	a.ErrorType = strings.Repeat("E<", 2500)
	a.ErrorMessage = strings.Repeat("<&>", 7000)
	a.Project = strings.Repeat("p&", 4000)
	a.Environment = strings.Repeat("e>", 4000)
	a.Release = strings.Repeat("r<", 4000)
	a.Level = strings.Repeat("l&", 4000)
	return a
}

func hostileLink() *alert.IssueLink {
	l := sampleLink()
	l.Title = strings.Repeat("T&", 2000)
	l.StateName = strings.Repeat("S<", 500)
	l.AssigneeName = strings.Repeat("A>", 500)
	return &l
}

// TestAlertMessageCumulativeText: every rendering of a 60 KB hostile alert
// stays under Slack's cumulative limit (about 12,000) with room to spare,
// as the fake counts it, and is posted.
func TestAlertMessageCumulativeText(t *testing.T) {
	t.Parallel()
	a, link := hostileAlert(), hostileLink()
	prev := 1 << 30
	for i, budget := range messageBudgets {
		_, blocks := alertMessageWithin(a, link, budget, "")
		n := fakeslack.BlockText(asJSON(t, blocks))
		if n > maxMessageBlockText {
			t.Errorf("rendering %d carries %d characters of block text, want ≤ %d", i, n, maxMessageBlockText)
		}
		if n >= prev {
			t.Errorf("rendering %d (%d characters) is not shorter than the one before (%d)", i, n, prev)
		}
		prev = n
	}
	b, fs := newFakeBot(t, nil)
	a.Channel = "C100"
	if _, err := b.PostAlert(t.Context(), a, link); err != nil {
		t.Fatalf("PostAlert: %v", err)
	}
	if calls := fs.Calls("chat.postMessage"); len(calls) != 1 {
		t.Errorf("%d chat.postMessage calls, want the fullest rendering accepted at once", len(calls))
	}
}

// TestPosterShorterRendering: when Slack refuses an alert's blocks
// (msg_blocks_too_long, invalid_blocks) the alert goes out in a shorter
// rendering rather than being lost; when even the shortest is refused the
// error is permanent, never retried as is.
func TestPosterShorterRendering(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"msg_blocks_too_long", "invalid_blocks"} {
		t.Run(code, func(t *testing.T) {
			ctx := t.Context()
			b, fs := newFakeBot(t, nil)
			a := hostileAlert()
			a.Channel = "C100"

			fs.FailNext("chat.postMessage", 1, code)
			ts, err := b.PostAlert(ctx, a, nil)
			if err != nil {
				t.Fatalf("PostAlert: %v", err)
			}
			msg, ok := fs.Message("C100", ts)
			if !ok {
				t.Fatal("the alert was not posted")
			}
			var posted any
			if err := json.Unmarshal(msg.Blocks, &posted); err != nil {
				t.Fatal(err)
			}
			_, full := alertMessage(a, nil)
			if got, was := fakeslack.BlockText(posted), fakeslack.BlockText(asJSON(t, full)); got >= was {
				t.Errorf("posted %d characters after %s, the refused rendering had %d", got, code, was)
			}

			a.MessageTS = ts
			fs.FailNext("chat.update", 2, code)
			if err := b.UpdateAlert(ctx, a, hostileLink()); err != nil {
				t.Fatalf("UpdateAlert: %v", err)
			}
			if n := len(fs.Calls("chat.update")); n != 3 {
				t.Errorf("%d chat.update calls, want 3 (two refused, the shortest accepted)", n)
			}

			fs.FailNext("chat.update", len(messageBudgets), code)
			err = b.UpdateAlert(ctx, a, nil)
			var tmp *alert.TemporaryError
			if err == nil || errors.As(err, &tmp) {
				t.Errorf("every rendering refused: err = %v, want a permanent error", err)
			}
		})
	}
}
