package bot

import (
	"errors"
	"testing"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// TestEventsAPIAckedAtOnce: every events_api envelope is acked, including
// one slack-go cannot parse (it reports EventTypeErrorBadMessage and acks
// nothing) and inner event types the bot does not handle.
func TestEventsAPIAckedAtOnce(t *testing.T) {
	t.Parallel()
	h := startHarness(t, "")
	ctx := t.Context()
	events := map[string]map[string]any{
		"message":      {"type": "message", "channel": "C100", "user": "U1", "text": "hi", "ts": "1700000001.000100"},
		"unknown type": {"type": "reaction_added", "user": "U1", "reaction": "eyes"},
		// A section whose text is a number: slackevents.ParseEvent fails.
		"unparseable": {"type": "message", "channel": "C100", "bot_id": "B1", "ts": "1700000001.000200",
			"blocks": []any{map[string]any{"type": "section", "text": 12}}},
	}
	for name, ev := range events {
		t.Run(name, func(t *testing.T) {
			ack, err := h.fs.Event(ctx, ev)
			if errors.Is(err, fakeslack.ErrNoAck) || err != nil {
				t.Fatalf("event not acked: %v", err)
			}
			if ack.Payload != nil {
				t.Errorf("events_api ack carries a payload: %s", ack.Payload)
			}
		})
	}
	if n := len(h.fs.Unacked()); n != 0 {
		t.Errorf("%d envelopes unacked", n)
	}
}
