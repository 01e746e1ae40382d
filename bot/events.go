package bot

import (
	"context"
	"encoding/json"

	"github.com/slack-go/slack/socketmode"
)

// This file routes Events API envelopes
// (https://api.slack.com/apis/events-api#callback-field). Each inner event
// type gets one case in routeEventsAPI; the work runs after the ack, like
// every other envelope's.

// eventCallback is the outer Events API payload, read by hand from the
// envelope's raw payload rather than through slackevents: the fields used
// here are few and stable, and a message with a block or attachment shape
// slack-go does not know must still be read (see ackBadMessage).
type eventCallback struct {
	Type     string          `json:"type"` // "event_callback"
	TeamID   string          `json:"team_id"`
	APIAppID string          `json:"api_app_id"` // this app's id.
	EventID  string          `json:"event_id"`
	Event    json.RawMessage `json:"event"`
}

// innerType is the inner event's "type".
func (c eventCallback) innerType() string {
	var t struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(c.Event, &t)
	return t.Type
}

// routeEventsAPI decides the work for an events_api envelope from its raw
// payload. It is pure, like route: the ack never waits on the database.
func (b *Bot) routeEventsAPI(req *socketmode.Request) job {
	if req == nil {
		return nil
	}
	var cb eventCallback
	if err := json.Unmarshal(req.Payload, &cb); err != nil || cb.Type != "event_callback" {
		return nil
	}
	switch cb.innerType() {
	case "message":
		return b.routeMessage(cb, req.RetryAttempt)
	case "app_home_opened":
		return b.routeHomeOpened(cb.TeamID, cb.Event) // see home.go
	}
	return nil
}

// ackBadMessage acks an envelope slack-go could not parse (it reports
// EventTypeErrorBadMessage and acks nothing), so that Slack does not
// redeliver it for ever, and still routes an events_api one from its raw
// payload: a message with a block type slack-go rejects is still a message.
func (b *Bot) ackBadMessage(ctx context.Context, sm *socketmode.Client, evt socketmode.Event, submit func(job) bool) bool {
	bad, ok := evt.Data.(*socketmode.ErrorBadMessage)
	if !ok || bad == nil {
		return false
	}
	var req socketmode.Request
	if json.Unmarshal(bad.Message, &req) != nil || req.EnvelopeID == "" {
		return false
	}
	if err := sm.AckCtx(ctx, req.EnvelopeID, nil); err != nil {
		b.log.ErrorContext(ctx, "slack ack failed", "envelope_id", req.EnvelopeID, "type", req.Type, "err", err)
	}
	b.log.WarnContext(ctx, "slack payload slack-go could not parse", "envelope_id", req.EnvelopeID, "type", req.Type, "err", bad.Cause)
	if req.Type != socketmode.RequestTypeEventsAPI {
		return true
	}
	if work := b.routeEventsAPI(&req); work != nil && !submit(work) {
		b.log.WarnContext(ctx, "slack work dropped", "envelope_id", req.EnvelopeID, "type", req.Type, "err", errQueueFull)
	}
	return true
}
