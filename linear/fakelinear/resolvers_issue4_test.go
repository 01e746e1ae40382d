package fakelinear_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// fixedClock is a settable clock for the fake.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *fixedClock { return &fixedClock{t: time.Date(2025, 11, 12, 10, 0, 0, 0, time.UTC)} }

// create makes an ENG issue through GraphQL and returns its identifier.
func create(t *testing.T, srv *fakelinear.Server, title, description string) string {
	t.Helper()
	a := post(t, srv, fakelinear.APIKey, `mutation($in: IssueCreateInput!) { issueCreate(input: $in) { issue { identifier } } }`,
		map[string]any{"in": map[string]any{"teamId": fakelinear.TeamEngID, "title": title, "description": description}})
	if len(a.Errors) > 0 {
		t.Fatalf("issueCreate: %v", a.Errors)
	}
	return a.Data["issueCreate"].(map[string]any)["issue"].(map[string]any)["identifier"].(string)
}

func issueID(t *testing.T, srv *fakelinear.Server, ref string) string {
	t.Helper()
	iss, ok := srv.Issue(ref)
	if !ok {
		t.Fatalf("no issue %s", ref)
	}
	return iss.ID
}

func stateID(t *testing.T, name string, srv *fakelinear.Server) string {
	t.Helper()
	team, _ := srv.TeamByKey("ENG")
	for _, st := range team.States {
		if st.Name == name {
			return st.ID
		}
	}
	t.Fatalf("no state %s", name)
	return ""
}

func TestIssue4Queries(t *testing.T) {
	clk := newClock()
	srv := fakelinear.Seeded(fakelinear.WithClock(clk.now))
	defer srv.Close()
	create(t, srv, "TypeError: boom", "in checkout")
	clk.add(time.Minute)
	create(t, srv, "RangeError: size", "Checkout page")
	eng1, eng2 := issueID(t, srv, "ENG-1"), issueID(t, srv, "ENG-2")
	post(t, srv, fakelinear.APIKey, `mutation($id: String!) { attachmentCreate(input: {issueId: $id, url: "https://p.test/e/1", title: "e1"}) { success } }`,
		map[string]any{"id": eng2})
	srv.SetPreviousURLKeys("acme-old")
	clk.add(time.Minute)
	if err := srv.SetIssueState("ENG-1", "Done"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		query string
		vars  map[string]any
		want  map[string]any
	}{
		{
			name:  "previous url keys",
			query: `{ organization { urlKey previousUrlKeys } }`,
			want:  map[string]any{"organization": map[string]any{"urlKey": "acme", "previousUrlKeys": []any{"acme-old"}}},
		},
		{
			name:  "attachmentsForURL gives the issue",
			query: `{ attachmentsForURL(url: "https://p.test/e/1") { nodes { title issue { identifier } } } }`,
			want: map[string]any{"attachmentsForURL": map[string]any{"nodes": []any{
				map[string]any{"title": "e1", "issue": map[string]any{"identifier": "ENG-2"}}}}},
		},
		{
			name:  "attachmentsForURL, nothing there",
			query: `{ attachmentsForURL(url: "https://p.test/e/2") { nodes { id } } }`,
			want:  map[string]any{"attachmentsForURL": map[string]any{"nodes": []any{}}},
		},
		{
			name:  "search all words, title or description, case-insensitive",
			query: `{ searchIssues(term: "CHECKOUT") { totalCount nodes { identifier } } }`,
			want: map[string]any{"searchIssues": map[string]any{"totalCount": float64(2), "nodes": []any{
				map[string]any{"identifier": "ENG-1"}, map[string]any{"identifier": "ENG-2"}}}},
		},
		{
			name:  "search by identifier, first",
			query: `{ searchIssues(term: "eng-2 size", first: 1) { nodes { identifier } } }`,
			want:  map[string]any{"searchIssues": map[string]any{"nodes": []any{map[string]any{"identifier": "ENG-2"}}}},
		},
		{
			name:  "issues by id, unknown left out",
			query: `query($ids: [ID!]) { issues(filter: {id: {in: $ids}}) { nodes { identifier } } }`,
			vars:  map[string]any{"ids": []any{eng1, "0b6e5b0a-0000-4000-8000-000000000000"}},
			want:  map[string]any{"issues": map[string]any{"nodes": []any{map[string]any{"identifier": "ENG-1"}}}},
		},
		{
			name:  "closing timestamps",
			query: `{ issues(orderBy: createdAt) { nodes { identifier state { type } completedAt canceledAt } } }`,
			want: map[string]any{"issues": map[string]any{"nodes": []any{
				map[string]any{"identifier": "ENG-2", "state": map[string]any{"type": "backlog"}, "completedAt": nil, "canceledAt": nil},
				map[string]any{"identifier": "ENG-1", "state": map[string]any{"type": "completed"}, "completedAt": "2025-11-12T10:02:00.000Z", "canceledAt": nil},
			}}},
		},
		{
			name:  "team states in position order",
			query: `{ team(id: "` + fakelinear.TeamEngID + `") { states { nodes { name type position } } } }`,
			want: map[string]any{"team": map[string]any{"states": map[string]any{"nodes": []any{
				map[string]any{"name": "Backlog", "type": "backlog", "position": float64(0)},
				map[string]any{"name": "Todo", "type": "unstarted", "position": float64(1)},
				map[string]any{"name": "In Progress", "type": "started", "position": float64(2)},
				map[string]any{"name": "Done", "type": "completed", "position": float64(3)},
				map[string]any{"name": "Canceled", "type": "canceled", "position": float64(4)},
			}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := post(t, srv, fakelinear.APIKey, tt.query, tt.vars)
			if a.status != 200 || len(a.Errors) > 0 {
				t.Fatalf("status %d errors %v", a.status, a.Errors)
			}
			if diff := cmp.Diff(tt.want, a.Data); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssueUpdateAndComment(t *testing.T) {
	srv := fakelinear.Seeded()
	defer srv.Close()
	create(t, srv, "TypeError: boom", "")
	id := issueID(t, srv, "ENG-1")
	const update = `mutation($id: String!, $in: IssueUpdateInput!) { issueUpdate(id: $id, input: $in) { success issue { title state { name } assignee { name } } } }`
	const comment = `mutation($in: CommentCreateInput!) { commentCreate(input: $in) { success comment { body } } }`
	tests := []struct {
		name     string
		query    string
		vars     map[string]any
		wantCode any
		want     map[string]any
	}{
		{
			name: "state, assignee and title", query: update,
			vars: map[string]any{"id": id, "in": map[string]any{"stateId": stateID(t, "In Progress", srv), "assigneeId": fakelinear.UserBobID, "title": "Renamed"}},
			want: map[string]any{"issueUpdate": map[string]any{"success": true, "issue": map[string]any{
				"title": "Renamed", "state": map[string]any{"name": "In Progress"}, "assignee": map[string]any{"name": "Bob Builder"}}}},
		},
		{
			name: "unassign with null", query: update,
			vars: map[string]any{"id": "ENG-1", "in": map[string]any{"assigneeId": nil}},
			want: map[string]any{"issueUpdate": map[string]any{"success": true, "issue": map[string]any{
				"title": "Renamed", "state": map[string]any{"name": "In Progress"}, "assignee": nil}}},
		},
		{name: "state of another team", query: update, wantCode: "INVALID_INPUT",
			vars: map[string]any{"id": id, "in": map[string]any{"stateId": "5c1f6a3e-0000-4000-8000-00000000ffff"}}},
		{name: "deactivated assignee", query: update, wantCode: "INVALID_INPUT",
			vars: map[string]any{"id": id, "in": map[string]any{"assigneeId": fakelinear.UserDeeID}}},
		{name: "empty title", query: update, wantCode: "INVALID_INPUT",
			vars: map[string]any{"id": id, "in": map[string]any{"title": " "}}},
		{name: "unknown issue", query: update, wantCode: "INVALID_INPUT",
			vars: map[string]any{"id": "ENG-99", "in": map[string]any{"title": "x"}}},
		{
			name: "comment", query: comment,
			vars: map[string]any{"in": map[string]any{"issueId": id, "body": "The error is back."}},
			want: map[string]any{"commentCreate": map[string]any{"success": true, "comment": map[string]any{"body": "The error is back."}}},
		},
		{name: "empty comment", query: comment, wantCode: "INVALID_INPUT",
			vars: map[string]any{"in": map[string]any{"issueId": id, "body": ""}}},
		{name: "comment on unknown issue", query: comment, wantCode: "INVALID_INPUT",
			vars: map[string]any{"in": map[string]any{"issueId": "ENG-99", "body": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := post(t, srv, fakelinear.APIKey, tt.query, tt.vars)
			if got := ext(a, "code"); got != tt.wantCode {
				t.Fatalf("code = %v, want %v (errors %v)", got, tt.wantCode, a.Errors)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, a.Data); diff != "" {
					t.Errorf("data (-want +got):\n%s", diff)
				}
			}
		})
	}
	got := srv.Comments("ENG-1")
	if len(got) != 1 || got[0].Body != "The error is back." || got[0].UserID != fakelinear.UserAdaID {
		t.Errorf("comments = %+v, want one by the viewer", got)
	}
}

// TestFailNextField: a failure inside a mutation answers 200 with the
// error at the field's path; the fields before it ran, those after did not.
func TestFailNextField(t *testing.T) {
	srv := fakelinear.Seeded()
	defer srv.Close()
	create(t, srv, "TypeError: boom", "")
	id := issueID(t, srv, "ENG-1")
	srv.FailNextField("commentCreate", 1, fakelinear.InvalidInput)
	const doc = `mutation($id: String!, $st: String!) {
		issueUpdate(id: $id, input: {stateId: $st}) { success }
		commentCreate(input: {issueId: $id, body: "b"}) { success }
	}`
	a := post(t, srv, fakelinear.APIKey, doc, map[string]any{"id": id, "st": stateID(t, "Done", srv)})
	if a.status != 200 || a.Data != nil || ext(a, "code") != "INVALID_INPUT" {
		t.Fatalf("answer = %+v, want 200, data null, INVALID_INPUT", a)
	}
	if diff := cmp.Diff([]any{"commentCreate"}, a.Errors[0]["path"]); diff != "" {
		t.Errorf("error path (-want +got):\n%s", diff)
	}
	if iss, _ := srv.Issue(id); iss.State.Name != "Done" || iss.CompletedAt.IsZero() {
		t.Errorf("issue state %q completedAt %v: the update before the failure should have run", iss.State.Name, iss.CompletedAt)
	}
	if n := len(srv.Comments(id)); n != 0 {
		t.Errorf("comments = %d, want 0", n)
	}
	a = post(t, srv, fakelinear.APIKey, doc, map[string]any{"id": id, "st": stateID(t, "Todo", srv)})
	if len(a.Errors) > 0 || len(srv.Comments(id)) != 1 {
		t.Errorf("the failure should apply once: errors %v, comments %d", a.Errors, len(srv.Comments(id)))
	}
}
