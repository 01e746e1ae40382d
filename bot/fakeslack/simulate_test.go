package fakeslack

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// modalBot is a small bot driving triageModal the way the real one should:
// ack first, open the modal from the click, rebuild the assignee block when
// the team changes (passing the view hash), answer assignee suggestions,
// and answer submissions with the next canned response.
type modalBot struct {
	mu          sync.Mutex
	errs        []error
	submissions []slack.InteractionCallback
	replies     []any // ack payload per submission; nil closes the view
}

func (b *modalBot) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, err)
}

func (b *modalBot) handle(h *harness, evt socketmode.Event) {
	cb := evt.Data.(slack.InteractionCallback)
	ctx := context.Background()
	switch {
	case cb.Type == slack.InteractionTypeBlockActions && cb.Container.Type == "message":
		h.sm.Ack(*evt.Request)
		if _, err := h.api.OpenViewContext(ctx, cb.TriggerID, triageModal("none")); err != nil {
			b.fail(err)
		}
	case cb.Type == slack.InteractionTypeBlockActions:
		h.sm.Ack(*evt.Request)
		team := cb.View.State.Values["team_block"]["team"].SelectedOption.Value
		if _, err := h.api.UpdateViewContext(ctx, triageModal(team), "", cb.View.Hash, cb.View.ID); err != nil {
			b.fail(err)
		}
	case cb.Type == slack.InteractionTypeBlockSuggestion:
		var opts []*slack.OptionBlockObject
		for _, u := range []struct{ id, name string }{{"U1", "alice"}, {"U2", "bob"}} {
			if strings.HasPrefix(u.name, cb.Value) {
				opts = append(opts, slack.NewOptionBlockObject(u.id, plain(u.name), nil))
			}
		}
		h.sm.Ack(*evt.Request, slack.OptionsResponse{Options: opts})
	case cb.Type == slack.InteractionTypeViewSubmission:
		b.mu.Lock()
		b.submissions = append(b.submissions, cb)
		var reply any
		if len(b.replies) > 0 {
			reply, b.replies = b.replies[0], b.replies[1:]
		}
		b.mu.Unlock()
		if reply == nil {
			h.sm.Ack(*evt.Request)
		} else {
			h.sm.Ack(*evt.Request, reply)
		}
	}
}

func TestModalFlow(t *testing.T) {
	t.Parallel()
	bot := &modalBot{replies: []any{slack.NewErrorsViewSubmissionResponse(map[string]string{"title_block": "Too vague"}), nil}}
	h := startHarness(t, Options{}, 1, bot.handle)
	ctx := testCtx(t)
	clickAlert(t, h)
	if err := h.srv.Wait(ctx, func() bool { return len(h.srv.Views()) == 1 }); err != nil {
		t.Fatal(err)
	}
	id := h.srv.Views()[0].ID

	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"type a title", func() error { return h.srv.SetInput(id, "title", InputValue{Value: "Crash on save"}) }, nil},
		{"pick a team that is not offered", func() error { _, err := h.srv.SelectOption(ctx, "U1", id, "team", "XYZ"); return err }, ErrInvalidValue},
		{"someone else's view", func() error { _, err := h.srv.SelectOption(ctx, "U2", id, "team", "ENG"); return err }, ErrNotFound},
		{"pick a team", func() error {
			if _, err := h.srv.SelectOption(ctx, "U1", id, "team", "ENG"); err != nil {
				return err
			}
			return h.srv.Wait(ctx, func() bool { v, _ := h.srv.View(id); return v.Updates == 1 })
		}, nil},
		{"query too short is fine at min_query_length 0", func() error { _, err := h.srv.Suggest(ctx, "U1", id, "assignee", ""); return err }, nil},
		{"search assignees", func() error { _, err := h.srv.Suggest(ctx, "U1", id, "assignee", "ali"); return err }, nil},
		{"pick an assignee not suggested", func() error { _, err := h.srv.SelectOption(ctx, "U1", id, "assignee", "U2"); return err }, ErrInvalidValue},
		{"pick the assignee", func() error {
			ack, err := h.srv.SelectOption(ctx, "U1", id, "assignee", "U1")
			if err == nil && ack.EnvelopeID != "" {
				return errors.New("a non-dispatching input sent block_actions")
			}
			return err
		}, nil},
		{"submit, get errors", func() error { _, err := h.srv.SubmitView(ctx, "U1", id); return err }, nil},
		{"submit again", func() error { _, err := h.srv.SubmitView(ctx, "U1", id); return err }, nil},
		{"submit a closed view", func() error { _, err := h.srv.SubmitView(ctx, "U1", id); return err }, ErrNotFound},
	}
	for _, st := range steps {
		if err := st.do(); !errors.Is(err, st.want) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.want)
		}
		if st.name == "submit, get errors" {
			if v, _ := h.srv.View(id); !v.Open || v.Errors["title_block"] != "Too vague" {
				t.Errorf("after errors: open=%v errors=%v", v.Open, v.Errors)
			}
		}
	}
	bot.mu.Lock()
	defer bot.mu.Unlock()
	if len(bot.errs) > 0 {
		t.Fatalf("bot errors: %v", bot.errs)
	}
	if v, _ := h.srv.View(id); v.Open {
		t.Errorf("view still open after a plain ack")
	}
	sub := bot.submissions[1].View
	vals := sub.State.Values
	got := []string{sub.CallbackID, sub.PrivateMetadata, vals["title_block"]["title"].Value,
		vals["team_block"]["team"].SelectedOption.Value, vals["assignee_ENG"]["assignee"].SelectedOption.Value}
	want := []string{"create_issue", "alert-42", "Crash on save", "ENG", "U1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("submitted state = %q, want %q", got, want)
	}
}

func TestSubmitResponseActions(t *testing.T) {
	t.Parallel()
	other := triageModal("OPS")
	other.ExternalID = ""
	tooLong := triageModal("x")
	tooLong.ExternalID, tooLong.Title = "", plain(strings.Repeat("t", 25))
	tests := []struct {
		name      string
		reply     any
		clear     string // title to blank first
		wantErr   error
		wantViews int
		wantOpen  []bool
	}{
		{"none closes", nil, "", nil, 1, []bool{false}},
		{"clear closes", map[string]string{"response_action": "clear"}, "", nil, 1, []bool{false}},
		{"update keeps id", slack.NewUpdateViewSubmissionResponse(&other), "", nil, 1, []bool{true}},
		{"push stacks", slack.NewPushViewSubmissionResponse(&other), "", nil, 2, []bool{true, true}},
		{"invalid update", slack.NewUpdateViewSubmissionResponse(&tooLong), "", ErrBadResponse, 1, []bool{true}},
		{"errors on a non-input", slack.NewErrorsViewSubmissionResponse(map[string]string{"nope": "x"}), "", ErrBadResponse, 1, []bool{true}},
		{"required input empty", nil, "title", ErrRequiredInput, 1, []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bot := &modalBot{replies: []any{tt.reply}}
			h := startHarness(t, Options{}, 1, bot.handle)
			ctx := testCtx(t)
			clickAlert(t, h)
			if err := h.srv.Wait(ctx, func() bool { return len(h.srv.Views()) == 1 }); err != nil {
				t.Fatal(err)
			}
			id := h.srv.Views()[0].ID
			if err := h.srv.SetInput(id, "team", InputValue{Value: "OPS"}); err != nil {
				t.Fatal(err)
			}
			if tt.clear != "" {
				if err := h.srv.SetInput(id, tt.clear, InputValue{}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := h.srv.SubmitView(ctx, "U1", id); !errors.Is(err, tt.wantErr) {
				t.Fatalf("SubmitView err = %v, want %v", err, tt.wantErr)
			}
			views := h.srv.Views()
			var open []bool
			for _, v := range views {
				open = append(open, v.Open)
			}
			if len(views) != tt.wantViews || len(open) != len(tt.wantOpen) {
				t.Fatalf("views = %d (open %v), want %d (open %v)", len(views), open, tt.wantViews, tt.wantOpen)
			}
			for i := range open {
				if open[i] != tt.wantOpen[i] {
					t.Errorf("view %d open = %v, want %v", i, open[i], tt.wantOpen[i])
				}
			}
			if tt.wantErr == ErrRequiredInput && len(h.srv.Envelopes()) != 1 {
				t.Errorf("a blocked submission still sent view_submission")
			}
			if tt.name == "update keeps id" && (views[0].Updates != 1 || views[0].State["assignee_OPS"] == nil) {
				t.Errorf("updated view = %+v", views[0])
			}
		})
	}
}

func TestSlashCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		reply         any
		viaURL        string // response_type to post to the response_url instead
		wantEphemeral int
		wantInChannel int
	}{
		{"plain ack", nil, "", 0, 0},
		{"ephemeral ack message", map[string]any{"text": "Linear: connected as ada@example.com"}, "", 1, 0},
		{"in_channel ack message", map[string]any{"response_type": "in_channel", "text": "hello"}, "", 0, 1},
		{"ephemeral via response_url", nil, slack.ResponseTypeEphemeral, 1, 0},
		{"in_channel via response_url", nil, slack.ResponseTypeInChannel, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan slack.SlashCommand, 1)
			h := startHarness(t, Options{}, 1, func(h *harness, evt socketmode.Event) {
				cmd := evt.Data.(slack.SlashCommand)
				if tt.reply != nil {
					h.sm.Ack(*evt.Request, tt.reply)
				} else {
					h.sm.Ack(*evt.Request)
				}
				if tt.viaURL != "" {
					if _, _, _, err := h.api.SendMessageContext(context.Background(), "", slack.MsgOptionResponseURL(cmd.ResponseURL, tt.viaURL), slack.MsgOptionText("recent issues", false)); err != nil {
						panic(err)
					}
				}
				got <- cmd
			})
			ctx := testCtx(t)
			if _, err := h.srv.SlashCommand(ctx, "U2", "C1", "/proliferate-linear", "test"); err != nil {
				t.Fatalf("SlashCommand: %v", err)
			}
			cmd := <-got
			if cmd.Command != "/proliferate-linear" || cmd.Text != "test" || cmd.UserID != "U2" || cmd.ChannelID != "C1" || cmd.TriggerID == "" || cmd.ResponseURL == "" {
				t.Errorf("command payload = %+v", cmd)
			}
			if n := len(h.srv.Ephemerals()); n != tt.wantEphemeral {
				t.Errorf("ephemerals = %d, want %d", n, tt.wantEphemeral)
			}
			if n := len(h.srv.Messages("C1")); n != tt.wantInChannel {
				t.Errorf("channel messages = %d, want %d", n, tt.wantInChannel)
			}
		})
	}
}

func TestRedeliverSendsTheSamePayloadAgain(t *testing.T) {
	t.Parallel()
	got := make(chan slack.SlashCommand, 2)
	h := startHarness(t, Options{}, 1, func(h *harness, evt socketmode.Event) {
		got <- evt.Data.(slack.SlashCommand)
		h.sm.Ack(*evt.Request)
	})
	ctx := testCtx(t)
	ack, err := h.srv.SlashCommand(ctx, "U1", "C1", "/proliferate-linear", "help")
	if err != nil {
		t.Fatalf("SlashCommand: %v", err)
	}
	first := <-got
	again, err := h.srv.Redeliver(ctx, ack.EnvelopeID)
	if err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	second := <-got
	if first.Text != second.Text || first.TriggerID != second.TriggerID || first.UserID != second.UserID {
		t.Errorf("redelivered payload differs: %+v vs %+v", first, second)
	}
	if again.EnvelopeID == ack.EnvelopeID {
		t.Errorf("redelivery reused envelope id %s", ack.EnvelopeID)
	}
	if _, err := h.srv.Redeliver(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Redeliver(unknown) = %v, want ErrNotFound", err)
	}
}
