package fakeslack

import (
	"testing"

	"github.com/slack-go/slack"
)

func TestConversationsHistoryAndReplies(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	api := newAPI(srv)
	ctx := testCtx(t)

	meta := func(id string) slack.MsgOption {
		return slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "proliferate_alert", EventPayload: map[string]any{"alert_id": id}})
	}
	var tops []string
	for _, id := range []string{"1", "2", "3"} {
		_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("alert "+id, false), meta(id))
		if err != nil {
			t.Fatalf("PostMessage: %v", err)
		}
		tops = append(tops, ts)
	}
	_, reply, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("alert 4", false), slack.MsgOptionTS(tops[0]), meta("4"))
	if err != nil {
		t.Fatalf("reply: %v", err)
	}

	// Newest first, two per page, metadata only when asked for.
	p := &slack.GetConversationHistoryParameters{ChannelID: "C1", Limit: 2, IncludeAllMetadata: true}
	h, err := api.GetConversationHistoryContext(ctx, p)
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if len(h.Messages) != 2 || h.Messages[0].Timestamp != tops[2] || h.Messages[1].Timestamp != tops[1] || !h.HasMore || h.ResponseMetaData.NextCursor == "" {
		t.Fatalf("page 1 = %d messages, has_more %v, cursor %q", len(h.Messages), h.HasMore, h.ResponseMetaData.NextCursor)
	}
	if got := h.Messages[0].Metadata; got.EventType != "proliferate_alert" || got.EventPayload["alert_id"] != "3" {
		t.Errorf("metadata = %+v", got)
	}
	if h.Messages[0].BotID == "" {
		t.Errorf("bot_id missing on the bot's own message")
	}
	p.Cursor = h.ResponseMetaData.NextCursor
	h, err = api.GetConversationHistoryContext(ctx, p)
	if err != nil {
		t.Fatalf("history page 2: %v", err)
	}
	if len(h.Messages) != 1 || h.Messages[0].Timestamp != tops[0] || h.HasMore {
		t.Fatalf("page 2 = %d messages, has_more %v", len(h.Messages), h.HasMore)
	}
	if h.Messages[0].ReplyCount != 1 {
		t.Errorf("reply_count = %d, want 1", h.Messages[0].ReplyCount)
	}

	// oldest is exclusive; without include_all_metadata no metadata.
	h, err = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Oldest: tops[0]})
	if err != nil {
		t.Fatalf("history since: %v", err)
	}
	if len(h.Messages) != 2 || h.Messages[0].Metadata.EventType != "" {
		t.Errorf("since %s: %d messages, metadata %+v; want 2 without metadata", tops[0], len(h.Messages), h.Messages[0].Metadata)
	}

	msgs, more, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: tops[0], IncludeAllMetadata: true})
	if err != nil {
		t.Fatalf("replies: %v", err)
	}
	if len(msgs) != 2 || msgs[0].Timestamp != tops[0] || msgs[1].Timestamp != reply || more {
		t.Fatalf("replies = %d messages (has_more %v), want parent then reply", len(msgs), more)
	}
	if msgs[1].Metadata.EventPayload["alert_id"] != "4" {
		t.Errorf("reply metadata = %+v", msgs[1].Metadata)
	}

	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C404"}); err == nil || err.Error() != "channel_not_found" {
		t.Errorf("unknown channel: err = %v, want channel_not_found", err)
	}
	if _, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: "1.000001"}); err == nil || err.Error() != "thread_not_found" {
		t.Errorf("unknown thread: err = %v, want thread_not_found", err)
	}
}
