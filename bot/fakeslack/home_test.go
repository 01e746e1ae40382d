package fakeslack

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

func homeTab(text string, buttons ...string) slack.HomeTabViewRequest {
	blocks := []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)}
	var els []slack.BlockElement
	for _, b := range buttons {
		els = append(els, slack.NewButtonBlockElement(b, "v-"+b, plain(b)))
	}
	if len(els) > 0 {
		blocks = append(blocks, slack.NewActionBlock("controls", els...))
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, CallbackID: "home", Blocks: slack.Blocks{BlockSet: blocks}}
}

// TestHomePerUser keeps the last Home published for each user, one view
// per user across publishes.
func TestHomePerUser(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	api := newAPI(srv)
	ctx := testCtx(t)
	if _, ok := srv.Home("U1"); ok {
		t.Fatal("a Home before any views.publish")
	}
	for _, p := range []struct{ user, text string }{{"U1", "first"}, {"U2", "bob's"}, {"U1", "second"}} {
		if _, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: p.user, View: homeTab(p.text)}); err != nil {
			t.Fatalf("publish for %s: %v", p.user, err)
		}
	}
	h1, ok1 := srv.Home("U1")
	h2, ok2 := srv.Home("U2")
	if !ok1 || !ok2 || h1.ID == h2.ID {
		t.Fatalf("homes = %+v / %+v", h1, h2)
	}
	if h1.Type != "home" || h1.User != "U1" || h1.Updates != 1 || !strings.Contains(string(h1.Blocks), "second") {
		t.Errorf("U1's home = type %s user %s updates %d blocks %s, want the second publish", h1.Type, h1.User, h1.Updates, h1.Blocks)
	}
	if !strings.Contains(string(h2.Blocks), "bob's") {
		t.Errorf("U2's home = %s", h2.Blocks)
	}
}

// TestHomeLimits refuses what Slack refuses in views.publish.
func TestHomeLimits(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	api := newAPI(srv)
	ctx := testCtx(t)
	tooMany := homeTab("x")
	for range 100 {
		tooMany.Blocks.BlockSet = append(tooMany.Blocks.BlockSet, slack.NewDividerBlock())
	}
	longText := homeTab(strings.Repeat("a", 3001))
	modal := homeTab("x")
	modal.Type = slack.VTModal
	tests := []struct {
		name, user string
		view       slack.HomeTabViewRequest
		code, ptr  string
	}{
		{"101 blocks", "U1", tooMany, "invalid_arguments", "/view/blocks"},
		{"text over 3000", "U1", longText, "invalid_arguments", "/view/blocks/0/text/text"},
		{"not a home", "U1", modal, "invalid_arguments", "/view/type"},
		{"unknown user", "U404", homeTab("x"), "user_not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: tt.user, View: tt.view})
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			if msgs := strings.Join(se.ResponseMetadata.Messages, "\n"); tt.ptr != "" && !strings.Contains(msgs, "[json-pointer:"+tt.ptr+"]") {
				t.Errorf("messages %q do not point at %s", msgs, tt.ptr)
			}
			if _, ok := srv.Home(tt.user); ok {
				t.Error("a refused view was kept")
			}
		})
	}
}

// TestHomeClick clicks a button in a Home: block_actions whose view is
// the home tab, in a view container, without a response_url (Slack sends
// none for views).
func TestHomeClick(t *testing.T) {
	t.Parallel()
	got := make(chan slack.InteractionCallback, 1)
	h := startHarness(t, Options{}, 1, func(h *harness, evt socketmode.Event) {
		h.sm.Ack(*evt.Request)
		got <- evt.Data.(slack.InteractionCallback)
	})
	ctx := testCtx(t)
	if _, err := h.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: homeTab("hi", "disconnect_linear")}); err != nil {
		t.Fatal(err)
	}
	home, _ := h.srv.Home("U1")
	if _, err := h.srv.ClickViewButton(ctx, "U2", home.ID, "disconnect_linear"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another user clicked U1's home: err = %v, want ErrNotFound", err)
	}
	if _, err := h.srv.ClickViewButton(ctx, "U1", home.ID, "disconnect_linear"); err != nil {
		t.Fatal(err)
	}
	cb := <-got
	if cb.Type != slack.InteractionTypeBlockActions || cb.View.Type != slack.VTHomeTab || cb.View.ID != home.ID ||
		cb.Container.Type != "view" || cb.ResponseURL != "" || cb.User.ID != "U1" || cb.Team.ID == "" {
		t.Errorf("payload = type %s view %s/%s container %s response_url %q user %s team %q",
			cb.Type, cb.View.Type, cb.View.ID, cb.Container.Type, cb.ResponseURL, cb.User.ID, cb.Team.ID)
	}
	if acts := cb.ActionCallback.BlockActions; len(acts) != 1 || acts[0].ActionID != "disconnect_linear" || acts[0].Value != "v-disconnect_linear" {
		t.Errorf("actions = %s", fmt.Sprint(acts))
	}
}

// TestOpenHome delivers app_home_opened in Slack's events_api shape, with
// the Home published so far.
func TestOpenHome(t *testing.T) {
	t.Parallel()
	got := make(chan socketmode.Event, 2)
	h := startHarness(t, Options{}, 1, func(h *harness, evt socketmode.Event) {
		h.sm.Ack(*evt.Request)
		got <- evt
	})
	ctx := testCtx(t)
	if _, err := h.srv.OpenHome(ctx, "U404"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: err = %v, want ErrNotFound", err)
	}
	read := func() (slackevents.EventsAPIEvent, *slackevents.AppHomeOpenedEvent) {
		t.Helper()
		if _, err := h.srv.OpenHome(ctx, "U1"); err != nil {
			t.Fatal(err)
		}
		evt := <-got
		if evt.Type != socketmode.EventTypeEventsAPI {
			t.Fatalf("envelope type %s", evt.Type)
		}
		outer := evt.Data.(slackevents.EventsAPIEvent)
		inner, ok := outer.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
		if !ok {
			t.Fatalf("inner event %T", outer.InnerEvent.Data)
		}
		return outer, inner
	}
	outer, ev := read()
	if outer.Type != slackevents.CallbackEvent || outer.TeamID != "T0001" || ev.User != "U1" || ev.Tab != "home" || ev.Channel == "" || ev.View != nil {
		t.Errorf("first open: %+v / %+v", outer, ev)
	}
	if _, err := h.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: homeTab("hi")}); err != nil {
		t.Fatal(err)
	}
	_, ev = read()
	home, _ := h.srv.Home("U1")
	if ev.View == nil || ev.View.ID != home.ID || ev.View.Type != slack.VTHomeTab {
		t.Errorf("second open carries view %+v, want the published home %s", ev.View, home.ID)
	}
	envs := h.srv.Envelopes()
	if len(envs) != 2 || envs[0].EventID() == "" || envs[0].EventID() == envs[1].EventID() || !envs[1].Acked {
		t.Errorf("envelopes: %+v", envs)
	}
}
