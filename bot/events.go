package bot

import (
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
// slack-go does not know must still be read: when slackevents cannot parse
// an envelope, the socket client (socket.go) still hands it on with its
// raw payload, so it is acked and routed here all the same.
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
