package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

func TestChatPostUpdateThread(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	api := newAPI(srv)
	ctx := testCtx(t)

	ch, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("new alert", false), alertBlocks(),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "alert", EventPayload: map[string]any{"id": 42}}))
	if err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	if ch != "C1" || ts == "" {
		t.Fatalf("PostMessage = %q, %q", ch, ts)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("alert (2 events)", false)); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	_, reply, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("Linear issue PRO-1 created", false), slack.MsgOptionTS(ts))
	if err != nil {
		t.Fatalf("thread reply: %v", err)
	}
	if _, err := api.PostEphemeralContext(ctx, "C1", "U2", slack.MsgOptionText("only for bob", false)); err != nil {
		t.Fatalf("PostEphemeral: %v", err)
	}
	link, err := api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: "C1", Ts: reply})
	if err != nil {
		t.Fatalf("GetPermalink: %v", err)
	}

	msgs := srv.Messages("C1")
	if len(msgs) != 1 {
		t.Fatalf("Messages = %d, want 1 top-level", len(msgs))
	}
	got := msgs[0]
	if diff := cmp.Diff(Message{Channel: "C1", TS: ts, User: "U0BOT", Text: "alert (2 events)", Edits: 1, ReplyCount: 1},
		got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Blocks" || p.Last().String() == ".Metadata" }, cmp.Ignore())); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(got.Blocks), `"action_id":"create_issue"`) {
		t.Errorf("update without blocks dropped them: %s", got.Blocks)
	}
	if !strings.Contains(string(got.Metadata), `"event_type":"alert"`) {
		t.Errorf("metadata = %s", got.Metadata)
	}
	thread := srv.Thread("C1", ts)
	if len(thread) != 1 || thread[0].ThreadTS != ts || thread[0].Text != "Linear issue PRO-1 created" {
		t.Errorf("Thread = %+v", thread)
	}
	eph := srv.Ephemerals()
	if len(eph) != 1 || eph[0].Recipient != "U2" || !eph[0].Ephemeral {
		t.Errorf("Ephemerals = %+v", eph)
	}
	wantLink := "https://fake.slack.com/archives/C1/p" + strings.Replace(reply, ".", "", 1) + "?thread_ts=" + ts + "&cid=C1"
	if link != wantLink {
		t.Errorf("permalink = %q, want %q", link, wantLink)
	}
	if calls := srv.Calls("chat.postMessage"); len(calls) != 2 || calls[0].Params.Get("token") != "" {
		t.Errorf("recorded postMessage calls = %d (token must be redacted): %+v", len(calls), calls)
	}
}

func TestChatErrors(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	api := newAPI(srv)
	ctx := testCtx(t)
	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"unknown channel", func() error {
			_, _, err := api.PostMessageContext(ctx, "C404", slack.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
		{"no text", func() error { _, _, err := api.PostMessageContext(ctx, "C1"); return err }, "no_text"},
		{"update missing message", func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, "C1", "1.000001", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"reply to missing thread", func() error {
			_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false), slack.MsgOptionTS("1.000001"))
			return err
		}, "thread_not_found"},
		{"ephemeral to stranger", func() error {
			_, err := api.PostEphemeralContext(ctx, "C1", "U404", slack.MsgOptionText("x", false))
			return err
		}, "user_not_in_channel"},
		{"permalink of missing message", func() error {
			_, err := api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: "C1", Ts: ts + "1"})
			return err
		}, "message_not_found"},
		{"text over 40000", func() error {
			_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText(strings.Repeat("a", 40001), false))
			return err
		}, "msg_too_long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestInvalidBlocks(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	api := newAPI(srv)
	ctx := testCtx(t)
	section := func(n int) slack.Block {
		return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, strings.Repeat("a", n), false, false), nil, nil)
	}
	many := func(n int) []slack.Block {
		out := make([]slack.Block, n)
		for i := range out {
			out[i] = slack.NewDividerBlock()
		}
		return out
	}
	options := func(n int) []*slack.OptionBlockObject {
		out := make([]*slack.OptionBlockObject, n)
		for i := range out {
			out[i] = slack.NewOptionBlockObject(strings.Repeat("v", i%5+1)+string(rune('a'+i%26)), plain("o"), nil)
		}
		return out
	}
	tests := []struct {
		name    string
		blocks  []slack.Block
		wantErr string // "" means accepted
		pointer string
	}{
		{"50 blocks ok", many(50), "", ""},
		{"51 blocks", many(51), "invalid_blocks", "/blocks]"},
		{"section 3000 ok", []slack.Block{section(3000)}, "", ""},
		{"section 3001", []slack.Block{section(3001)}, "invalid_blocks", "/blocks/0/text/text]"},
		{"header 151", []slack.Block{slack.NewHeaderBlock(plain(strings.Repeat("h", 151)))}, "invalid_blocks", "/blocks/0/text/text]"},
		{"button text 76", []slack.Block{slack.NewActionBlock("a",
			slack.NewButtonBlockElement("b", "v", plain(strings.Repeat("b", 76))))}, "invalid_blocks", "/blocks/0/elements/0/text/text]"},
		{"101 options", []slack.Block{slack.NewActionBlock("a",
			slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("pick"), "s", options(101)...))}, "invalid_blocks", "/blocks/0/elements/0/options]"},
		{"option text 76", []slack.Block{slack.NewActionBlock("a",
			slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("pick"), "s",
				slack.NewOptionBlockObject("v", plain(strings.Repeat("o", 76)), nil)))}, "invalid_blocks", "/blocks/0/elements/0/options/0/text/text]"},
		{"empty section text", []slack.Block{section(0)}, "invalid_blocks", "/blocks/0/text/text]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionBlocks(tt.blocks...))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("rejected valid blocks: %v", err)
				}
				return
			}
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != tt.wantErr {
				t.Fatalf("err = %v, want %s", err, tt.wantErr)
			}
			msgs := strings.Join(se.ResponseMetadata.Messages, "\n")
			if !strings.Contains(msgs, "[json-pointer:"+tt.pointer) {
				t.Errorf("messages %q do not point at %s", msgs, tt.pointer)
			}
		})
	}
}

func TestResponseURLReplaceOriginal(t *testing.T) {
	t.Parallel()
	h := startHarness(t, Options{}, 1, func(h *harness, evt socketmode.Event) {
		h.sm.Ack(*evt.Request)
		cb := evt.Data.(slack.InteractionCallback)
		_, _, _, err := h.api.SendMessageContext(context.Background(), "", slack.MsgOptionReplaceOriginal(cb.ResponseURL),
			slack.MsgOptionText("Creating issue…", false))
		if err != nil {
			panic(err)
		}
	})
	ctx := testCtx(t)
	_, ts, err := h.api.PostMessageContext(ctx, "C1", slack.MsgOptionText("alert", false), alertBlocks())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.srv.ClickButton(ctx, "U1", "C1", ts, "create_issue"); err != nil {
		t.Fatalf("ClickButton: %v", err)
	}
	if err := h.srv.Wait(ctx, func() bool { return len(h.srv.Responses()) == 1 }); err != nil {
		t.Fatal(err)
	}
	m, _ := h.srv.Message("C1", ts)
	if m.Text != "Creating issue…" || m.Edits != 1 {
		t.Errorf("after replace_original: %+v", m)
	}
	r := h.srv.Responses()[0]
	if !r.ReplaceOriginal || r.User != "U1" || r.Channel != "C1" {
		t.Errorf("response = %+v", r)
	}
	var probe map[string]any
	if err := json.Unmarshal(h.srv.Envelopes()[0].Payload, &probe); err != nil || probe["response_url"] == "" {
		t.Errorf("payload has no response_url: %v", err)
	}
}

// TestCumulativeBlockText: blocks each within their own limits are still
// refused with msg_blocks_too_long when their text adds up past about
// 12,000 characters, by chat.postMessage and chat.update alike.
func TestCumulativeBlockText(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	api := newAPI(srv)
	ctx := testCtx(t)
	sections := func(n int) slack.MsgOption {
		var bs []slack.Block
		for range n {
			bs = append(bs, slack.NewSectionBlock(&slack.TextBlockObject{Type: "mrkdwn", Text: strings.Repeat("x", 2900)}, nil, nil))
		}
		return slack.MsgOptionBlocks(bs...)
	}
	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("fits", false), sections(4)) // 11,600
	if err != nil {
		t.Fatalf("4 × 2,900 characters: %v", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("too long", false), sections(5)); !strings.Contains(fmt.Sprint(err), "msg_blocks_too_long") {
		t.Errorf("post of 5 × 2,900 characters: err = %v, want msg_blocks_too_long", err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, sections(5)); !strings.Contains(fmt.Sprint(err), "msg_blocks_too_long") {
		t.Errorf("update to 5 × 2,900 characters: err = %v, want msg_blocks_too_long", err)
	}
	if n := len(srv.Messages("C1")); n != 1 {
		t.Errorf("%d messages, want the one that fit", n)
	}
}
