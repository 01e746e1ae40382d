package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// Compile-time proof that *Bot tells people how their submissions stand.
var _ alert.Reporter = (*Bot)(nil)

// createReply is the bot's part of a stored create submission
// (alert.Reply.Private): the modal's metadata and the values as typed, to
// show the form again after a failure.
type createReply struct {
	Meta   modalMeta  `json:"meta"`
	Values submission `json:"values"`
}

// linkReply is the bot's part of a stored Link existing submission.
type linkReply struct {
	Meta linkMeta `json:"meta"`
	Text string   `json:"text,omitempty"`
}

// Report shows how a stored submission stands: in the modal it came from
// (views.update by view id), or, when there is none or it was closed,
// ephemerally in the alert's channel for what the person must know (still
// trying, failed). Success needs no ephemeral: the thread says so.
func (b *Bot) Report(ctx context.Context, sub alert.Submission, o alert.Outcome) error {
	switch sub.Kind {
	case alert.JobCreateIssue:
		return b.reportCreate(ctx, sub, o)
	case alert.JobLinkIssue:
		return b.reportLink(ctx, sub, o)
	case alert.JobReopenIssue:
		return b.reportReopen(ctx, sub, o)
	case alert.JobCreateRouted:
		return b.reportRouted(ctx, sub, o)
	case alert.JobAutoCreate:
		return nil // nobody asked: the alert's thread says how it went.
	}
	return fmt.Errorf("report on a %q submission: %w", sub.Kind, alert.ErrInvalid)
}

func (b *Bot) reportCreate(ctx context.Context, sub alert.Submission, o alert.Outcome) error {
	var p createReply
	if err := json.Unmarshal([]byte(sub.Reply.Private), &p); err != nil && sub.Create != nil {
		p.Meta = modalMeta{AlertID: sub.Create.AlertID, CreationID: sub.Create.CreationID, Channel: sub.Reply.Channel, Force: sub.Create.Force}
	}
	var (
		view slack.ModalViewRequest
		text string
	)
	switch o.State {
	case alert.OutcomeDone:
		view = createdModal(o.Link, p.Meta)
	case alert.OutcomeTracked:
		view = linkedModal(o.Link, p.Meta)
	case alert.OutcomeRetrying:
		msg := retryingText("create the issue", o)
		view = infoModal(msg, p.Meta)
		if o.Attempt <= 1 {
			text = msg
		}
	default:
		msg := failureText(o)
		view = b.retryForm(ctx, p.Meta, p.Values, o.Err, msg)
		text = ":warning: The Linear issue was not created. " + escapeMrkdwn(msg)
	}
	return b.showOutcome(ctx, sub, &view, text)
}

func (b *Bot) reportLink(ctx context.Context, sub alert.Submission, o alert.Outcome) error {
	var p linkReply
	if err := json.Unmarshal([]byte(sub.Reply.Private), &p); err != nil && sub.Link != nil {
		p.Meta = linkMeta{AlertID: sub.Link.AlertID, Channel: sub.Reply.Channel}
	}
	var (
		view slack.ModalViewRequest
		text string
	)
	switch o.State {
	case alert.OutcomeDone, alert.OutcomeTracked:
		view = linkDoneModal(o.Link, p.Meta)
	case alert.OutcomeRetrying:
		msg := retryingText("link the issue", o)
		view = linkInfoModal(msg, p.Meta)
		if o.Attempt <= 1 {
			text = msg
		}
	default:
		msg := failureText(o)
		if !o.GaveUp && sub.Link != nil {
			msg = linkErrorText(o.Err, sub.Link.Ref)
		}
		view = b.linkRetryForm(ctx, p.Meta, linkInput{Text: p.Text}, msg)
		text = ":warning: The issue was not linked. " + escapeMrkdwn(msg)
	}
	return b.showOutcome(ctx, sub, &view, text)
}

func (b *Bot) reportReopen(ctx context.Context, sub alert.Submission, o alert.Outcome) error {
	switch o.State {
	case alert.OutcomeRetrying:
		if o.Attempt > 1 {
			return nil // told once; the alert's thread shows the outcome.
		}
		return b.showOutcome(ctx, sub, nil, retryingText("reopen the issue", o))
	case alert.OutcomeFailed:
		return b.showOutcome(ctx, sub, nil, ":warning: Could not reopen the issue. "+escapeMrkdwn(failureText(o)))
	}
	return nil // reopened: the alert message and its thread show it.
}

// reportRouted tells who clicked "Create in ENG" what they must know,
// ephemerally: the error was tracked already, Linear is slow (once), the
// issue could not be filed. A filed issue is told in the thread.
func (b *Bot) reportRouted(ctx context.Context, sub alert.Submission, o alert.Outcome) error {
	team := ""
	if sub.Routed != nil {
		team = " in " + escapeMrkdwn(sub.Routed.Route.TeamKey)
	}
	switch o.State {
	case alert.OutcomeTracked:
		return b.showOutcome(ctx, sub, nil, ":information_source: "+alreadyFiledText(o.Link))
	case alert.OutcomeRetrying:
		if o.Attempt > 1 {
			return nil
		}
		return b.showOutcome(ctx, sub, nil, retryingText("file the issue"+team, o))
	case alert.OutcomeFailed:
		msg := failureText(o)
		if !o.GaveUp {
			msg = alert.Problem(o.Err)
		}
		return b.showOutcome(ctx, sub, nil, ":warning: The issue was not filed"+team+". "+escapeMrkdwn(msg)+
			" Use *Create Linear Issue* to choose the team and fields yourself.")
	}
	return nil
}

// retryingText says, truthfully, that the request is kept and retried, and
// until when; what failed is in the person's words.
func retryingText(what string, o alert.Outcome) string {
	cause := "Linear is not answering right now"
	switch {
	case errors.Is(o.Err, alert.ErrRateLimited):
		cause = "Linear's rate limit was reached"
	case errors.Is(o.Err, alert.ErrConflict):
		cause = "Another request for this error is still being created in Linear; this one waits for its result"
	}
	return fmt.Sprintf(":hourglass_flowing_sand: %s, so we could not %s yet. Your request is saved and we keep trying until %s; "+
		"the result will show here and in the alert's thread, and nothing will be created twice. You can close this window.",
		cause, what, slackDate(o.Until))
}

// failureText says why a submission ended without its result and what to
// do, as plain text.
func failureText(o alert.Outcome) string {
	if o.GaveUp {
		return "Linear was unavailable for too long, so we stopped trying. Submit again when Linear is back: " +
			"nothing will be created twice."
	}
	return alert.UserMessage(o.Err)
}

// defaultMinProgress is the least time from storing a submission (just
// before its ack) to showing its outcome in the modal (see showOutcome).
const defaultMinProgress = 500 * time.Millisecond

// showOutcome updates the submission's modal with view (when both exist)
// and, when there is no modal to show it in or it was closed, tells the
// person text ephemerally in the alert's channel ("" says nothing).
func (b *Bot) showOutcome(ctx context.Context, sub alert.Submission, view *slack.ModalViewRequest, text string) error {
	log := b.log.With("kind", sub.Kind, "view_id", sub.Reply.ViewID, "user", sub.Reply.User)
	// The ack that showed the progress view is written to the socket
	// asynchronously and Slack applies it when it arrives; an update that
	// overtook it would be overwritten by it. The job may run on another
	// replica within milliseconds of the ack, hence a floor from the time
	// the submission was stored (just before its ack).
	sleepCtx(ctx, b.minProgress-time.Since(sub.SubmittedAt))
	if view != nil && sub.Reply.ViewID != "" {
		_, err := b.viewsUpdate(ctx, *view, "", sub.Reply.ViewID)
		if err == nil {
			return nil
		}
		if slackCode(err) != "not_found" {
			return classify(err, "views.update", "")
		}
		log.InfoContext(ctx, "the submission's modal was closed; telling the user in the channel")
	}
	if text == "" || sub.Reply.Channel == "" || sub.Reply.User == "" {
		return nil
	}
	if _, err := b.api.PostEphemeralContext(ctx, sub.Reply.Channel, sub.Reply.User, slack.MsgOptionText(text, false)); err != nil {
		return classify(err, "chat.postEphemeral", sub.Reply.Channel)
	}
	return nil
}
