package fakelinear

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Resolvers run with s.mu held (see execute).

// maxPageSize is Linear's cap on first/last
// (https://linear.app/developers/pagination); defaultPageSize its default.
const (
	maxPageSize     = 250
	defaultPageSize = 50
)

func (s *Server) queryRoot() map[string]any {
	return s.extendQueryRoot(map[string]any{
		"viewer": fieldFunc(func(map[string]any) (any, error) {
			u := s.users[s.viewerID]
			if u == nil {
				return nil, errNotFound("User")
			}
			return s.userObj(u), nil
		}),
		"organization": s.org,
		"issue": fieldFunc(func(args map[string]any) (any, error) {
			iss := s.findIssue(str(args["id"]))
			if iss == nil {
				return nil, errNotFound("Issue")
			}
			return s.issueObj(iss), nil
		}),
		"issues": fieldFunc(func(args map[string]any) (any, error) {
			list := slices.Clone(s.issues)
			key := func(i *Issue) int64 { return i.CreatedAt.UnixNano() }
			if str(args["orderBy"]) == "updatedAt" {
				key = func(i *Issue) int64 { return i.UpdatedAt.UnixNano() }
			}
			slices.SortStableFunc(list, func(a, b *Issue) int { return cmp.Compare(key(b), key(a)) })
			return connection(list, args, s.issueObj)
		}),
		"team": fieldFunc(func(args map[string]any) (any, error) {
			t := s.teams[str(args["id"])]
			if t == nil {
				return nil, errNotFound("Team")
			}
			return s.teamObj(t), nil
		}),
		"issueLabels": fieldFunc(s.resolveIssueLabels),
		"teams": fieldFunc(func(args map[string]any) (any, error) {
			list := make([]*teamRec, 0, len(s.teamOrder))
			for _, id := range s.teamOrder {
				list = append(list, s.teams[id])
			}
			return connection(list, args, s.teamObj)
		}),
	})
}

func (s *Server) mutationRoot() map[string]any {
	return s.extendMutationRoot(map[string]any{
		"issueCreate": fieldFunc(func(args map[string]any) (any, error) {
			iss, err := s.createIssue(obj(args["input"]))
			if err != nil {
				return nil, err
			}
			return map[string]any{"success": true, "issue": s.issueObj(iss), "lastSyncId": s.nextSync()}, nil
		}),
		"attachmentCreate": fieldFunc(func(args map[string]any) (any, error) {
			a, err := s.createAttachment(obj(args["input"]))
			if err != nil {
				return nil, err
			}
			return map[string]any{"success": true, "attachment": s.attachmentWithIssue(a), "lastSyncId": s.nextSync()}, nil
		}),
	})
}

func (s *Server) createIssue(in map[string]any) (*Issue, error) {
	t := s.teams[str(in["teamId"])]
	if t == nil {
		return nil, errNotFound("Team")
	}
	id := str(in["id"])
	if id == "" {
		id = uuid.NewString()
	} else if _, err := uuid.Parse(id); err != nil {
		return nil, errInvalid("id must be a UUID")
	}
	if s.findIssue(id) != nil {
		// Linear refuses to reuse an id; the exact wording is not
		// documented, the INVALID_INPUT shape is what clients see.
		return nil, errInvalid("Issue with this id already exists")
	}
	title := strings.TrimSpace(str(in["title"]))
	if title == "" {
		return nil, errInvalid("title should not be empty")
	}
	prio := 0
	if p, ok := in["priority"]; ok && p != nil {
		n, err := strconv.Atoi(fmt.Sprint(p))
		if err != nil || n < 0 || n > 4 {
			return nil, errInvalid("priority must be between 0 and 4")
		}
		prio = n
	}
	assignee := str(in["assigneeId"])
	if assignee != "" {
		if u := s.users[assignee]; u == nil || u.Deactivated {
			return nil, errNotFound("User")
		}
	}
	labels, err := s.checkIssueLabels(t, in["labelIds"])
	if err != nil {
		return nil, err
	}
	project, err := s.checkIssueProject(t, str(in["projectId"]))
	if err != nil {
		return nil, err
	}
	t.seq++
	ident := fmt.Sprintf("%s-%d", t.Key, t.seq)
	now := s.now()
	iss := &Issue{
		ID: id, Identifier: ident, Number: t.seq, Title: title, Description: str(in["description"]),
		Priority: prio, TeamID: t.ID, AssigneeID: assignee, State: defaultState(t.States),
		LabelIDs: labels, ProjectID: project,
		URL:       fmt.Sprintf("https://linear.app/%s/issue/%s/%s", str(s.org["urlKey"]), ident, slug(title)),
		CreatedAt: now, UpdatedAt: now,
	}
	s.issues = append(s.issues, iss)
	s.issueWebhook("create", iss, nil)
	return iss, nil
}

// createAttachment adds an attachment, or updates the one with the same
// url on the issue: Linear keys attachments by (issue, url).
func (s *Server) createAttachment(in map[string]any) (*Attachment, error) {
	iss := s.findIssue(str(in["issueId"]))
	if iss == nil {
		return nil, errNotFound("Issue")
	}
	u, err := url.Parse(str(in["url"]))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, errInvalid("url must be a URL address")
	}
	title := str(in["title"])
	if strings.TrimSpace(title) == "" {
		return nil, errInvalid("title should not be empty")
	}
	md := plainJSON(obj(in["metadata"]))
	for _, a := range s.attachments {
		if a.IssueID == iss.ID && a.URL == u.String() {
			a.Title, a.Subtitle, a.Metadata = title, str(in["subtitle"]), cloneMap(md)
			return a, nil
		}
	}
	a := &Attachment{ID: uuid.NewString(), IssueID: iss.ID, URL: u.String(), Title: title,
		Subtitle: str(in["subtitle"]), Metadata: cloneMap(md), CreatedAt: s.now()}
	s.attachments = append(s.attachments, a)
	return a, nil
}

func (s *Server) userObj(u *User) map[string]any {
	return map[string]any{"id": u.ID, "name": u.Name, "displayName": u.DisplayName, "email": u.Email, "active": !u.Deactivated}
}

func (s *Server) teamObj(t *teamRec) map[string]any {
	return map[string]any{
		"id": t.ID, "key": t.Key, "name": t.Name,
		"members": fieldFunc(func(args map[string]any) (any, error) {
			var list []*User
			active := activeFilter(args["filter"])
			for _, id := range t.members {
				u := s.users[id]
				if u.Deactivated && args["includeDisabled"] != true {
					continue
				}
				if active != nil && *active == u.Deactivated {
					continue
				}
				list = append(list, u)
			}
			return connection(list, args, s.userObj)
		}),
		"states": fieldFunc(func(args map[string]any) (any, error) { return statesObj(t, args) }),
		"projects": fieldFunc(func(args map[string]any) (any, error) {
			return connection(slices.Clone(t.projects), args, namedObj)
		}),
	}
}

func namedObj(n named) map[string]any { return map[string]any{"id": n.ID, "name": n.Name} }

func (s *Server) issueObj(i *Issue) map[string]any {
	var assignee any
	if u := s.users[i.AssigneeID]; u != nil {
		assignee = s.userObj(u)
	}
	return map[string]any{
		"id": i.ID, "identifier": i.Identifier, "title": i.Title, "url": i.URL,
		"createdAt":   i.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		"state":       map[string]any{"id": i.State.ID, "name": i.State.Name, "type": i.State.Type},
		"team":        s.teamObj(s.teams[i.TeamID]),
		"assignee":    assignee,
		"completedAt": timeOrNil(i.CompletedAt),
		"canceledAt":  timeOrNil(i.CanceledAt),
		"attachments": fieldFunc(func(args map[string]any) (any, error) {
			var list []*Attachment
			for _, a := range s.attachments {
				if a.IssueID == i.ID {
					list = append(list, a)
				}
			}
			return connection(list, args, s.attachmentWithIssue)
		}),
	}
}

func attachmentObj(a *Attachment) map[string]any {
	md := a.Metadata
	if md == nil {
		md = map[string]any{}
	}
	var sub any
	if a.Subtitle != "" {
		sub = a.Subtitle
	}
	return map[string]any{"id": a.ID, "url": a.URL, "title": a.Title, "subtitle": sub, "metadata": md}
}

// connection pages items the way Linear's Relay connections do: first
// (default 50, at most 250) after an opaque cursor.
func connection[T any](items []T, args map[string]any, toObj func(T) map[string]any) (any, error) {
	first := defaultPageSize
	if v, ok := args["first"]; ok && v != nil {
		n, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil || n < 0 || n > maxPageSize {
			return nil, errInvalid(fmt.Sprintf("first must be between 0 and %d", maxPageSize))
		}
		first = n
	}
	start := 0
	if after := str(args["after"]); after != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(after, "cursor:"))
		if err != nil || n < 0 {
			return nil, errInvalid("after is not a valid cursor")
		}
		start = min(n+1, len(items))
	}
	end := min(start+first, len(items))
	nodes := make([]any, 0, end-start)
	for _, it := range items[start:end] {
		nodes = append(nodes, toObj(it))
	}
	var endCursor any
	if end > start {
		endCursor = "cursor:" + strconv.Itoa(end-1)
	}
	return map[string]any{
		"nodes":    nodes,
		"pageInfo": map[string]any{"hasNextPage": end < len(items), "endCursor": endCursor},
	}, nil
}

// defaultState is where a new issue starts: the team's first backlog or
// unstarted state.
func defaultState(states []WorkflowState) WorkflowState {
	for _, st := range states {
		if st.Type == "backlog" || st.Type == "unstarted" {
			return st
		}
	}
	if len(states) > 0 {
		return states[0]
	}
	return WorkflowState{}
}

func activeFilter(f any) *bool {
	active, ok := obj(obj(f)["active"])["eq"].(bool)
	if !ok {
		return nil
	}
	return &active
}

func (s *Server) nextSync() float64 {
	s.syncID++
	return float64(s.syncID)
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slug is the URL tail Linear derives from a title.
func slug(title string) string {
	sl := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(title), "-"), "-")
	if len(sl) > 60 {
		sl = strings.TrimRight(sl[:60], "-")
	}
	return sl
}

// errNotFound is Linear's answer for an id that names nothing.
func errNotFound(entity string) *gqlerror.Error {
	return linearError(nil, "Entity not found: "+entity, "invalid input", "INVALID_INPUT", true,
		"Could not find referenced "+entity+".")
}

// errInvalid is Linear's answer for input that fails validation.
func errInvalid(detail string) *gqlerror.Error {
	return linearError(nil, "Argument Validation Error", "invalid input", "INVALID_INPUT", true, detail)
}

// plainJSON re-decodes metadata so numbers are float64, as
// encoding/json gives them, rather than the json.Number the request was
// read with.
func plainJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return m
	}
	return out
}

func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
