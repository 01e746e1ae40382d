package bot

import (
	"context"
	"strconv"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Most envelopes are acked at once and their work runs afterwards. Some
// cannot be: a submission (create, link, reopen) is stored with its job
// before its ack, so that nothing acked is lost (see submit.go); and a block_suggestion's options travel in its ack, and the Link
// existing modal's inline errors ("No issue ENG-123…") travel in the
// view_submission ack (response_action "errors"). Both must still reach
// Slack within its 3 seconds
// (https://api.slack.com/reference/block-kit/block-elements#external_select,
// https://api.slack.com/surfaces/modals#displaying_errors), so their Linear
// call is bounded by ackBudget and the ack goes out when it answers or the
// budget runs out, whichever comes first.

// Default budgets. 2.5 s leaves half a second of Slack's 3 for the ack to
// cross the socket.
const (
	defaultAckBudget = 2500 * time.Millisecond
	// maxDeferredAcks bounds the acks waiting on Linear at once. They do not
	// queue behind the worker pool: a slow create must not make a search
	// miss its 3 seconds.
	maxDeferredAcks = 32
	// ackWriteTimeout bounds handing the ack to the socket writer.
	ackWriteTimeout = 2 * time.Second
)

// deferredAck is an envelope whose ack carries the outcome of a call.
type deferredAck struct {
	kind string // for logs: "block_suggestion", "link submission".
	// answer computes the ack, keeping to the ack budget itself. then, when
	// not nil, runs after the ack, bounded by the job timeout (a link that
	// outlived the budget finishing with views.update).
	answer func(ctx context.Context) (ack any, then job)
	// busy is acked at once when maxDeferredAcks are already running.
	busy any
}

// routeDeferred picks out the envelopes whose ack must wait on Linear.
func (b *Bot) routeDeferred(evt socketmode.Event) *deferredAck {
	if evt.Type != socketmode.EventTypeInteractive {
		return nil
	}
	cb, ok := evt.Data.(slack.InteractionCallback)
	if !ok {
		return nil
	}
	switch {
	case cb.Type == slack.InteractionTypeBlockSuggestion && cb.ActionID == actionIssueSearch:
		return b.suggestAck(cb)
	case cb.Type == slack.InteractionTypeBlockSuggestion && cb.View.CallbackID == callbackCreate &&
		(cb.ActionID == actionTeam || cb.ActionID == actionAssignee || cb.ActionID == actionLabels || cb.ActionID == actionProject):
		return b.listSuggestAck(cb)
	case cb.Type == slack.InteractionTypeViewSubmission && cb.View.CallbackID == callbackLink:
		return b.linkSubmitAck(cb)
	case cb.Type == slack.InteractionTypeViewSubmission && cb.View.CallbackID == callbackCreate:
		return b.createSubmitAck(cb)
	case cb.Type == slack.InteractionTypeViewSubmission && (cb.View.CallbackID == callbackRuleEdit || cb.View.CallbackID == callbackRuleRemove):
		return b.ruleSubmitAck(cb)
	case cb.Type == slack.InteractionTypeBlockActions:
		// Submissions are stored before their ack (see submit.go).
		for _, act := range cb.ActionCallback.BlockActions {
			if !deferredActions[act.ActionID] { // see ackfirst.go
				continue
			}
			id, err := strconv.ParseInt(act.Value, 10, 64)
			switch {
			case err != nil:
			case act.ActionID == actionReopen:
				return b.reopenAck(cb, id)
			default:
				return b.routedAck(cb, id)
			}
		}
	}
	return nil
}

// ackLater runs d on its own goroutine (bounded by maxDeferredAcks) and
// acks envelopeID with its answer, on conn, the connection the envelope
// came on: if that one is gone by then, the ack is not sent at all (Slack
// has shown the user an error for it). Run waits for these goroutines
// before it returns.
func (b *Bot) ackLater(ctx context.Context, conn acker, envelopeID string, d *deferredAck) {
	ack := func(payload any) {
		actx, cancel := context.WithTimeout(ctx, ackWriteTimeout)
		defer cancel()
		if err := conn.ack(actx, envelopeID, payload); err != nil {
			b.log.WarnContext(ctx, "slack ack not sent", "envelope_id", envelopeID, "kind", d.kind, "err", err)
		}
	}
	select {
	case b.ackSlots <- struct{}{}:
	default:
		b.log.WarnContext(ctx, "slack deferred acks full; answering busy", "envelope_id", envelopeID, "kind", d.kind)
		ack(d.busy)
		return
	}
	b.ackWG.Go(func() {
		defer func() { <-b.ackSlots }()
		// The work outlives a shutdown like pool work does; the ack itself
		// is bounded by ctx, since the socket closes with it.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.jobTimeout)
		defer cancel()
		payload, then := d.busy, job(nil)
		func() {
			defer func() {
				if r := recover(); r != nil {
					b.log.ErrorContext(ctx, "slack deferred ack panicked", "kind", d.kind, "panic", r)
				}
			}()
			payload, then = d.answer(wctx)
		}()
		ack(payload)
		if then != nil {
			b.runJob(wctx, then)
		}
	})
}
