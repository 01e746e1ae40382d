package fakeslack

import (
	"encoding/json"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// TestPostAsBotDeliversMessageEvent: another app's post lands in the
// channel's history and reaches the app as a message event slack-go parses,
// with the poster's bot and app ids; a redelivery keeps the event_id and
// counts the retry, as Slack's does.
func TestPostAsBotDeliversMessageEvent(t *testing.T) {
	t.Parallel()
	type got struct {
		req socketmode.Request
		ev  slackevents.EventsAPIEvent
	}
	ch := make(chan got, 4)
	h := startHarness(t, Options{}, 1, func(h *harness, evt socketmode.Event) {
		h.sm.Ack(*evt.Request)
		ch <- got{*evt.Request, evt.Data.(slackevents.EventsAPIEvent)}
	})
	ctx := testCtx(t)
	att := json.RawMessage(`[{"fallback":"TypeError","title":"TypeError","title_link":"https://app.proliferate.com/projects/web/issues/prl_1"}]`)
	bot := Bot{BotID: "B0PROLIF", AppID: "A0PROLIF", UserID: "U0PROLIF", Name: "Proliferate"}
	ts, ack, err := h.srv.PostAsBot(ctx, "C1", bot, Post{Text: "New issue", Attachments: att})
	if err != nil {
		t.Fatal(err)
	}
	first := <-ch
	msg, ok := first.ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok {
		t.Fatalf("inner event = %#v", first.ev.InnerEvent.Data)
	}
	if msg.BotID != "B0PROLIF" || msg.TimeStamp != ts || msg.Channel != "C1" {
		t.Errorf("message event = %+v", msg)
	}
	var raw struct {
		EventID string `json:"event_id"`
		Event   struct {
			BotProfile struct {
				AppID string `json:"app_id"`
			} `json:"bot_profile"`
		} `json:"event"`
	}
	if err := json.Unmarshal(first.req.Payload, &raw); err != nil || raw.EventID == "" || raw.Event.BotProfile.AppID != "A0PROLIF" {
		t.Errorf("payload = %s (%v)", first.req.Payload, err)
	}
	if m, ok := h.srv.Message("C1", ts); !ok || m.BotID != "B0PROLIF" {
		t.Errorf("history lacks the post: %+v", m)
	}
	link, err := h.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: "C1", Ts: ts})
	if err != nil || link == "" {
		t.Errorf("chat.getPermalink = %q, %v", link, err)
	}

	if _, err := h.srv.Redeliver(ctx, ack.EnvelopeID); err != nil {
		t.Fatal(err)
	}
	again := <-ch
	if again.req.RetryAttempt != 1 || again.req.RetryReason != "timeout" || again.req.EnvelopeID == first.req.EnvelopeID {
		t.Errorf("redelivery: retry_attempt %d, reason %q, envelope %s", again.req.RetryAttempt, again.req.RetryReason, again.req.EnvelopeID)
	}
	envs := h.srv.Envelopes()
	if envs[0].EventID() != envs[1].EventID() || envs[1].RetryAttempt != 1 {
		t.Errorf("event ids %q, %q; retry %d", envs[0].EventID(), envs[1].EventID(), envs[1].RetryAttempt)
	}

	// A classic bot posts with subtype bot_message and no bot_profile; a
	// person's message has a user and no bot_id.
	if _, _, err := h.srv.PostAsBot(ctx, "C1", Bot{BotID: "B0OLD", Name: "old"}, Post{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	classic := (<-ch).ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if classic.SubType != "bot_message" || classic.BotID != "B0OLD" || classic.Username != "old" {
		t.Errorf("classic bot message = %+v", classic)
	}
	if _, _, err := h.srv.PostAsUser(ctx, "U2", "C1", Post{Text: "hello", ThreadTS: ts}); err != nil {
		t.Fatal(err)
	}
	person := (<-ch).ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if person.User != "U2" || person.BotID != "" || person.ThreadTimeStamp != ts {
		t.Errorf("person's reply = %+v", person)
	}
}

// TestMessageShortcut: a message shortcut arrives as slack-go's
// message_action callback naming the message, with a usable trigger_id.
func TestMessageShortcut(t *testing.T) {
	t.Parallel()
	ch := make(chan slack.InteractionCallback, 1)
	h := startHarness(t, Options{}, 1, func(h *harness, evt socketmode.Event) {
		h.sm.Ack(*evt.Request)
		if cb, ok := evt.Data.(slack.InteractionCallback); ok {
			ch <- cb
		}
	})
	ctx := testCtx(t)
	ts, _, err := h.srv.PostAsUser(ctx, "U2", "C1", Post{Text: "checkout is broken"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.srv.MessageShortcut(ctx, "U1", "C1", ts, "create_linear_issue"); err != nil {
		t.Fatal(err)
	}
	cb := <-ch
	if cb.Type != slack.InteractionTypeMessageAction || cb.CallbackID != "create_linear_issue" ||
		cb.Message.Timestamp != ts || cb.Message.User != "U2" || cb.Message.Text != "checkout is broken" || cb.Channel.ID != "C1" {
		t.Errorf("callback = type %s id %s message %+v channel %s", cb.Type, cb.CallbackID, cb.Message.Msg, cb.Channel.ID)
	}
	if _, err := h.api.OpenViewContext(ctx, cb.TriggerID, slack.ModalViewRequest{Type: slack.VTModal,
		Title:  slack.NewTextBlockObject(slack.PlainTextType, "Hi", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "hi", false, false), nil, nil)}}}); err != nil {
		t.Errorf("views.open with the shortcut's trigger: %v", err)
	}
	if _, err := h.srv.MessageShortcut(ctx, "U1", "C1", "1.2", "create_linear_issue"); err == nil {
		t.Error("shortcut on a missing message succeeded")
	}
}

// TestEchoOwnMessages: with echo on, the bot's own chat.postMessage comes
// back as a message event naming the fake's bot and app.
func TestEchoOwnMessages(t *testing.T) {
	t.Parallel()
	ch := make(chan socketmode.Request, 2)
	h := startHarness(t, Options{}, 1, func(h *harness, evt socketmode.Event) {
		h.sm.Ack(*evt.Request)
		ch <- *evt.Request
	})
	h.srv.EchoOwnMessages()
	_, ts, err := h.api.PostMessageContext(testCtx(t), "C1", slack.MsgOptionText("an alert", false))
	if err != nil {
		t.Fatal(err)
	}
	req := <-ch
	var p struct {
		APIAppID string `json:"api_app_id"`
		Event    struct {
			TS, User   string
			BotProfile struct {
				AppID string `json:"app_id"`
			} `json:"bot_profile"`
		} `json:"event"`
	}
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Event.TS != ts || p.Event.BotProfile.AppID != p.APIAppID || p.Event.User != h.srv.BotUserID() {
		t.Errorf("echo = %s", req.Payload)
	}
}
