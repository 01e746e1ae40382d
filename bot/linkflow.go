package bot

import (
	"context"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// openLink answers a click on "Link existing": views.open at once, from the
// store alone (the trigger_id dies after 3 seconds; Linear is asked
// nothing until the user searches or submits).
func (b *Bot) openLink(ctx context.Context, cb slack.InteractionCallback, alertID int64) {
	meta := linkMeta{
		AlertID: alertID,
		Channel: or(cb.Container.ChannelID, cb.Channel.ID),
		TS:      or(cb.Container.MessageTs, cb.Message.Timestamp),
	}
	log := b.log.With("alert_id", alertID, "channel", meta.Channel, "user", cb.User.ID)
	a, link, err := b.alertAndLink(ctx, alertID)
	if err != nil {
		log.WarnContext(ctx, "link modal: alert", "err", err)
		b.openView(ctx, log, cb.TriggerID, linkErrorModal(err, meta))
		return
	}
	b.openView(ctx, log, cb.TriggerID, linkModal(linkForm{Alert: a, Link: link}, meta))
}

// linkSubmitAck handles the Link existing modal's submission. Unlike the
// create modal, it waits on Linear before the ack: "No issue ENG-123" must
// appear under the input (response_action "errors"), which only the ack
// can do. The wait is bounded by b.linkBudget; past it the modal turns to
// "Linking…" and the outcome follows with views.update.
func (b *Bot) linkSubmitAck(cb slack.InteractionCallback) *deferredAck {
	user, view := cb.User.ID, cb.View
	return &deferredAck{
		kind: "link submission",
		busy: slack.NewErrorsViewSubmissionResponse(map[string]string{
			blockIssueRef: "Too many requests at once. Please submit again in a moment.",
		}),
		answer: func(ctx context.Context) (any, job) { return b.submitLink(ctx, user, view) },
	}
}

type linkOutcome struct {
	link alert.IssueLink
	err  error
}

// submitLink returns the ack for a Link existing submission and, when
// Linear outlived the budget, the job that shows the outcome later.
func (b *Bot) submitLink(ctx context.Context, user string, view slack.View) (any, job) {
	meta, err := decodeLinkMeta(view.PrivateMetadata)
	if err != nil {
		return slack.NewUpdateViewSubmissionResponse(ptr(linkErrorModal(err, linkMeta{}))), nil
	}
	in := parseLinkInput(view)
	ref, block, msg := in.ref()
	if msg != "" {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{block: msg}), nil
	}
	log := b.log.With("alert_id", meta.AlertID, "view_id", view.ID, "user", user, "issue", ref.String())
	// Read the alert first (local, milliseconds), so that ErrNotFound from
	// LinkExisting below can only mean the issue.
	if _, err := b.svc.Alert(ctx, meta.AlertID); err != nil {
		log.WarnContext(ctx, "link submission: alert", "err", err)
		return slack.NewUpdateViewSubmissionResponse(ptr(linkErrorModal(err, meta))), nil
	}

	res := make(chan linkOutcome, 1)
	b.ackWG.Go(func() {
		l, err := b.svc.LinkExisting(ctx, alert.LinkRequest{AlertID: meta.AlertID, Ref: ref, SlackUser: user})
		res <- linkOutcome{l, err}
	})
	timer := time.NewTimer(b.linkBudget)
	defer timer.Stop()
	select {
	case out := <-res:
		if out.err != nil {
			log.InfoContext(ctx, "link refused", "err", out.err)
			return slack.NewErrorsViewSubmissionResponse(map[string]string{block: linkErrorText(out.err, ref)}), nil
		}
		log.InfoContext(ctx, "issue linked from slack")
		return slack.NewUpdateViewSubmissionResponse(ptr(linkDoneModal(out.link, meta))), nil
	case <-timer.C:
	}
	log.InfoContext(ctx, "link outlived the ack budget; finishing after the ack", "budget", b.linkBudget)
	acked := time.Now()
	return slack.NewUpdateViewSubmissionResponse(ptr(linkingModal(meta))), func(ctx context.Context) {
		var out linkOutcome
		select {
		case out = <-res:
		case <-ctx.Done():
			out.err = ctx.Err()
		}
		var v slack.ModalViewRequest
		if out.err == nil {
			log.InfoContext(ctx, "issue linked from slack")
			v = linkDoneModal(out.link, meta)
		} else {
			log.WarnContext(ctx, "link failed after the ack", "err", out.err)
			v = b.linkRetryForm(ctx, meta, in, linkErrorText(out.err, ref))
		}
		// As in submitCreate: the ack is written asynchronously, so an
		// update that overtook it would be overwritten by "Linking…".
		sleepCtx(ctx, b.minProgress-time.Since(acked))
		if _, err := b.api.UpdateViewContext(ctx, v, "", "", view.ID); err != nil {
			log.ErrorContext(ctx, "views.update after link", "err", err)
		}
	}
}

// linkRetryForm brings the form back, with the error on top and the text
// as typed, when the failure came too late to be shown inline.
func (b *Bot) linkRetryForm(ctx context.Context, meta linkMeta, in linkInput, msg string) slack.ModalViewRequest {
	a, link, err := b.alertAndLink(ctx, meta.AlertID)
	if err != nil {
		return linkInfoModal(":warning: "+alert.EscapeMrkdwn(msg), meta)
	}
	return linkModal(linkForm{Alert: a, Link: link, Error: msg, Text: in.Text}, meta)
}

// reopen answers a click on "Reopen ENG-42": the issue goes back to work
// in Linear and the alert and thread follow through the service's jobs.
// Only a failure is told to the user, ephemerally and in words.
func (b *Bot) reopen(ctx context.Context, cb slack.InteractionCallback, alertID int64) {
	log := b.log.With("alert_id", alertID, "user", cb.User.ID)
	// A double click would comment on the issue twice; a click on another
	// replica at the same moment still can, and only adds a comment.
	if _, busy := b.reopening.LoadOrStore(alertID, struct{}{}); busy {
		return
	}
	defer b.reopening.Delete(alertID)
	link, err := b.svc.Reopen(ctx, alertID, cb.User.ID)
	if err != nil {
		log.WarnContext(ctx, "reopen failed", "err", err)
		b.respondReply(ctx, cb.ResponseURL, b.errorReply("Could not reopen the issue. ", err))
		return
	}
	log.InfoContext(ctx, "issue reopened from slack", "issue", link.Identifier, "state", link.StateName)
}
