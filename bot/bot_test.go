package bot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// harness is a Bot serving Socket Mode against the fake Slack, with an
// in-memory store and Linear behind the real alert.Service.
type harness struct {
	bot     *Bot
	svc     *alert.Service
	fs      *fakeslack.Server
	store   *memStore
	tracker *memTracker
	ts      string // the alert message's ts
	done    chan error
	stop    context.CancelFunc
	// jobs runs the stored submissions as the work engine would (see kick).
	jobs sync.WaitGroup
	// jobsBeforeAck runs them without waiting for Slack to have their
	// ack (see withJobsBeforeAck).
	jobsBeforeAck bool
}

// startHarness starts the bot with defaultTeam as LINEAR_DEFAULT_TEAM;
// each of opts configures it further before Run starts.
func startHarness(t *testing.T, defaultTeam string, opts ...func(*harness)) *harness {
	t.Helper()
	return startHarnessOn(t, defaultTeam, nil, opts...)
}

// startHarnessOn is startHarness with Linear behind tracker instead of
// h.tracker (which then stays unused); nil means h.tracker.
func startHarnessOn(t *testing.T, defaultTeam string, tracker alert.Tracker, opts ...func(*harness)) *harness {
	t.Helper()
	h := &harness{store: newMemStore(sampleAlert()), tracker: newMemTracker(), done: make(chan error, 1)}
	if tracker == nil {
		tracker = h.tracker
	}
	svc := alert.NewService(h.store, tracker, nil)
	h.svc = svc
	h.bot, h.fs = newFakeBot(t, svc)
	svc.Reporter = h.bot
	svc.Notify = h.kick
	h.bot.defaultTeam = defaultTeam
	// kick runs a job only once its ack is in, so the floor that keeps an
	// outcome behind its ack (minProgress) would only add its wait; and
	// the search box's debounce only matters to typing that overtakes
	// itself. TestOutcomeAfterItsAck keeps the floor.
	h.bot.minProgress = 0
	h.bot.debounce = 0
	for _, o := range opts {
		o(h)
	}

	ctx := t.Context()
	ts, err := h.bot.PostAlert(ctx, sampleAlert(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.ts = ts
	if err := h.store.SetAlertMessage(ctx, 42, ts); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(context.Background())
	h.stop = stop
	go func() { h.done <- h.bot.Run(runCtx) }()
	t.Cleanup(func() { h.shutdown(t) })
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.fs.WaitConnections(wctx, 1); err != nil {
		t.Fatalf("bot did not connect: %v", err)
	}
	return h
}

// kick runs the submissions stored so far, each once, the way the work
// engine runs them after their ack (the in-memory store has no engine):
// each starts once Slack has the ack of every envelope sent so far, or
// at once with jobsBeforeAck.
func (h *harness) kick() {
	for _, j := range h.store.takeSubmissions() {
		h.jobs.Go(func() {
			if !h.jobsBeforeAck {
				h.waitAcks()
			}
			_ = h.svc.RunSubmission(context.Background(), j)
		})
	}
}

// waitAcks waits until every envelope sent is acked or past Slack's 3 s
// (which a test that holds an ack back waits out anyway).
func (h *harness) waitAcks() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.fs.Wait(ctx, func() bool {
		for _, e := range h.fs.Envelopes() {
			if !e.Acked && time.Since(e.SentAt) < 3*time.Second {
				return false
			}
		}
		return true
	})
}

// withJobsBeforeAck runs stored submissions as soon as they are stored,
// before Slack may have their ack (as a job picked up at once by another
// replica), with the bot's own floor for that.
func withJobsBeforeAck() func(*harness) {
	return func(h *harness) {
		h.jobsBeforeAck = true
		h.bot.minProgress = defaultMinProgress
	}
}

// shutdown stops Run and checks it returns cleanly and promptly.
func (h *harness) shutdown(t *testing.T) {
	t.Helper()
	defer h.jobs.Wait()
	if h.stop == nil {
		return
	}
	h.stop()
	h.stop = nil
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Run did not return after its context ended")
	}
}

// waitView waits until the only view's blocks contain all of want.
func (h *harness) waitView(t *testing.T, want ...string) fakeslack.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var v fakeslack.View
	err := h.fs.Wait(ctx, func() bool {
		vs := h.fs.Views()
		if len(vs) != 1 {
			return false
		}
		v = vs[0]
		for _, w := range want {
			if !strings.Contains(string(v.Blocks), w) {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("view never showed %q; views: %+v", want, h.fs.Views())
	}
	return v
}

func TestCreateIssueFlow(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "ENG")
	ctx := t.Context()

	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatalf("click: %v", err)
	}
	// Teams were not cached: a loading modal opened, then views.update
	// filled in the form with the default team and, after, its members.
	v := h.waitView(t, `"assignee:team-eng"`, "Grace Hopper")
	if n := len(h.fs.Calls("views.open")); n != 1 {
		t.Errorf("views.open called %d times, want 1", n)
	}
	for _, d := range h.fs.TriggerLatencies() {
		if d > time.Second {
			t.Errorf("views.open came %v after the click; Slack allows 3 s", d)
		}
	}

	// Every fill is guarded by the hash of the view it replaces.
	for i, c := range h.fs.Calls("views.update") {
		if !strings.Contains(string(c.JSON), `"hash":"`) {
			t.Errorf("views.update #%d without hash: %s", i+1, c.JSON)
		}
	}

	if _, err := h.fs.SelectOption(ctx, "U1", v.ID, actionTeam, "team-ops"); err != nil {
		t.Fatalf("select team: %v", err)
	}
	v = h.waitView(t, `"assignee:team-ops"`, "Linus")
	if strings.Contains(string(v.Blocks), `"assignee:team-eng"`) {
		t.Error("the old team's assignee block survived the team change")
	}
	if _, err := h.fs.SelectOption(ctx, "U1", v.ID, actionAssignee, "u3"); err != nil {
		t.Fatalf("select assignee: %v", err)
	}

	if _, err := h.fs.SubmitView(ctx, "U1", v.ID); err != nil {
		t.Fatalf("submit: %v", err)
	}
	h.waitView(t, "Created", "ENG-1")

	reqs := h.tracker.Requests()
	if len(reqs) != 1 {
		t.Fatalf("Linear got %d create requests, want 1", len(reqs))
	}
	meta, err := decodeMeta(v.PrivateMetadata)
	if err != nil {
		t.Fatal(err)
	}
	got := reqs[0]
	want := alert.IssueRequest{
		ID: meta.CreationID, TeamID: "team-ops", AssigneeID: "u3", Title: sampleAlert().Title(),
		Description: alert.Description(sampleAlert()), Priority: alert.PriorityNone,
		// users.info of the Slack user who submitted.
		CreateAsUser: "ada", DisplayIconURL: "https://avatars.slack-edge.example/U1_72.png",
	}
	got.Attachment = alert.Attachment{}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("create request (-want +got):\n%s", d)
	}
	if l, err := h.store.Link(ctx, "err-1"); err != nil || l.Identifier != "ENG-1" {
		t.Errorf("link = %+v, %v; want ENG-1", l, err)
	}
	if un := h.fs.Unacked(); len(un) != 0 {
		t.Errorf("%d envelopes were not acked in time", len(un))
	}
	var worst time.Duration
	for _, d := range h.fs.AckLatencies() {
		worst = max(worst, d)
	}
	t.Logf("acks: %d, slowest %v; views.open after click: %v", len(h.fs.AckLatencies()), worst, h.fs.TriggerLatencies())
}

func TestCreateModalFillError(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	h.tracker.setErr(alert.ErrUnauthorized)
	if _, err := h.fs.ClickButton(t.Context(), "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatal(err)
	}
	h.waitView(t, "reconnect with")
}

func TestCreateModalAlreadyLinked(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	if err := h.store.SaveLink(t.Context(), sampleLink()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.fs.ClickButton(t.Context(), "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatal(err)
	}
	h.waitView(t, "already tracked", "ENG-42")
	if n := h.tracker.Calls("Teams"); n != 0 {
		t.Errorf("Linear was asked for teams %d times for a linked error", n)
	}
}

// TestSubmitTwiceCreatesOnce: Slack delivers the same submission again; it
// carries the same creation_id, so Linear sees one issue and the modal
// shows it.
func TestSubmitTwiceCreatesOnce(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "ENG")
	ctx := t.Context()
	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatal(err)
	}
	v := h.waitView(t, `"assignee:team-eng"`, "Grace Hopper")
	ack, err := h.fs.SubmitView(ctx, "U1", v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.fs.Redeliver(ctx, ack.EnvelopeID); err != nil {
		t.Fatal(err)
	}
	h.waitView(t, "Created", "ENG-1")
	h.jobs.Wait()
	issues := map[string]bool{}
	for _, r := range h.tracker.Requests() {
		issues[r.ID] = true
	}
	if len(issues) != 1 {
		t.Errorf("Linear saw %d distinct issue ids, want 1", len(issues))
	}
	if l, err := h.store.Link(ctx, "err-1"); err != nil || l.Identifier != "ENG-1" {
		t.Errorf("link %+v, %v", l, err)
	}
}

func TestSlashCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		trackErr   error
		want       []string
	}{
		{"help", "help", nil, []string{"`test`", "`teams`", "`connect`", "`disconnect`", "`status`", "`default-team KEY`"}},
		{"empty is help", "", nil, []string{"subcommands"}},
		{"unknown is help", "frobnicate", nil, []string{"I don't know `frobnicate`", "subcommands"}},
		{"test", "test", nil, []string{"Ada &lt;admin&gt;", "ada@example.com", "Acme &amp; Co", "ENG-1", "First &lt;b&gt;"}},
		{"teams", "teams", nil, []string{"Engineering", "`OPS`"}},
		{"error in words", "test", alert.ErrForbidden, []string{"missing a Linear permission"}},
		{"status without oauth", "status", nil, []string{"not connected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, "")
			h.tracker.setErr(tt.trackErr)
			ctx := t.Context()
			if _, err := h.fs.SlashCommand(ctx, "U1", "C100", "/proliferate-linear", tt.text); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			var got []fakeslack.Response
			if err := h.fs.Wait(wctx, func() bool { got = h.fs.Responses(); return len(got) > 0 }); err != nil {
				t.Fatal("no reply through response_url")
			}
			r := got[0]
			if r.ResponseType != "ephemeral" {
				t.Errorf("response_type = %q, want ephemeral", r.ResponseType)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("reply %q lacks %q", r.Text, w)
				}
			}
		})
	}
}

// TestRunDrainsWork: work queued before shutdown still finishes, and Run
// returns only after it has.
func TestRunDrainsWork(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "ENG")
	h.bot.teams.put("", sampleTeams())
	h.tracker.gate = make(chan struct{})
	if _, err := h.fs.ClickButton(t.Context(), "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatal(err)
	}
	h.waitView(t, "Loading team members")
	h.stop()
	select {
	case err := <-h.done:
		t.Fatalf("Run returned (%v) while a job was still running", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(h.tracker.gate)
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the work drained")
	}
	h.stop = nil
	h.waitView(t, "Grace Hopper")
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no bot token", Config{}},
		{"api url without slash", Config{BotToken: "x", APIURL: "http://slack.example/api"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, nil); !errors.Is(err, alert.ErrInvalid) {
				t.Errorf("New = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestRunRefusedAppToken(t *testing.T) {
	t.Parallel()
	fs := fakeslack.New(fakeslack.Options{})
	t.Cleanup(fs.Close)
	b, err := New(Config{BotToken: "xoxb-fake", AppToken: "xapp-wrong", APIURL: fs.URL()}, alert.NewService(newMemStore(), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := b.Run(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("Run = %v (ctx %v), want an early auth error", err, ctx.Err())
	}
}

// TestReconnectsAfterDisconnect: Slack asks for a reconnect a few times a
// day; clicks after it are still served.
func TestReconnectsAfterDisconnect(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	h.bot.teams.put("", sampleTeams())
	h.fs.Disconnect()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := h.fs.WaitConnections(ctx, 1); err != nil {
		t.Fatalf("no connection after disconnect: %v", err)
	}
	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatalf("click after reconnect: %v", err)
	}
	h.waitView(t, `"block_id":"team"`)
}
