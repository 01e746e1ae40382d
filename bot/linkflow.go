package bot

import (
	"context"
	"encoding/json"

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

// linkSubmitAck handles the Link existing modal's submission. It reads the
// issue in Linear before the ack: "No issue ENG-123" must appear under the
// input (response_action "errors"), which only the ack can do. The read is
// bounded by b.linkBudget. A good reference (or one Linear could not check
// in time) is stored with its job on the work engine before the ack, which
// turns the modal to "Linking…"; the job attaches the issue and shows the
// outcome with views.update (see Report).
func (b *Bot) linkSubmitAck(cb slack.InteractionCallback) *deferredAck {
	user, view := cb.User.ID, cb.View
	return &deferredAck{
		kind: "link submission",
		busy: slack.NewErrorsViewSubmissionResponse(map[string]string{
			blockIssueRef: "Too many requests at once. Please submit again in a moment.",
		}),
		answer: func(ctx context.Context) (any, job) { return b.submitLink(ctx, user, view), nil },
	}
}

// submitLink returns the ack for a Link existing submission.
func (b *Bot) submitLink(ctx context.Context, user string, view slack.View) any {
	meta, err := decodeLinkMeta(view.PrivateMetadata)
	if err != nil {
		return slack.NewUpdateViewSubmissionResponse(ptr(linkErrorModal(err, linkMeta{})))
	}
	in := parseLinkInput(view)
	ref, block, msg := in.ref()
	if msg != "" {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{block: msg})
	}
	log := b.log.With("alert_id", meta.AlertID, "view_id", view.ID, "user", user, "issue", ref.String())
	// Read the alert first (local, milliseconds), so that ErrNotFound from
	// CheckLink below can only mean the issue.
	if _, err := b.svc.Alert(ctx, meta.AlertID); err != nil {
		log.WarnContext(ctx, "link submission: alert", "err", err)
		return slack.NewUpdateViewSubmissionResponse(ptr(linkErrorModal(err, meta)))
	}
	req := alert.LinkRequest{AlertID: meta.AlertID, Ref: ref, SlackUser: user}
	cctx, cancel := context.WithTimeout(ctx, b.linkBudget)
	_, err = b.svc.CheckLink(cctx, req)
	late := cctx.Err() != nil
	cancel()
	switch {
	case err == nil:
	case late || alert.Retryable(err):
		// Linear is slow or down: store it anyway; the job checks again
		// and shows the outcome, or keeps trying.
		log.InfoContext(ctx, "link check outlived the ack budget or failed for now; the job finishes it", "err", err)
	default:
		log.InfoContext(ctx, "link refused", "err", err)
		return slack.NewErrorsViewSubmissionResponse(map[string]string{block: linkErrorText(err, ref)})
	}
	private, _ := json.Marshal(linkReply{Meta: meta, Text: in.Text}) // strings and ints always marshal.
	if err := b.svc.Submit(ctx, alert.Submission{
		Kind:  alert.JobLinkIssue,
		Link:  &req,
		Reply: alert.Reply{User: user, ViewID: view.ID, Channel: meta.Channel, Private: string(private)},
	}); err != nil {
		log.ErrorContext(ctx, "store link submission", "err", err)
		return slack.NewErrorsViewSubmissionResponse(map[string]string{block: msgNotSaved})
	}
	log.InfoContext(ctx, "link submission stored")
	return slack.NewUpdateViewSubmissionResponse(ptr(linkingModal(meta)))
}

// linkRetryForm brings the form back, with the error on top and the text
// as typed, when the failure came too late to be shown inline.
func (b *Bot) linkRetryForm(ctx context.Context, meta linkMeta, in linkInput, msg string) slack.ModalViewRequest {
	a, link, err := b.alertAndLink(ctx, meta.AlertID)
	if err != nil {
		return linkInfoModal(":warning: "+escapeMrkdwn(msg), meta)
	}
	return linkModal(linkForm{Alert: a, Link: link, Error: msg, Text: in.Text}, meta)
}
