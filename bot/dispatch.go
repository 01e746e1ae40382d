package bot

import (
	"context"
	"strconv"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// handleEvent acks a Socket Mode envelope at once and queues its work.
// Slack waits 3 seconds for the ack and for a trigger_id to be used
// (https://api.slack.com/apis/connections/socket#acknowledge), so nothing
// here touches the network except the ack itself.
func (b *Bot) handleEvent(ctx context.Context, sm *socketmode.Client, evt socketmode.Event, submit func(job) bool) {
	if evt.Request == nil {
		if evt.Type == socketmode.EventTypeErrorBadMessage && b.ackBadMessage(ctx, sm, evt, submit) {
			return
		}
		b.logLifecycle(ctx, evt)
		return
	}
	if d := b.routeDeferred(evt); d != nil {
		b.ackLater(ctx, sm, evt.Request.EnvelopeID, d)
		return
	}
	ack, work := b.route(evt)
	if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, ack); err != nil {
		b.log.ErrorContext(ctx, "slack ack failed", "envelope_id", evt.Request.EnvelopeID, "type", evt.Type, "err", err)
	}
	if work != nil && !submit(work) {
		// The ack is out; dropping beats stalling every later ack behind a
		// full queue. The user sees no answer and can click again.
		b.log.WarnContext(ctx, "slack work dropped", "envelope_id", evt.Request.EnvelopeID, "type", evt.Type, "err", errQueueFull)
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
	case slack.InteractionTypeViewSubmission:
		if cb.View.CallbackID != callbackCreate {
			return nil, nil
		}
		return b.routeSubmission(cb)
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
	case act.ActionID == actionReopen:
		id, err := strconv.ParseInt(act.Value, 10, 64)
		if err != nil {
			return nil
		}
		return func(ctx context.Context) { b.reopen(ctx, cb, id) }
	case act.ActionID == actionTeam && cb.View.CallbackID == callbackCreate:
		team := act.SelectedOption.Value
		return func(ctx context.Context) { b.teamChanged(ctx, cb, team) }
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

// routeSubmission validates the create modal locally and answers in the
// ack: field errors, or an update to a "Creating issue…" view while the
// pool calls Linear.
func (b *Bot) routeSubmission(cb slack.InteractionCallback) (any, job) {
	meta, err := decodeMeta(cb.View.PrivateMetadata)
	if err != nil {
		return slack.NewUpdateViewSubmissionResponse(ptr(errorModal(err, modalMeta{}))), nil
	}
	sub := parseSubmission(cb.View)
	if errs := sub.validate(); errs != nil {
		return slack.NewErrorsViewSubmissionResponse(errs), nil
	}
	user := cb.User.ID
	viewID := cb.View.ID
	return slack.NewUpdateViewSubmissionResponse(ptr(creatingModal(meta))),
		func(ctx context.Context) { b.submitCreate(ctx, viewID, user, meta, sub) }
}

func (b *Bot) logLifecycle(ctx context.Context, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnected:
		b.log.InfoContext(ctx, "slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		// Only the error: the event's other fields are safe, but a dial URL
		// would carry the connection ticket.
		if e, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			b.log.WarnContext(ctx, "slack socket mode connection failed", "attempt", e.Attempt, "backoff", e.Backoff, "err", e.ErrorObj)
		}
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed, socketmode.EventTypeErrorBadMessage:
		b.log.WarnContext(ctx, "slack socket mode trouble", "type", evt.Type)
	case socketmode.EventTypeInvalidAuth:
		b.log.ErrorContext(ctx, "slack refused the app token")
	default:
		b.log.DebugContext(ctx, "slack socket mode event", "type", evt.Type)
	}
}

func ptr[T any](v T) *T { return &v }
