package bot

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// TestReaderAcksFirst: a click and an Events API envelope are acked by the
// connection's reader while nothing has parsed or routed them yet (nobody
// reads the reader's output here); a slash command and a Reopen click,
// whose acks depend on their payload or wait on the store, are handed on
// unacked.
func TestReaderAcksFirst(t *testing.T) {
	t.Parallel()
	fs := fakeslack.New(fakeslack.Options{AckTimeout: 2 * time.Second})
	t.Cleanup(fs.Close)
	fs.AddUser(fakeslack.User{ID: "U1", Name: "ada"})
	fs.AddChannel("C1", "alerts")
	api := slack.New(fakeslack.DefaultBotToken, slack.OptionAPIURL(fs.URL()), slack.OptionAppLevelToken(fakeslack.DefaultAppToken))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionBlocks(slack.NewActionBlock("actions",
		slack.NewButtonBlockElement(actionCreateIssue, "42", plainText("Create")),
		slack.NewButtonBlockElement(actionReopen, "42", plainText("Reopen")),
	)))
	if err != nil {
		t.Fatal(err)
	}

	sc := newSocketClient(api, slog.New(slog.DiscardHandler), nil)
	out := make(chan inbound, 8) // read only below, after the acks
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sc.run(rctx, out) }()
	defer func() { stop(); <-done }()
	if err := fs.WaitConnections(ctx, 1); err != nil {
		t.Fatal(err)
	}

	if _, err := fs.ClickButton(ctx, "U1", "C1", ts, actionCreateIssue); err != nil {
		t.Errorf("click: %v (not acked before it was parsed)", err)
	}
	if _, err := fs.Event(ctx, map[string]any{"type": "reaction_added", "user": "U1"}); err != nil {
		t.Errorf("event: %v (not acked before it was parsed)", err)
	}
	for _, want := range []string{socketmode.RequestTypeInteractive, socketmode.RequestTypeEventsAPI} {
		in := <-out
		if !in.acked || in.req.Type != want {
			t.Errorf("handed on %s acked=%v, want %s acked", in.req.Type, in.acked, want)
		}
	}

	for _, tt := range []struct {
		name string
		send func(context.Context) error
	}{
		{"slash command", func(ctx context.Context) error {
			_, err := fs.SlashCommand(ctx, "U1", "C1", "/proliferate-linear", "status")
			return err
		}},
		{"reopen click", func(ctx context.Context) error {
			_, err := fs.ClickButton(ctx, "U1", "C1", ts, actionReopen)
			return err
		}},
	} {
		sent := make(chan error, 1)
		go func() { sent <- tt.send(ctx) }()
		in := <-out
		if in.acked {
			t.Errorf("%s: acked by the reader", tt.name)
		}
		select {
		case err := <-sent:
			t.Errorf("%s: answered before its ack (%v)", tt.name, err)
		default:
		}
		if err := in.conn.ack(ctx, in.req.EnvelopeID, nil); err != nil {
			t.Fatal(err)
		}
		if err := <-sent; err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if s := fs.StrayAcks(); len(s) != 0 {
		t.Errorf("stray acks: %+v", s)
	}
}

func plainText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// TestParseInteractionAsSlackGo: a block_actions payload reads as
// slack-go reads it, but for its message's blocks and attachments, which
// no handler of a message button uses; other payloads read exactly as
// slack-go reads them.
func TestParseInteractionAsSlackGo(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "ENG")
	h.bot.teams.put("", sampleTeams())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := h.fs.ClickButton(ctx, "U1", "C100", h.ts, actionCreateIssue); err != nil {
		t.Fatal(err)
	}
	v := h.waitView(t, `"block_id":"team"`)
	if _, err := h.fs.SelectOption(ctx, "U1", v.ID, actionTeam, sampleTeams()[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.fs.SubmitView(ctx, "U1", v.ID); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "socket", "slack_socket_block_actions_button_envelope_docs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var docs socketmode.Request
	if err := json.Unmarshal(raw, &docs); err != nil {
		t.Fatal(err)
	}
	payloads := []json.RawMessage{docs.Payload}
	for _, e := range h.fs.Envelopes() {
		if e.Type == socketmode.RequestTypeInteractive {
			payloads = append(payloads, e.Payload)
		}
	}
	kinds := map[slack.InteractionType]int{}
	for i, p := range payloads {
		got, err := parseInteraction(p)
		if err != nil {
			t.Fatalf("payload %d: %v", i, err)
		}
		var want slack.InteractionCallback
		if err := json.Unmarshal(p, &want); err != nil {
			t.Fatal(err)
		}
		kinds[want.Type]++
		if want.Type == slack.InteractionTypeBlockActions {
			m := want.Message.Msg
			if want.Container.Type == "message" && len(m.Blocks.BlockSet) == 0 {
				t.Errorf("payload %d: slack-go read no message blocks; the test shows nothing", i)
			}
			want.Message = slack.Message{Msg: slack.Msg{Type: m.Type, User: m.User, BotID: m.BotID, Text: m.Text,
				Timestamp: m.Timestamp, ThreadTimestamp: m.ThreadTimestamp}}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("payload %d (%s) reads differently:\n got %+v\nwant %+v", i, want.Type, got, want)
		}
	}
	if kinds[slack.InteractionTypeBlockActions] < 3 || kinds[slack.InteractionTypeViewSubmission] < 1 {
		t.Errorf("payload kinds %v: want block_actions from a message and a view, and a submission", kinds)
	}
}

// TestReceiveAfterConnectionEnded: an envelope not yet acked whose
// connection ended while it waited is dropped, neither acked nor queued;
// one its reader acked is still queued, and one whose connection lives is
// acked and queued.
func TestReceiveAfterConnectionEnded(t *testing.T) {
	t.Parallel()
	b, err := New(Config{BotToken: "xoxb-test"}, alert.NewService(newMemStore(), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	ended, live := make(chan struct{}), make(chan struct{})
	close(ended)
	slash := func(id string) *socketmode.Request {
		return &socketmode.Request{Type: socketmode.RequestTypeSlashCommands, EnvelopeID: id,
			Payload: json.RawMessage(`{"command":"/proliferate-linear","text":"help","user_id":"U1","channel_id":"C1"}`)}
	}
	rec := &ackRecorder{}
	b.receive(t.Context(), inbound{req: slash("gone"), conn: rec, ended: ended})
	if _, ok := rec.acks["gone"]; ok || b.slow.queued.Load() != 0 {
		t.Errorf("envelope of an ended connection: acks %v, %d queued; want neither", rec.acks, b.slow.queued.Load())
	}
	b.receive(t.Context(), inbound{req: slash("acked"), conn: rec, ended: ended, acked: true})
	if _, ok := rec.acks["acked"]; ok || b.slow.queued.Load() != 1 {
		t.Errorf("envelope acked by its reader: acks %v, %d queued; want its work queued, no second ack", rec.acks, b.slow.queued.Load())
	}
	b.receive(t.Context(), inbound{req: slash("live"), conn: rec, ended: live})
	if _, ok := rec.acks["live"]; !ok || b.slow.queued.Load() != 2 {
		t.Errorf("envelope of a live connection: acks %v, %d queued; want acked and queued", rec.acks, b.slow.queued.Load())
	}
}
