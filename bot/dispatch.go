package bot

import (
	"context"
	"strconv"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// handleEvent acks a Socket Mode envelope at once, on the connection it
// came on, and queues its work in its lane. (Envelopes whose ack is empty
// whatever they hold are acked by the connection's reader before they are
// parsed, and come to dispatchAcked instead: see ackfirst.go.) Slack waits 3 seconds for the
// ack and for a trigger_id to be used
// (https://api.slack.com/apis/connections/socket#acknowledge), so nothing
// here touches the network except the ack itself. The lane's place is
// taken before the ack, so a full lane is answered in the ack where Slack
// shows it, or right after it, never with silence.
func (b *Bot) handleEvent(ctx context.Context, conn acker, evt socketmode.Event) {
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		// Not an envelope (hello and disconnect never get here): nothing to ack.
		return
	}
	envelopeID := evt.Request.EnvelopeID
	if d := b.routeDeferred(evt); d != nil {
		b.ackLater(ctx, conn, envelopeID, d)
		return
	}
	ack, work := b.route(evt)
	l := b.laneFor(evt)
	queued := work == nil || l.reserve()
	if !queued {
		ack = b.busyAck(evt, ack)
	}
	if err := conn.ack(ctx, envelopeID, ack); err != nil {
		// The envelope came on a connection that is gone; Slack shows the
		// user an error for it, so its work is not done behind their back.
		b.log.WarnContext(ctx, "slack ack not sent", "envelope_id", envelopeID, "type", evt.Type, "err", err)
		if queued && work != nil {
			l.queued.Add(-1)
		}
		return
	}
	switch {
	case work == nil:
	case queued && l.push(work):
	default:
		b.log.WarnContext(ctx, "slack work refused: lane full", "envelope_id", envelopeID, "type", evt.Type, "lane", l.name)
		b.answerBusy(ctx, evt)
	}
}

// dispatchAcked queues the work of an envelope its connection's reader
// has acked already (ackFirst): an empty ack was right whatever the
// payload, so only the work is left. A full lane is answered right after
// the ack, as handleEvent answers these envelopes' types.
func (b *Bot) dispatchAcked(ctx context.Context, evt socketmode.Event) {
	if d := b.routeDeferred(evt); d != nil {
		// ackFirst and routeDeferred disagree: a bug, and the answer this
		// envelope needed in its ack can no longer be given.
		b.log.ErrorContext(ctx, "slack envelope acked before its answer", "envelope_id", evt.Request.EnvelopeID, "type", evt.Type, "kind", d.kind)
		return
	}
	_, work := b.route(evt)
	if work == nil {
		return
	}
	l := b.laneFor(evt)
	if !l.submit(work) {
		b.log.WarnContext(ctx, "slack work refused: lane full", "envelope_id", evt.Request.EnvelopeID, "type", evt.Type, "lane", l.name)
		b.answerBusy(ctx, evt)
	}
}

// route decides, from the payload alone, what the ack carries and what
// work follows it. It is pure: no I/O, no clock, no shared state.
func (b *Bot) route(evt socketmode.Event) (ack any, work job) {
	switch evt.Type {
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok {
			return nil, nil
		}
		return b.routeInteraction(cb)
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			return nil, nil
		}
		return nil, func(ctx context.Context) { b.command(ctx, cmd) }
	case socketmode.EventTypeEventsAPI:
		return nil, b.routeEventsAPI(evt.Request) // see events.go
	}
	// Events API and anything new: ack so Slack does not retry, nothing else.
	return nil, nil
}

func (b *Bot) routeInteraction(cb slack.InteractionCallback) (any, job) {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		for _, act := range cb.ActionCallback.BlockActions {
			if w := b.routeAction(cb, *act); w != nil {
				return nil, w
			}
		}
	case slack.InteractionTypeMessageAction:
		return nil, b.routeShortcut(cb) // shortcut.go
	}
	return nil, nil
}

func (b *Bot) routeAction(cb slack.InteractionCallback, act slack.BlockAction) job {
	switch {
	case act.ActionID == actionCreateIssue && cb.TriggerID != "":
		id, err := strconv.ParseInt(act.Value, 10, 64)
		if err != nil {
			return nil
		}
		return func(ctx context.Context) { b.openCreate(ctx, cb, id, false) }
	case act.ActionID == actionCreateAnyway && cb.TriggerID != "":
		id, err := strconv.ParseInt(act.Value, 10, 64)
		if err != nil {
			return nil
		}
		return func(ctx context.Context) { b.openCreate(ctx, cb, id, true) }
	case act.ActionID == actionLinkIssue && cb.TriggerID != "":
		id, err := strconv.ParseInt(act.Value, 10, 64)
		if err != nil {
			return nil
		}
		return func(ctx context.Context) { b.openLink(ctx, cb, id) }
	case act.ActionID == actionTeam && cb.View.CallbackID == callbackCreate && !strings.HasPrefix(act.SelectedOption.Value, noticePrefix):
		team := act.SelectedOption.Value
		return func(ctx context.Context) { b.teamChanged(ctx, cb, team) }
	case act.ActionID == actionRuleAdd && fromHome(cb) && cb.TriggerID != "":
		version, err := strconv.ParseInt(act.Value, 10, 64)
		if err != nil {
			return nil
		}
		return func(ctx context.Context) { b.openRuleModal(ctx, cb, "add", 0, version) }
	case strings.HasPrefix(act.ActionID, actionRuleMenuPrefix) && fromHome(cb) && cb.TriggerID != "":
		n, err := strconv.Atoi(strings.TrimPrefix(act.ActionID, actionRuleMenuPrefix))
		if err != nil || n < 1 {
			return nil
		}
		pick := act.SelectedOption.Value
		return func(ctx context.Context) { b.ruleMenu(ctx, cb, n, pick) }
	case act.ActionID == actionConnect:
		return func(ctx context.Context) { b.connectClicked(ctx, cb) }
	case act.ActionID == actionDisconnect && act.Value != "":
		org := act.Value
		return func(ctx context.Context) { b.disconnectConfirmed(ctx, cb, org) }
	case act.ActionID == actionSetDefaultTeam && act.SelectedOption.Value != "":
		return func(ctx context.Context) { b.defaultTeamPicked(ctx, cb, act) }
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
