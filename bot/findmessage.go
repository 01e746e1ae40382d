package bot

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// alertEventType is the event_type of the metadata on every alert message,
// whose payload names the alert: the only way to recognise, after a crash,
// a message whose ts was never recorded (chat.postMessage has no
// idempotency key).
const alertEventType = "proliferate_alert"

// Bounds of the look for an earlier attempt's message: it was posted after
// the alert was created (findSkew covers clocks that disagree a little),
// and is searched for in at most findPages pages of findPageSize.
const (
	findSkew     = time.Minute
	findPageSize = 200
	findPages    = 10
)

// alertMetadata is the message metadata naming alert id.
func alertMetadata(id int64) slack.SlackMetadata {
	return slack.SlackMetadata{EventType: alertEventType, EventPayload: map[string]any{"alert_id": strconv.FormatInt(id, 10)}}
}

// FindAlertMessage returns the ts of the bot's own message for alert a,
// posted since shortly before the alert was created: in the channel's
// history, or in the thread of a.ThreadTS for an alert that lives in a
// thread. "" if there is none. It needs channels:history (groups:history
// for private channels) and membership of the channel: a bot posting to a
// public channel through chat:write.public gets not_in_channel, returned
// as an error.
func (b *Bot) FindAlertMessage(ctx context.Context, a alert.Alert) (string, error) {
	oldest := slackTS(a.CreatedAt.Add(-findSkew))
	method := "conversations.history"
	if a.ThreadTS != "" {
		method = "conversations.replies"
	}
	cursor := ""
	for range findPages {
		var (
			msgs []slack.Message
			more bool
			err  error
		)
		if a.ThreadTS != "" {
			msgs, more, cursor, err = b.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: a.Channel, Timestamp: a.ThreadTS, Oldest: oldest, Cursor: cursor, Limit: b.findPage, IncludeAllMetadata: true})
		} else {
			var h *slack.GetConversationHistoryResponse
			h, err = b.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
				ChannelID: a.Channel, Oldest: oldest, Cursor: cursor, Limit: b.findPage, IncludeAllMetadata: true})
			if err == nil {
				msgs, more, cursor = h.Messages, h.HasMore, h.ResponseMetaData.NextCursor
			}
		}
		if err != nil {
			return "", fmt.Errorf("look for alert %d's message: %w", a.ID, classify(err, method, a.Channel))
		}
		for _, m := range msgs {
			if b.isAlertMessage(m, a.ID) {
				return m.Timestamp, nil
			}
		}
		if !more || cursor == "" {
			return "", nil
		}
	}
	return "", fmt.Errorf("look for alert %d's message in %s: more than %d messages since %s", a.ID, a.Channel, findPages*b.findPage, oldest)
}

// isAlertMessage reports whether m is this bot's message for alert id.
func (b *Bot) isAlertMessage(m slack.Message, id int64) bool {
	if m.Metadata.EventType != alertEventType {
		return false
	}
	if b.selfBotID != "" && m.BotID != b.selfBotID {
		return false // another app (or another install) using the same event type.
	}
	got, _ := m.Metadata.EventPayload["alert_id"].(string)
	return got == strconv.FormatInt(id, 10)
}

// slackTS formats t as a Slack ts ("1700000000.000100").
func slackTS(t time.Time) string {
	if t.IsZero() || t.Unix() < 0 {
		return "0"
	}
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}
