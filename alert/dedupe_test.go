package alert_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// lostAnswerBot posts at the fake Slack for real, then reports a network
// failure: the worker that posted never learns the ts, as when it is killed
// between Slack's answer and recording it.
type lostAnswerBot struct {
	*bot.Bot
	lose int // answers still to lose
}

func (b *lostAnswerBot) PostAlert(ctx context.Context, a alert.Alert, link *alert.IssueLink) (string, error) {
	ts, err := b.Bot.PostAlert(ctx, a, link)
	if err == nil && b.lose > 0 {
		b.lose--
		return "", alert.Temporary(errors.New("connection reset after chat.postMessage"), 0)
	}
	return ts, err
}

func newSlackBot(t *testing.T) (*bot.Bot, *fakeslack.Server) {
	t.Helper()
	fs := fakeslack.New(fakeslack.Options{})
	t.Cleanup(fs.Close)
	fs.AddChannel("C1", "alerts")
	b, err := bot.New(bot.Config{BotToken: fakeslack.DefaultBotToken, AppToken: fakeslack.DefaultAppToken, APIURL: fs.URL(), Workers: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b, fs
}

// TestRenderRetryAdoptsTheMessageItPosted: an attempt posts the alert's
// message and dies before recording its ts. The retry reads the channel
// (or the thread the alert lives in), finds the message by its metadata and
// updates it: one message, whose ts the alert keeps. When the history
// cannot be read the retry posts (a duplicate beats a lost alert).
func TestRenderRetryAdoptsTheMessageItPosted(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				// thread: the alert lives in the thread of a message the bot did not post.
				thread bool
				// leaseExpires: the first attempt is a replica killed mid-job
				// (its lease runs out), not a lost answer.
				leaseExpires bool
				// failRead: the history read is refused with this code.
				failRead  string
				wantPosts int
			}{
				{name: "lost answer", wantPosts: 1},
				{name: "lease expired", leaseExpires: true, wantPosts: 1},
				{name: "in a thread", thread: true, wantPosts: 1},
				{name: "in a thread, lease expired", thread: true, leaseExpires: true, wantPosts: 1},
				{name: "history refused", failRead: "not_in_channel", wantPosts: 2},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					db := dc.Open(t)
					clock := &storeClock{db: db}
					svc := alert.NewService(db, nil, nil)
					b, fs := newSlackBot(t)
					p := &lostAnswerBot{Bot: b, lose: 1}
					d := newDispatcher(t, db, p)

					in := alert.Alert{ErrorID: "e1", Channel: "C1", URL: "https://app.proliferate.dev/e/e1", ErrorType: "TypeError", EventCount: 1}
					var parent string
					if tc.thread {
						_, ts, err := slack.New(fakeslack.DefaultBotToken, slack.OptionAPIURL(fs.URL())).PostMessage("C1", slack.MsgOptionText("Proliferate: TypeError", false))
						if err != nil {
							t.Fatal(err)
						}
						parent, in.ThreadTS = ts, ts
					}
					var a alert.Alert
					var err error
					if tc.thread {
						a, _, err = svc.AcceptFromSlack(ctx, "Ev1", in)
					} else {
						a, err = svc.Accept(ctx, in)
					}
					if err != nil {
						t.Fatal(err)
					}
					if tc.leaseExpires {
						// A replica claims the job, posts, and is killed.
						jobs, err := db.ClaimJobs(ctx, "replica-killed", 10, 10*time.Second)
						if err != nil || len(jobs) != 1 {
							t.Fatalf("claim = %d jobs, %v", len(jobs), err)
						}
						if _, err := b.PostAlert(ctx, a, nil); err != nil {
							t.Fatal(err)
						}
						p.lose = 0
						clock.skip(11 * time.Second)
					} else if n, err := d.RunOnce(ctx); err != nil || n != 1 {
						t.Fatalf("first attempt ran %d jobs: %v", n, err)
					} else {
						clock.skip(time.Minute) // past the retry's backoff
					}
					// Another alert's message, newer, in the same place: not adopted.
					other := a
					other.ID, other.ErrorID = a.ID+1000, "e0"
					if _, err := b.PostAlert(ctx, other, nil); err != nil {
						t.Fatal(err)
					}
					if tc.failRead != "" {
						fs.FailNext("conversations.history", 1, tc.failRead)
					}
					if n, err := d.RunOnce(ctx); err != nil || n != 1 {
						t.Fatalf("retry ran %d jobs: %v", n, err)
					}

					var mine []fakeslack.Message
					all := fs.Messages("C1")
					if tc.thread {
						all = fs.Thread("C1", parent)
					}
					for _, m := range all {
						if !containsAll(string(m.Metadata), `"alert_id":"`+strconv.FormatInt(a.ID, 10)+`"`, `"event_type":"proliferate_alert"`) {
							continue
						}
						mine = append(mine, m)
					}
					got, err := db.Alert(ctx, a.ID)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("%d message(s) for alert %d, ts %s, %d history reads, %d replies reads", len(mine), a.ID, got.MessageTS,
						fs.CallCount("conversations.history"), fs.CallCount("conversations.replies"))
					if len(mine) != tc.wantPosts {
						t.Fatalf("alert %d has %d messages, want %d", a.ID, len(mine), tc.wantPosts)
					}
					if tc.wantPosts == 1 {
						if got.MessageTS != mine[0].TS {
							t.Errorf("alert ts = %q, want the first message's %q", got.MessageTS, mine[0].TS)
						}
						if mine[0].Edits != 1 {
							t.Errorf("adopted message edits = %d, want 1 (brought up to date)", mine[0].Edits)
						}
					} else if got.MessageTS != mine[1].TS {
						t.Errorf("alert ts = %q, want the second message's %q", got.MessageTS, mine[1].TS)
					}
					method := "conversations.history"
					if tc.thread {
						method = "conversations.replies"
					}
					if fs.CallCount(method) != 1 {
						t.Errorf("%s calls = %d, want 1", method, fs.CallCount(method))
					}
				})
			}
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
