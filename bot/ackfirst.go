package bot

import (
	"encoding/json"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Most envelopes are acked with an empty ack whatever their payload says,
// and those are acked by the connection's reader straight from the frame
// (envelope_id and a glance at the payload's type), before the payload is
// parsed and routed: parsing a click costs far more than acking it, and
// with many envelopes at once the acks would otherwise wait behind the
// parsing of every envelope read before them. The others (a submission
// stored before its ack, a block_suggestion whose options travel in it, a
// slash command that may be answered "busy" in it, any type not known
// here) are parsed first and acked by handleEvent as before.

// deferredActions are the block_actions whose ack waits on the store or
// on Linear (routeDeferred): a click on one is never acked first.
var deferredActions = map[string]bool{actionReopen: true, actionCreateRouted: true}

// ackFirst reports whether req's ack is empty whatever its payload holds,
// so it may be sent before the payload is parsed. It reads the payload
// only as far as its type and action ids; a payload it cannot read is
// left to the usual path.
func ackFirst(req *socketmode.Request) bool {
	if req.EnvelopeID == "" {
		return false
	}
	switch req.Type {
	case socketmode.RequestTypeEventsAPI:
		// Every Events API envelope is acked empty (routeEventsAPI's work
		// runs after the ack).
		return true
	case socketmode.RequestTypeInteractive:
		var p struct {
			Type    slack.InteractionType `json:"type"`
			Actions []struct {
				ActionID string `json:"action_id"`
			} `json:"actions"`
		}
		if err := json.Unmarshal(req.Payload, &p); err != nil {
			return false
		}
		switch p.Type {
		case slack.InteractionTypeBlockActions:
			for _, a := range p.Actions {
				if deferredActions[a.ActionID] {
					return false
				}
			}
			return true
		case slack.InteractionTypeMessageAction:
			return true
		}
	}
	return false
}
