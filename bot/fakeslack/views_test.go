package fakeslack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// triageModal is a modal shaped like the bot's "Create Linear Issue" one:
// a title input, a dispatching team select, an assignee external select
// whose block_id encodes the team, and an optional description.
func triageModal(team string) slack.ModalViewRequest {
	title := slack.NewPlainTextInputBlockElement(plain("Issue title"), "title")
	title.InitialValue = "TypeError: x is undefined"
	teamSel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Team"), "team",
		slack.NewOptionBlockObject("ENG", plain("Engineering"), nil),
		slack.NewOptionBlockObject("OPS", plain("Operations"), nil))
	teamBlock := slack.NewInputBlock("team_block", plain("Team"), nil, teamSel)
	teamBlock.DispatchAction = true
	zero := 0
	assignee := slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, plain("Assignee"), "assignee")
	assignee.MinQueryLength = &zero
	assigneeBlock := slack.NewInputBlock("assignee_"+team, plain("Assignee"), nil, assignee)
	assigneeBlock.Optional = true
	desc := slack.NewInputBlock("desc_block", plain("Description"), nil, slack.NewPlainTextInputBlockElement(nil, "desc"))
	desc.Optional = true
	return slack.ModalViewRequest{
		Type: slack.VTModal, Title: plain("Create Linear issue"), Submit: plain("Create"), Close: plain("Cancel"),
		CallbackID: "create_issue", PrivateMetadata: "alert-42", ExternalID: "modal-alert-42-" + team,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("title_block", plain("Title"), nil, title), teamBlock, assigneeBlock, desc,
		}},
	}
}

// openOnClick is a handler that acks, then opens triageModal with the
// click's trigger_id, reporting the result on out.
func openOnClick(out chan<- error, delay time.Duration, twice bool) handlerFunc {
	return func(h *harness, evt socketmode.Event) {
		h.sm.Ack(*evt.Request)
		cb := evt.Data.(slack.InteractionCallback)
		time.Sleep(delay)
		_, err := h.api.OpenViewContext(context.Background(), cb.TriggerID, triageModal("none"))
		if twice && err == nil {
			_, err = h.api.OpenViewContext(context.Background(), cb.TriggerID, triageModal("again"))
		}
		out <- err
	}
}

func clickAlert(t *testing.T, h *harness) {
	t.Helper()
	ctx := testCtx(t)
	_, ts, err := h.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("alert", false), alertBlocks())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.srv.ClickButton(ctx, "U1", "C1", ts, "create_issue"); err != nil {
		t.Fatalf("ClickButton: %v", err)
	}
}

func TestViewsOpenTriggers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		delay time.Duration
		twice bool
		want  string // Slack error code, "" for success
	}{
		{"in time", 0, false, ""},
		{"expired", 300 * time.Millisecond, false, "expired_trigger_id"},
		{"used twice", 0, true, "exchanged_trigger_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := make(chan error, 1)
			h := startHarness(t, Options{TriggerTTL: 200 * time.Millisecond}, 1, openOnClick(out, tt.delay, tt.twice))
			clickAlert(t, h)
			err := <-out
			if tt.want == "" {
				if err != nil {
					t.Fatalf("views.open: %v", err)
				}
			} else if err == nil || err.Error() != tt.want {
				t.Fatalf("views.open err = %v, want %s", err, tt.want)
			}
			lat := h.srv.TriggerLatencies()
			if len(lat) == 0 || tt.delay > 0 && lat[0] < tt.delay {
				t.Errorf("TriggerLatencies = %v, want first ≥ %v", lat, tt.delay)
			}
		})
	}
	t.Run("unknown trigger", func(t *testing.T) {
		srv := newServer(t, Options{})
		_, err := newAPI(srv).OpenViewContext(testCtx(t), "1.2.bogus", triageModal("x"))
		if err == nil || err.Error() != "invalid_trigger_id" {
			t.Errorf("err = %v, want invalid_trigger_id", err)
		}
	})
}

// openedView clicks the alert's button and returns the modal it opened.
func openedView(t *testing.T, h *harness, out chan error) View {
	t.Helper()
	clickAlert(t, h)
	if err := <-out; err != nil {
		t.Fatalf("views.open: %v", err)
	}
	views := h.srv.Views()
	if len(views) != 1 {
		t.Fatalf("views = %d, want 1", len(views))
	}
	return views[0]
}

func TestViewsUpdateHash(t *testing.T) {
	t.Parallel()
	out := make(chan error, 1)
	h := startHarness(t, Options{}, 1, openOnClick(out, 0, false))
	v := openedView(t, h, out)
	ctx := testCtx(t)
	if !v.Open || v.Title != "Create Linear issue" || v.CallbackID != "create_issue" || v.User != "U1" || v.TriggerID == "" {
		t.Errorf("opened view = %+v", v)
	}
	if got := *v.State["title_block"]["title"].Value; got != "TypeError: x is undefined" {
		t.Errorf("initial state title = %q", got)
	}
	resp, err := h.api.UpdateViewContext(ctx, triageModal("ENG"), "", v.Hash, v.ID)
	if err != nil {
		t.Fatalf("update with current hash: %v", err)
	}
	if resp.Hash == v.Hash || resp.ID != v.ID {
		t.Errorf("update kept hash %q / changed id %q", resp.Hash, resp.ID)
	}
	if _, err := h.api.UpdateViewContext(ctx, triageModal("OPS"), "", v.Hash, v.ID); err == nil || err.Error() != "hash_conflict" {
		t.Errorf("stale hash: err = %v, want hash_conflict", err)
	}
	if _, err := h.api.UpdateViewContext(ctx, triageModal("OPS"), "modal-alert-42-ENG", "", ""); err != nil {
		t.Errorf("update by external_id: %v", err)
	}
	if _, err := h.api.UpdateViewContext(ctx, triageModal("OPS"), "", "", "V404"); err == nil || err.Error() != "not_found" {
		t.Errorf("unknown view: err = %v, want not_found", err)
	}
	got, _ := h.srv.View(v.ID)
	if got.Updates != 2 || got.ExternalID != "modal-alert-42-OPS" {
		t.Errorf("after updates: Updates=%d ExternalID=%q", got.Updates, got.ExternalID)
	}
}

func TestViewLimits(t *testing.T) {
	t.Parallel()
	out := make(chan error, 1)
	h := startHarness(t, Options{}, 1, openOnClick(out, 0, false))
	v := openedView(t, h, out)
	dividers := func(n int) slack.Blocks {
		b := make([]slack.Block, n)
		for i := range b {
			b[i] = slack.NewDividerBlock()
		}
		return slack.Blocks{BlockSet: b}
	}
	tests := []struct {
		name    string
		edit    func(*slack.ModalViewRequest)
		pointer string // "" means valid
	}{
		{"title 24 ok", func(m *slack.ModalViewRequest) { m.Title = plain(strings.Repeat("t", 24)) }, ""},
		{"title 25", func(m *slack.ModalViewRequest) { m.Title = plain(strings.Repeat("t", 25)) }, "/view/title/text"},
		{"submit 25", func(m *slack.ModalViewRequest) { m.Submit = plain(strings.Repeat("s", 25)) }, "/view/submit/text"},
		{"close 25", func(m *slack.ModalViewRequest) { m.Close = plain(strings.Repeat("c", 25)) }, "/view/close/text"},
		{"private_metadata 3001", func(m *slack.ModalViewRequest) { m.PrivateMetadata = strings.Repeat("p", 3001) }, "/view/private_metadata"},
		{"100 blocks ok", func(m *slack.ModalViewRequest) { m.Blocks = dividers(100) }, ""},
		{"101 blocks", func(m *slack.ModalViewRequest) { m.Blocks = dividers(101) }, "/view/blocks"},
		{"inputs without submit", func(m *slack.ModalViewRequest) { m.Submit = nil }, "/view/submit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := triageModal("x")
			m.ExternalID = ""
			tt.edit(&m)
			_, err := h.api.UpdateViewContext(testCtx(t), m, "", "", v.ID)
			if tt.pointer == "" {
				if err != nil {
					t.Fatalf("rejected valid view: %v", err)
				}
				return
			}
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != "invalid_arguments" {
				t.Fatalf("err = %v, want invalid_arguments", err)
			}
			if msgs := strings.Join(se.ResponseMetadata.Messages, "\n"); !strings.Contains(msgs, "[json-pointer:"+tt.pointer+"]") {
				t.Errorf("messages %q do not point at %s", msgs, tt.pointer)
			}
		})
	}
}

func TestViewsPublish(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	api := newAPI(srv)
	ctx := testCtx(t)
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Linear: connected", false, false), nil, nil)}}}
	first, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	stale := "1.stale"
	if _, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home, Hash: &stale}); err == nil || err.Error() != "hash_conflict" {
		t.Errorf("stale hash: err = %v, want hash_conflict", err)
	}
	second, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home, Hash: &first.Hash})
	if err != nil || second.ID != first.ID {
		t.Errorf("republish: id %q → %q, err %v", first.ID, second.ID, err)
	}
}
