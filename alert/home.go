package alert

import (
	"context"
	"fmt"
	"time"
)

// What the Slack App Home shows besides the connection: where alerts
// arrive and what was filed from Slack lately.

// Who made a link when no Slack user did. IssueLink.CreatedBy holds a
// Slack user ID otherwise.
const (
	// CreatedByAPI marks links made through the REST API.
	CreatedByAPI = "api"
	// CreatedByLinear marks links found in Linear (an issue that already
	// carried the error's attachment), made by nobody here.
	CreatedByLinear = "linear"
)

// AlertChannel is a Slack channel alerts were seen in.
type AlertChannel struct {
	Channel string
	// LastSeen is the latest last_seen of the channel's alerts.
	LastSeen time.Time
	// Errors counts the distinct errors alerted in the channel.
	Errors int64
}

// RefreshIssues reads the issues of links from Linear in one request
// (at most 100 distinct issues), applies what changed exactly as the
// poller does (links, alert messages, thread notes) and returns links as
// they now stand, in the same order. A link whose issue Linear no longer
// returns is kept as stored.
func (s *Service) RefreshIssues(ctx context.Context, links []IssueLink) ([]IssueLink, error) {
	if s.tracker == nil {
		return links, ErrNotConnected
	}
	var ids []string
	seen := map[string]bool{}
	for _, l := range links {
		if !seen[l.IssueID] && len(ids) < 100 {
			seen[l.IssueID] = true
			ids = append(ids, l.IssueID)
		}
	}
	if len(ids) == 0 {
		return links, nil
	}
	issues, err := s.tracker.IssuesByID(ctx, ids)
	if err != nil {
		return links, fmt.Errorf("read %d issues: %w", len(ids), err)
	}
	byID := make(map[string]Issue, len(issues))
	for _, is := range issues {
		byID[is.ID] = is
		if err := s.IssueChanged(ctx, is); err != nil {
			return links, err
		}
	}
	out := make([]IssueLink, len(links))
	for i, l := range links {
		if is, ok := byID[l.IssueID]; ok {
			l.Identifier, l.Title, l.URL = or(is.Identifier, l.Identifier), or(is.Title, l.Title), or(is.URL, l.URL)
			l.StateName, l.StateType = or(is.StateName, l.StateName), or(is.StateType, l.StateType)
			l.TeamKey, l.AssigneeID, l.AssigneeName = or(is.TeamKey, l.TeamKey), is.AssigneeID, is.AssigneeName
		}
		out[i] = l
	}
	return out, nil
}
