package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// submission is what the user entered in the create modal.
type submission struct {
	TeamID      string
	AssigneeID  string
	Title       string
	Description string
	Priority    alert.Priority
	LabelIDs    []string `json:",omitempty"`
	ProjectID   string   `json:",omitempty"`
}

// parseSubmission reads the create modal's state. An assignee picked under
// another team's block (a stale element) is ignored.
func parseSubmission(v slack.View) submission {
	var s submission
	if v.State == nil {
		return s
	}
	vals := v.State.Values
	s.TeamID = vals[blockTeam][actionTeam].SelectedOption.Value
	s.Title = strings.TrimSpace(vals[blockTitle][actionTitle].Value)
	s.Description = vals[blockDescription][actionDescription].Value
	if p, err := strconv.Atoi(vals[blockPriority][actionPriority].SelectedOption.Value); err == nil && validPriority(alert.Priority(p)) {
		s.Priority = alert.Priority(p)
	}
	if strings.HasPrefix(s.TeamID, noticePrefix) { // a search notice, not a team
		s.TeamID = ""
	}
	if s.TeamID != "" {
		s.AssigneeID = vals[blockAssigneePrefix+s.TeamID][actionAssignee].SelectedOption.Value
	}
	if strings.HasPrefix(s.AssigneeID, noticePrefix) {
		s.AssigneeID = ""
	}
	if s.TeamID != "" {
		for _, o := range vals[blockLabelsPrefix+s.TeamID][actionLabels].SelectedOptions {
			if o.Value != "" && !strings.HasPrefix(o.Value, noticePrefix) && !slices.Contains(s.LabelIDs, o.Value) {
				s.LabelIDs = append(s.LabelIDs, o.Value)
			}
		}
		s.ProjectID = vals[blockProjectPrefix+s.TeamID][actionProject].SelectedOption.Value
	}
	if strings.HasPrefix(s.ProjectID, noticePrefix) {
		s.ProjectID = ""
	}
	return s
}

func validPriority(p alert.Priority) bool {
	for _, q := range alert.Priorities {
		if p == q {
			return true
		}
	}
	return false
}

// validate returns Slack's per-block errors for response_action "errors"
// (keys are input block_ids), or nil when the submission may go ahead.
func (s submission) validate() map[string]string {
	errs := map[string]string{}
	if s.TeamID == "" {
		errs[blockTeam] = "Choose the Linear team for the issue."
	}
	if s.Title == "" {
		errs[blockTitle] = "The title cannot be empty."
	}
	if len(s.LabelIDs) > maxIssueLabels {
		errs[blockLabelsPrefix+s.TeamID] = fmt.Sprintf("Pick at most %d labels.", maxIssueLabels)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// request turns the submission into the service's create request. A
// description the user left as pre-filled is sent empty, so the service
// writes the full one (with the whole stack trace) rather than the text
// cut to fit Slack's 3000-character input.
func (s submission) request(meta modalMeta, slackUser string) alert.CreateRequest {
	desc := s.Description
	if meta.Prefill != "" && digest(desc) == meta.Prefill {
		desc = ""
	}
	return alert.CreateRequest{
		CreationID:  meta.CreationID,
		AlertID:     meta.AlertID,
		TeamID:      s.TeamID,
		AssigneeID:  s.AssigneeID,
		Title:       s.Title,
		Description: desc,
		Priority:    s.Priority,
		LabelIDs:    s.LabelIDs,
		ProjectID:   s.ProjectID,
		SlackUser:   slackUser,
		Force:       meta.Force,
	}
}

// actorLookup bounds the users.info call made before a create's ack (it
// names the issue's creator in Linear); most often the user is cached.
const actorLookup = time.Second

// msgNotSaved is shown under the form when the submission could not be
// stored: nothing happened, and submitting again is safe.
const msgNotSaved = "We could not save your request (our database did not answer). Nothing was created; please submit again."

// createSubmitAck handles the create modal's submission. The submission is
// stored, with its job on the work engine, before the ack: once the modal
// shows "Creating issue…" the request survives a crash of this process and
// any replica finishes it, then shows the outcome in this modal (see
// Report). Bad input is answered under its field and stores nothing.
func (b *Bot) createSubmitAck(cb slack.InteractionCallback) *deferredAck {
	return &deferredAck{
		kind: "create submission",
		busy: slack.NewErrorsViewSubmissionResponse(map[string]string{
			blockTitle: "Too many requests at once. Please submit again in a moment.",
		}),
		answer: func(ctx context.Context) (any, job) { return b.storeCreate(ctx, cb), nil },
	}
}

// storeCreate validates and stores a create submission and returns its ack.
func (b *Bot) storeCreate(ctx context.Context, cb slack.InteractionCallback) any {
	meta, err := decodeMeta(cb.View.PrivateMetadata)
	if err != nil {
		return slack.NewUpdateViewSubmissionResponse(ptr(errorModal(err, modalMeta{})))
	}
	sub := parseSubmission(cb.View)
	if errs := sub.validate(); errs != nil {
		return slack.NewErrorsViewSubmissionResponse(errs)
	}
	user := cb.User.ID
	log := b.log.With("alert_id", meta.AlertID, "creation_id", meta.CreationID, "team_id", sub.TeamID, "user", user, "view_id", cb.View.ID)
	req := sub.request(meta, user)
	// Linear shows an app-created issue as made by this person (with
	// actor=app OAuth); without users.info the app's own name stands.
	uctx, cancel := context.WithTimeout(ctx, actorLookup)
	if u, err := b.user(uctx, user); err == nil {
		req.ActorName, req.ActorIconURL = u.name, u.icon
	} else {
		log.DebugContext(ctx, "users.info for the issue's creator", "err", err)
	}
	cancel()
	private, _ := json.Marshal(createReply{Meta: meta, Values: sub}) // strings and ints always marshal.
	err = b.svc.Submit(ctx, alert.Submission{
		Kind:   alert.JobCreateIssue,
		Create: &req,
		Reply:  alert.Reply{User: user, ViewID: cb.View.ID, Channel: meta.Channel, Private: string(private)},
	})
	if err != nil {
		log.ErrorContext(ctx, "store create submission", "err", err)
		return slack.NewErrorsViewSubmissionResponse(map[string]string{blockTitle: msgNotSaved})
	}
	log.InfoContext(ctx, "create submission stored")
	// Crash point for the fault suite: the submission is stored and its ack
	// about to go out.
	return slack.NewUpdateViewSubmissionResponse(ptr(creatingModal(meta)))
}

// reopenAck handles a click on "Reopen ENG-42": the request is stored with
// its job before the ack, so it is carried out once even if this process
// dies right after; a double click folds into the queued job. Only a
// failure is told to the user, ephemerally and in words (see Report).
func (b *Bot) reopenAck(cb slack.InteractionCallback, alertID int64) *deferredAck {
	return &deferredAck{
		kind: "reopen",
		answer: func(ctx context.Context) (any, job) {
			user := cb.User.ID
			err := b.svc.Submit(ctx, alert.Submission{
				Kind:   alert.JobReopenIssue,
				Reopen: &alert.ReopenRequest{AlertID: alertID, SlackUser: user},
				Reply:  alert.Reply{User: user, Channel: or(cb.Container.ChannelID, cb.Channel.ID)},
			})
			if err == nil {
				return nil, nil
			}
			b.log.ErrorContext(ctx, "store reopen", "alert_id", alertID, "user", user, "err", err)
			return nil, func(ctx context.Context) {
				b.respondReply(ctx, cb.ResponseURL, textReply(":warning: Could not reopen the issue: we could not save the request "+
					"(our database did not answer). Nothing changed; please click Reopen again."))
			}
		},
	}
}

// routedAck handles a click on "Create in ENG": the issue is filed with the
// route's defaults, no modal. The request is stored with its job before
// the ack (any replica finishes it, also after a crash); every click of
// one alert in one state is one intent (alert.RoutedCreationID), so a
// double click, or the click delivered to two replicas, files one issue.
// An error already tracked is said ephemerally instead; the thread says
// who filed the issue.
func (b *Bot) routedAck(cb slack.InteractionCallback, alertID int64) *deferredAck {
	return &deferredAck{
		kind: "create by route",
		answer: func(ctx context.Context) (any, job) {
			user := cb.User.ID
			channel := or(cb.Container.ChannelID, cb.Channel.ID)
			log := b.log.With("alert_id", alertID, "user", user, "channel", channel)
			req := alert.RoutedRequest{SlackUser: user}
			uctx, cancel := context.WithTimeout(ctx, actorLookup)
			if u, err := b.user(uctx, user); err == nil {
				req.ActorName, req.ActorIconURL = u.name, u.icon
			}
			cancel()
			route, err := b.svc.SubmitRouted(ctx, alertID, b.defaultTeamKey(ctx, cb.Team.ID), req,
				alert.Reply{User: user, Channel: channel})
			if err == nil {
				log.InfoContext(ctx, "create by route stored", "team", route.TeamKey, "rule", route.N)
				return nil, nil
			}
			var linked *alert.AlreadyLinkedError
			var text string
			switch {
			case errors.As(err, &linked) && linked.Link.CreatedBy == user && time.Since(linked.Link.CreatedAt) < time.Minute:
				// A repeat of this person's own click (a double click, a
				// redelivery) that came after the issue was filed: the
				// thread already says so.
				log.InfoContext(ctx, "create by route: already filed by this click", "issue", linked.Link.Identifier)
				return nil, nil
			case errors.As(err, &linked):
				text = ":information_source: " + alreadyFiledText(linked.Link)
			case errors.Is(err, alert.ErrInvalid):
				text = ":warning: " + escapeMrkdwn(alert.Problem(err)) + "."
			default:
				log.ErrorContext(ctx, "store create by route", "err", err)
				text = ":warning: The issue was not filed: we could not save the request (our database did not answer). " +
					"Nothing was created; please click again."
			}
			return nil, func(ctx context.Context) { b.respondReply(ctx, cb.ResponseURL, textReply(text)) }
		},
	}
}

// alreadyFiledText says that the error already has its issue.
func alreadyFiledText(l alert.IssueLink) string {
	return "This error is already tracked in " + slackLink(l.URL, l.Identifier) + ": nothing was filed."
}
