package bot

import (
	"strconv"
	"strings"

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
		SlackUser:   slackUser,
		Force:       meta.Force,
	}
}
