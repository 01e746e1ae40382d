package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/socketmode"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// logBuffer is a goroutine-safe log sink for asserting what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// withLogs sends the bot's logs to logs, and shortens the reconnect
// backoff so reconnect tests run quickly.
func withLogs(logs *logBuffer) func(*harness) {
	return func(h *harness) {
		log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		h.bot.log, h.bot.socket.log = log, log
		h.bot.socket.minBackoff, h.bot.socket.maxBackoff = 20*time.Millisecond, 100*time.Millisecond
	}
}

// waitLog waits until logs contain every one of want.
func waitLog(t *testing.T, h *harness, logs *logBuffer, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := h.fs.Wait(ctx, func() bool {
		s := logs.String()
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("logs never had %q:\n%s", want, logs.String())
	}
}

// TestReconnects: whatever ends a connection (Slack's disconnect frame, an
// abrupt close, apps.connections.open failing for a while), the bot
// reconnects, logs why, answers the next click, and never acks hello or
// disconnect frames.
func TestReconnects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fault    func(fs *fakeslack.Server)
		wantLogs []string
	}{
		{"disconnect frame", func(fs *fakeslack.Server) { fs.DisconnectWith("warning") },
			[]string{"slack socket mode reconnecting", "slack sent disconnect: warning"}},
		{"abrupt close", func(fs *fakeslack.Server) { fs.DropConnections() },
			[]string{"slack socket mode connection lost; reconnecting", "reason="}},
		{"apps.connections.open failing", func(fs *fakeslack.Server) {
			fs.FailConnectionsOpen(3)
			fs.DropConnections()
		}, []string{"slack socket mode connect failed", "attempt=3", "internal_error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &logBuffer{}
			h := startHarness(t, "", withLogs(logs))
			h.bot.teams.put("", sampleTeams())
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			waitLog(t, h, logs, "slack socket mode connected")
			tt.fault(h.fs)
			waitLog(t, h, logs, tt.wantLogs...)
			if err := h.fs.Wait(ctx, func() bool { return strings.Count(logs.String(), "slack socket mode connected") >= 2 }); err != nil {
				t.Fatalf("no second connection:\n%s", logs.String())
			}
			if err := h.fs.WaitConnections(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateIssue); err != nil {
				t.Fatalf("click after reconnect: %v", err)
			}
			h.waitView(t, `"block_id":"team"`)
			if n := len(h.fs.Calls("views.open")); n != 1 {
				t.Errorf("views.open called %d times, want 1", n)
			}
			if s := h.fs.StrayAcks(); len(s) != 0 {
				t.Errorf("stray acks (hello or disconnect acked?): %+v", s)
			}
		})
	}
}

// TestAckStaysOnItsConnection: a search answer that is still waiting on
// Linear when its connection drops is not acked on the next connection
// (Slack ties an envelope to its socket); it is dropped and logged.
func TestAckStaysOnItsConnection(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	h := startHarness(t, "", withLogs(logs))
	seedIssues(h)
	// The ack goes out when Linear answers, which it does only after the
	// bot has seen the drop: the budget must not run out before.
	h.bot.searchBudget = time.Minute
	v := h.openLinkModal(t)
	slow := make(chan struct{})
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(slow) }) })
	h.tracker.slow = slow

	sctx, cancelSuggest := context.WithCancel(context.WithoutCancel(t.Context()))
	defer cancelSuggest()
	done := make(chan error, 1)
	go func() {
		_, err := h.fs.Suggest(sctx, "U1", v.ID, actionIssueSearch, "checkout")
		done <- err
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// The query is at Linear: drop the socket, and let Linear answer once
	// the bot knows the connection is gone.
	if err := h.fs.Wait(ctx, func() bool { return h.tracker.held.Load() > 0 }); err != nil {
		t.Fatal("search never reached Linear")
	}
	h.fs.DropConnections()
	waitLog(t, h, logs, "slack socket mode connection lost; reconnecting")
	release.Do(func() { close(slow) })
	waitLog(t, h, logs, "slack ack not sent", "kind=block_suggestion", "connection is gone")
	// The fake would report ErrNoAck only after Slack's 3 s; the envelope
	// record already says whether an ack came.
	cancelSuggest()
	if err := <-done; err == nil {
		t.Error("the suggestion was acked")
	}
	var sugg *fakeslack.Envelope
	for _, e := range h.fs.Envelopes() {
		if strings.Contains(string(e.Payload), `"type":"block_suggestion"`) {
			sugg = &e
		}
	}
	if sugg == nil || sugg.Acked || sugg.Late {
		t.Errorf("suggestion envelope = %+v, want one, never acked", sugg)
	}
	if s := h.fs.StrayAcks(); len(s) != 0 {
		t.Errorf("the ack went out on another connection: %+v", s)
	}
	if err := h.fs.WaitConnections(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

// TestParseRequestRealFrames: Slack's own envelopes (testdata/socket,
// copied from Slack's docs and SDK test fixtures) become the events
// slack-go's client would emit; hello and disconnect frames carry no
// envelope id, so there is nothing to ack.
func TestParseRequestRealFrames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want socketmode.EventType
	}{
		{"slack_socket_slash_commands_envelope_docs.json", socketmode.EventTypeSlashCommand},
		{"slack_socket_slash_commands_string_bool_envelope_slackgo1265.json", socketmode.EventTypeSlashCommand},
		{"slack_socket_block_actions_button_envelope_docs.json", socketmode.EventTypeInteractive},
		{"slack_socket_block_suggestion_envelope_docs.json", socketmode.EventTypeInteractive},
		{"slack_socket_events_api_app_mention_envelope_pysdk.json", socketmode.EventTypeEventsAPI},
		{"slack_socket_hello_docs.json", "hello"},
		{"slack_socket_disconnect_warning_docs.json", "disconnect"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "socket", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var req socketmode.Request
			if err := json.Unmarshal(raw, &req); err != nil {
				t.Fatal(err)
			}
			evt, err := parseRequest(&req)
			if err != nil {
				t.Fatal(err)
			}
			if evt.Type != tt.want {
				t.Errorf("type = %q, want %q", evt.Type, tt.want)
			}
			if (tt.want == "hello" || tt.want == "disconnect") && req.EnvelopeID != "" {
				t.Errorf("%s carries envelope id %q", tt.want, req.EnvelopeID)
			}
		})
	}
}

// TestBusyClickIsAnswered: a click whose lane is full is acked and told so
// ephemerally (through its response_url), never left without an answer.
func TestBusyClickIsAnswered(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "", func(h *harness) { h.bot.fast = newLane("fast", 1, 0) })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatalf("click: %v", err)
	}
	var got []fakeslack.Response
	if err := h.fs.Wait(ctx, func() bool { got = h.fs.Responses(); return len(got) > 0 }); err != nil {
		t.Fatal("the refused click was not answered")
	}
	if got[0].ResponseType != "ephemeral" || !strings.Contains(got[0].Text, "try again") {
		t.Errorf("answer = %+v, want an ephemeral busy note", got[0])
	}
	if n := len(h.fs.Calls("views.open")); n != 0 {
		t.Errorf("views.open called %d times by refused work", n)
	}
}
