package fakelinear

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Resolvers for linking, status tracking and reopening: attachmentsForURL,
// searchIssues, issues(filter: {id}), team states, previousUrlKeys,
// issueUpdate and commentCreate. Like the others they run with s.mu held.

// Comment is a comment commentCreate recorded.
type Comment struct {
	ID        string
	IssueID   string
	Body      string
	UserID    string // the viewer who wrote it.
	CreatedAt time.Time
}

// extState is the fake's state beyond the core workspace.
type extState struct {
	prevURLKeys []string
	comments    []*Comment
	fieldFails  []failRule
}

// SetPreviousURLKeys sets the URL keys the workspace had before a rename
// (Organization.previousUrlKeys); Linear keeps redirecting them.
func (s *Server) SetPreviousURLKeys(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ext.prevURLKeys = slices.Clone(keys)
}

// Comments returns the comments on an issue (UUID or identifier), oldest
// first.
func (s *Server) Comments(issueID string) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	iss := s.findIssue(issueID)
	if iss == nil {
		return nil
	}
	var out []Comment
	for _, c := range s.ext.comments {
		if c.IssueID == iss.ID {
			out = append(out, *c)
		}
	}
	return out
}

// FailNextField makes the next n resolutions of a root field (for example
// "commentCreate") fail inside an otherwise good request: HTTP 200 with
// data and errors[] at that path, as Linear answers a partial failure.
// Mutation fields after a failed one do not run.
func (s *Server) FailNextField(field string, n int, kind FailKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ext.fieldFails = append(s.ext.fieldFails, failRule{op: field, n: n, kind: kind})
}

// UpdateIssue changes an issue (UUID or identifier) as a person in Linear
// would: f edits it; a State given by name alone is resolved against the
// team's states; completedAt/canceledAt follow the state (unless f set
// them); updatedAt moves; a webhook reports the change.
func (s *Server) UpdateIssue(idOrIdentifier string, f func(*Issue)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	iss := s.findIssue(idOrIdentifier)
	if iss == nil {
		return errNotFound("Issue")
	}
	before := *iss
	f(iss)
	iss.ID = before.ID // the id is the issue's identity; it never changes.
	if iss.State != before.State && iss.State.ID == "" {
		st, ok := s.teamState(iss.TeamID, func(st WorkflowState) bool { return strings.EqualFold(st.Name, iss.State.Name) })
		if !ok {
			*iss = before
			return errNotFound("WorkflowState")
		}
		iss.State = st
	}
	s.issueUpdated(iss, before)
	return nil
}

// issueUpdated finishes a change to iss (previously before): closing
// timestamps, updatedAt, and the webhook. The caller holds s.mu.
func (s *Server) issueUpdated(iss *Issue, before Issue) {
	if reflect.DeepEqual(*iss, before) {
		return // nothing changed: Linear records no update and sends nothing.
	}
	now := s.now()
	if iss.State.Type != before.State.Type && iss.CompletedAt.Equal(before.CompletedAt) && iss.CanceledAt.Equal(before.CanceledAt) {
		iss.CompletedAt, iss.CanceledAt = time.Time{}, time.Time{}
		switch iss.State.Type {
		case "completed":
			iss.CompletedAt = now
		case "canceled":
			iss.CanceledAt = now
		}
	}
	iss.UpdatedAt = now
	s.issueWebhook("update", iss, &before)
}

// teamState finds the first state of a team that ok accepts.
func (s *Server) teamState(teamID string, ok func(WorkflowState) bool) (WorkflowState, bool) {
	t := s.teams[teamID]
	if t == nil {
		return WorkflowState{}, false
	}
	for _, st := range t.States {
		if ok(st) {
			return st, true
		}
	}
	return WorkflowState{}, false
}

// extendQueryRoot adds this file's query fields and wraps every root field
// with FailNextField's failures.
func (s *Server) extendQueryRoot(root map[string]any) map[string]any {
	root["organization"] = fieldFunc(func(map[string]any) (any, error) {
		o := cloneMap(s.org)
		o["previousUrlKeys"] = append([]string{}, s.ext.prevURLKeys...)
		return o, nil
	})
	root["issues"] = fieldFunc(s.resolveIssues)
	root["attachmentsForURL"] = fieldFunc(func(args map[string]any) (any, error) {
		var list []*Attachment
		for _, a := range s.attachments {
			if a.URL == str(args["url"]) {
				list = append(list, a)
			}
		}
		return connection(list, args, s.attachmentWithIssue)
	})
	root["searchIssues"] = fieldFunc(func(args map[string]any) (any, error) {
		terms := strings.Fields(strings.ToLower(str(args["term"])))
		if len(terms) == 0 {
			return nil, errInvalid("term should not be empty")
		}
		var list []*Issue
		for _, i := range s.issues {
			text := strings.ToLower(i.Identifier + "\n" + i.Title + "\n" + i.Description)
			if !slices.ContainsFunc(terms, func(t string) bool { return !strings.Contains(text, t) }) {
				list = append(list, i)
			}
		}
		slices.SortStableFunc(list, func(a, b *Issue) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
		c, err := connection(list, args, s.issueObj)
		if err == nil {
			c.(map[string]any)["totalCount"] = float64(len(list))
		}
		return c, err
	})
	return s.wrapFieldFailures(root)
}

// resolveIssues is Query.issues: newest first (or by updatedAt), with
// filter.id.eq / filter.id.in on UUIDs or identifiers.
func (s *Server) resolveIssues(args map[string]any) (any, error) {
	list := slices.Clone(s.issues)
	if idf := obj(obj(args["filter"])["id"]); idf != nil {
		want := map[string]bool{}
		if eq := str(idf["eq"]); eq != "" {
			want[strings.ToUpper(eq)] = true
		}
		for _, v := range anySlice(idf["in"]) {
			want[strings.ToUpper(str(v))] = true
		}
		list = slices.DeleteFunc(list, func(i *Issue) bool {
			return !want[strings.ToUpper(i.ID)] && !want[strings.ToUpper(i.Identifier)]
		})
	}
	key := func(i *Issue) time.Time { return i.CreatedAt }
	if str(args["orderBy"]) == "updatedAt" {
		key = func(i *Issue) time.Time { return i.UpdatedAt }
	}
	slices.SortStableFunc(list, func(a, b *Issue) int { return key(b).Compare(key(a)) })
	return connection(list, args, s.issueObj)
}

// extendMutationRoot adds issueUpdate and commentCreate.
func (s *Server) extendMutationRoot(root map[string]any) map[string]any {
	root["issueUpdate"] = fieldFunc(func(args map[string]any) (any, error) {
		iss, err := s.updateIssue(str(args["id"]), obj(args["input"]))
		if err != nil {
			return nil, err
		}
		return map[string]any{"success": true, "issue": s.issueObj(iss), "lastSyncId": s.nextSync()}, nil
	})
	root["commentCreate"] = fieldFunc(func(args map[string]any) (any, error) {
		in := obj(args["input"])
		iss := s.findIssue(str(in["issueId"]))
		if iss == nil {
			return nil, errNotFound("Issue")
		}
		body := str(in["body"])
		if strings.TrimSpace(body) == "" {
			return nil, errInvalid("body should not be empty")
		}
		c := &Comment{ID: uuid.NewString(), IssueID: iss.ID, Body: body, UserID: s.viewerID, CreatedAt: s.now()}
		s.ext.comments = append(s.ext.comments, c)
		return map[string]any{
			"success":    true,
			"comment":    map[string]any{"id": c.ID, "body": c.Body, "url": iss.URL + "#comment-" + c.ID[:8]},
			"lastSyncId": s.nextSync(),
		}, nil
	})
	return s.wrapFieldFailures(root)
}

// updateIssue applies an IssueUpdateInput: stateId (a state of the issue's
// team), assigneeId (an active user; null unassigns) and title.
func (s *Server) updateIssue(id string, in map[string]any) (*Issue, error) {
	iss := s.findIssue(id)
	if iss == nil {
		return nil, errNotFound("Issue")
	}
	next := *iss
	if v, ok := in["stateId"]; ok {
		st, found := s.teamState(iss.TeamID, func(st WorkflowState) bool { return st.ID == str(v) })
		if !found {
			return nil, errNotFound("WorkflowState")
		}
		next.State = st
	}
	if v, ok := in["assigneeId"]; ok {
		next.AssigneeID = str(v)
		if u := s.users[next.AssigneeID]; next.AssigneeID != "" && (u == nil || u.Deactivated) {
			return nil, errNotFound("User")
		}
	}
	if v, ok := in["title"]; ok {
		if strings.TrimSpace(str(v)) == "" {
			return nil, errInvalid("title should not be empty")
		}
		next.Title = str(v)
	}
	before := *iss
	*iss = next
	s.issueUpdated(iss, before)
	return iss, nil
}

// statesObj is Team.states: the states in position order.
func statesObj(t *teamRec, args map[string]any) (any, error) {
	states := positioned(t.States)
	return connection(states, args, func(st WorkflowState) map[string]any {
		return map[string]any{"id": st.ID, "name": st.Name, "type": st.Type, "position": st.Position}
	})
}

// positioned returns the states sorted by Position; states that all have
// Position 0 get their index, so a Team's list order is its board order.
func positioned(states []WorkflowState) []WorkflowState {
	out := slices.Clone(states)
	if !slices.ContainsFunc(out, func(st WorkflowState) bool { return st.Position != 0 }) {
		for i := range out {
			out[i].Position = float64(i)
		}
	}
	slices.SortStableFunc(out, func(a, b WorkflowState) int { return cmp.Compare(a.Position, b.Position) })
	return out
}

func (s *Server) attachmentWithIssue(a *Attachment) map[string]any {
	o := attachmentObj(a)
	if iss := s.findIssue(a.IssueID); iss != nil {
		o["issue"] = s.issueObj(iss)
	}
	return o
}

// wrapFieldFailures makes root fields fail as FailNextField asked.
func (s *Server) wrapFieldFailures(root map[string]any) map[string]any {
	for name, v := range root {
		fn, ok := v.(fieldFunc)
		if !ok {
			continue
		}
		root[name] = fieldFunc(func(args map[string]any) (any, error) {
			if kind, failed := s.takeFieldFailure(name); failed {
				return nil, fieldError(kind)
			}
			return fn(args)
		})
	}
	return root
}

func (s *Server) takeFieldFailure(field string) (FailKind, bool) {
	for i := range s.ext.fieldFails {
		f := &s.ext.fieldFails[i]
		if f.n > 0 && f.op == field {
			f.n--
			return f.kind, true
		}
	}
	return "", false
}

// fieldError is kind as an error inside a 200 answer.
func fieldError(kind FailKind) *gqlerror.Error {
	switch kind {
	case Unauthorized:
		return linearError(nil, "Authentication required, not authenticated", "authentication error", "AUTHENTICATION_ERROR", true)
	case Forbidden:
		return linearError(nil, "Forbidden", "forbidden", "FORBIDDEN", true, "You don't have permission to perform this action.")
	case InvalidInput:
		return errInvalid("The input is invalid.")
	case RateLimited:
		return linearError(nil, "Rate limit exceeded", "ratelimited", "RATELIMITED", true)
	}
	return linearError(nil, "Internal server error", "internal error", "INTERNAL_ERROR", false)
}

func anySlice(v any) []any {
	switch t := v.(type) {
	case []any:
		return t
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out
	}
	return nil
}

// timeOrNil is a DateTime the way Linear serialises it, or null.
func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
