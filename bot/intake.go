package bot

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/proliferate/proliferate-linear/alert"
)

// messageEvent is the inner event of message.channels and message.groups
// (https://api.slack.com/events/message), read by hand: blocks and
// attachments stay raw so that no shape can make the read fail.
type messageEvent struct {
	Type       string `json:"type"`
	Subtype    string `json:"subtype"`
	Channel    string `json:"channel"`
	User       string `json:"user"`
	BotID      string `json:"bot_id"`
	AppID      string `json:"app_id"`
	Text       string `json:"text"`
	TS         string `json:"ts"`
	ThreadTS   string `json:"thread_ts"`
	BotProfile *struct {
		ID    string `json:"id"`
		AppID string `json:"app_id"`
	} `json:"bot_profile"`
	Blocks      json.RawMessage `json:"blocks"`
	Attachments json.RawMessage `json:"attachments"`
}

// appID is the app that posted the message, "" for people and classic bots.
func (m messageEvent) appID() string {
	if m.AppID != "" {
		return m.AppID
	}
	if m.BotProfile != nil {
		return m.BotProfile.AppID
	}
	return ""
}

// Why a message is not an alert, for the debug log.
const (
	skipSubtype  = "subtype"      // edits, deletions, joins, file shares…
	skipReply    = "thread reply" // thread_ts ≠ ts
	skipPerson   = "not a bot"    // Proliferate posts as an app
	skipSelf     = "own message"
	skipUnlisted = "bot not in PROLIFERATE_SLACK_BOT_IDS"
	skipNoLink   = "no Proliferate issue link"
	skipShape    = "no channel or ts"
)

// recognise reads a Proliferate alert from a message event, or says why
// the message is not one. selfApp is this app's id (the envelope's
// api_app_id). It is pure, so the routing that calls it stays pure.
func (b *Bot) recognise(m messageEvent, selfApp string) (alert.Alert, string) {
	switch {
	case m.Subtype != "" && m.Subtype != "bot_message":
		// message_changed, message_deleted, channel_join, thread_broadcast…:
		// only a new top-level post is an alert.
		return alert.Alert{}, skipSubtype
	case m.ThreadTS != "" && m.ThreadTS != m.TS:
		return alert.Alert{}, skipReply
	case m.Channel == "" || m.TS == "":
		return alert.Alert{}, skipShape
	case m.BotID == "" && m.Subtype != "bot_message":
		return alert.Alert{}, skipPerson
	case (b.selfBotID != "" && m.BotID == b.selfBotID) || (selfApp != "" && m.appID() == selfApp):
		return alert.Alert{}, skipSelf
	case len(b.proliferateBots) > 0 && !slices.Contains(b.proliferateBots, m.BotID) &&
		(m.appID() == "" || !slices.Contains(b.proliferateBots, m.appID())):
		return alert.Alert{}, skipUnlisted
	}
	texts := messageTexts(m.Text, m.Blocks, m.Attachments)
	link, ok := b.issueLinks.find(texts)
	if !ok {
		return alert.Alert{}, skipNoLink
	}
	return b.issueLinks.readAlert(link, m.Channel, m.TS, texts), ""
}

// routeMessage decides the work for a message event: a Proliferate alert
// is stored (once per event_id, see alert.Service.AcceptFromSlack) after
// the ack; anything else is ignored.
func (b *Bot) routeMessage(cb eventCallback, retryAttempt int) job {
	var m messageEvent
	if err := json.Unmarshal(cb.Event, &m); err != nil {
		return nil
	}
	a, skip := b.recognise(m, cb.APIAppID)
	if skip != "" {
		if skip != skipSelf && skip != skipPerson && skip != skipReply {
			b.log.Debug("slack message is not a proliferate alert", "channel", m.Channel, "ts", m.TS,
				"bot_id", m.BotID, "event_id", cb.EventID, "why", skip)
		}
		return nil
	}
	eventID := cb.EventID
	return func(ctx context.Context) {
		log := b.log.With("event_id", eventID, "channel", a.Channel, "ts", a.ThreadTS, "error_id", a.ErrorID, "retry_attempt", retryAttempt)
		if eventID == "" {
			log.WarnContext(ctx, "proliferate message without an event_id: ignored")
			return
		}
		if _, _, err := b.svc.AcceptFromSlack(ctx, eventID, a); err != nil {
			log.ErrorContext(ctx, "proliferate slack message not stored", "err", err)
		}
	}
}
