package fakelinear

import (
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// Issue labels and projects as Linear scopes them: a label belongs to one
// team, or to none (a workspace label, IssueLabel.team null, which every
// team's issues may carry); a group label only holds other labels. A
// project here belongs to the team it was added to.

// labelRec is one issue label. TeamID "" is a workspace label.
type labelRec struct {
	ID, Name, TeamID string
	IsGroup          bool
}

// addLabel stores l with a fresh ID and returns it. The caller holds s.mu.
func (s *Server) addLabel(l labelRec) string {
	l.ID = uuid.NewString()
	s.labels = append(s.labels, l)
	return l.ID
}

// resolveIssueLabels answers Query.issueLabels: every label the filter
// admits, workspace and team labels alike, as Linear lists them.
func (s *Server) resolveIssueLabels(args map[string]any) (any, error) {
	var list []labelRec
	for _, l := range s.labels {
		if labelMatches(l, obj(args["filter"])) {
			list = append(list, l)
		}
	}
	return connection(list, args, s.labelObj)
}

func (s *Server) labelObj(l labelRec) map[string]any {
	var team any
	if t := s.teams[l.TeamID]; t != nil {
		team = s.teamObj(t)
	}
	return map[string]any{"id": l.ID, "name": l.Name, "isGroup": l.IsGroup, "team": team}
}

// labelMatches evaluates an IssueLabelFilter: every field given must hold;
// or holds when any of its filters does.
func labelMatches(l labelRec, f map[string]any) bool {
	if f == nil {
		return true
	}
	if c := obj(f["isGroup"]); c != nil {
		if eq, ok := c["eq"].(bool); ok && eq != l.IsGroup {
			return false
		}
	}
	if t := obj(f["team"]); t != nil {
		if null, ok := t["null"].(bool); ok && null != (l.TeamID == "") {
			return false
		}
		if id := obj(t["id"]); id != nil {
			if eq, ok := id["eq"]; ok && eq != nil && (l.TeamID == "" || str(eq) != l.TeamID) {
				return false
			}
		}
	}
	if ors, ok := f["or"].([]any); ok {
		return slices.ContainsFunc(ors, func(o any) bool { return labelMatches(l, obj(o)) })
	}
	return true
}

// checkIssueLabels checks issueCreate's labelIds for team t as Linear
// does: each must exist, and be t's or the workspace's. The caller holds
// s.mu.
func (s *Server) checkIssueLabels(t *teamRec, v any) ([]string, error) {
	raw, _ := v.([]any)
	var out []string
	for _, x := range raw {
		id := str(x)
		i := slices.IndexFunc(s.labels, func(l labelRec) bool { return l.ID == id })
		if i < 0 {
			return nil, errNotFound("IssueLabel")
		}
		l := s.labels[i]
		if l.TeamID != "" && l.TeamID != t.ID {
			// Linear's answer, as clients have quoted it: message
			// "LabelIds for incorrect team", and in its words for users
			// which label.
			return nil, linearError(nil, "LabelIds for incorrect team", "invalid input", "INPUT_ERROR", true,
				fmt.Sprintf("The label '%s' is not associated with the same team as the issue.", l.Name))
		}
		if l.IsGroup {
			// The wording is ours; the shape is Linear's validation error.
			return nil, errInvalid(fmt.Sprintf("The label '%s' is a group and cannot be applied to an issue.", l.Name))
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// checkIssueProject checks issueCreate's projectId: a project of team t.
// The caller holds s.mu.
func (s *Server) checkIssueProject(t *teamRec, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	if slices.ContainsFunc(t.projects, func(p named) bool { return p.ID == id }) {
		return id, nil
	}
	for _, other := range s.teams {
		if i := slices.IndexFunc(other.projects, func(p named) bool { return p.ID == id }); i >= 0 {
			// Linear's exact wording for a project of other teams is not
			// documented; the shape is its INPUT_ERROR.
			return "", linearError(nil, "ProjectId for incorrect team", "invalid input", "INPUT_ERROR", true,
				fmt.Sprintf("The project '%s' is not associated with the same team as the issue.", other.projects[i].Name))
		}
	}
	return "", errNotFound("Project")
}
