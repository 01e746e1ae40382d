package linear_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// setup starts a seeded fake and a client that authenticates with key and
// logs into the returned buffer.
func setup(t *testing.T, key string) (*fakelinear.Server, *linear.Client, *bytes.Buffer) {
	t.Helper()
	srv := fakelinear.Seeded()
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &linear.APIKeyTransport{Key: key}}
	return srv, linear.New(srv.URL(), hc, log), &logs
}

func request(title string) alert.IssueRequest {
	return alert.IssueRequest{
		ID:          uuid.NewString(),
		TeamID:      fakelinear.TeamEngID,
		Title:       title,
		Description: "**TypeError**: boom\n\n" + alert.AutoCreatedSentence,
		Priority:    alert.PriorityHigh,
		Attachment: alert.Attachment{
			URL:      "https://app.proliferate.test/errors/err-1",
			Title:    "Proliferate: " + title,
			Subtitle: "production · 3 events · 2 users",
			Metadata: map[string]any{"errorId": "err-1", "eventCount": 3},
		},
	}
}

func TestWorkspace(t *testing.T) {
	srv, c, _ := setup(t, fakelinear.APIKey)
	ctx := context.Background()
	created, err := c.CreateIssue(ctx, request("TypeError: boom"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := c.Workspace(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := alert.Workspace{
		UserName: "Ada Lovelace", UserEmail: "ada@acme.test",
		OrgID: fakelinear.OrgID, OrgName: "Acme", OrgURLKey: "acme",
		RecentIssues: []alert.Issue{created},
	}
	if diff := cmp.Diff(want, ws); diff != "" {
		t.Errorf("Workspace (-want +got):\n%s", diff)
	}
	if got := srv.CountRequests("listRecentIssues"); got != 1 {
		t.Errorf("listRecentIssues requests = %d, want 1", got)
	}
}

// TestWorkspaceAsksAtOnce: the workspace and its recent issues are asked
// for together, so a slow Linear costs one round trip: with Linear holding
// every request, both are in flight before either is answered.
func TestWorkspaceAsksAtOnce(t *testing.T) {
	t.Parallel()
	srv, c, _ := setup(t, fakelinear.APIKey)
	release := srv.Hold()
	defer release()
	done := make(chan error, 1)
	go func() { _, err := c.Workspace(context.Background()); done <- err }()
	deadline := time.Now().Add(5 * time.Second)
	for srv.InFlight() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in flight while Linear holds them, want 2 at once", srv.InFlight())
		}
		select {
		case err := <-done:
			t.Fatalf("Workspace returned while Linear held its requests: %v", err)
		case <-time.After(5 * time.Millisecond): // polling InFlight; nothing to wait on.
		}
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests(); len(got) != 2 {
		t.Errorf("%d requests, want getWorkspace and listRecentIssues", len(got))
	}
}

func TestTeams(t *testing.T) {
	srv, c, _ := setup(t, fakelinear.APIKey)
	srv.AddTeam(fakelinear.Team{ID: "t-aaa", Key: "AAA", Name: "alpha"})
	got, err := c.Teams(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []alert.Team{
		{ID: "t-aaa", Key: "AAA", Name: "alpha"},
		{ID: fakelinear.TeamEngID, Key: "ENG", Name: "Engineering"},
		{ID: fakelinear.TeamOpsID, Key: "OPS", Name: "Operations"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Teams (-want +got):\n%s", diff)
	}
}

func TestTeamsPaginates(t *testing.T) {
	srv, c, _ := setup(t, fakelinear.APIKey)
	for i := range 260 { // past one page of 250.
		srv.AddTeam(fakelinear.Team{ID: uuid.NewString(), Key: "T" + string(rune('A'+i%26)), Name: "team"})
	}
	got, err := c.Teams(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 262 {
		t.Errorf("Teams returned %d teams, want 262", len(got))
	}
	if n := srv.CountRequests("listTeams"); n != 2 {
		t.Errorf("listTeams requests = %d, want 2", n)
	}
}

func TestTeamMembers(t *testing.T) {
	tests := []struct {
		name    string
		teamID  string
		want    []alert.User
		wantErr error
	}{
		{
			name:   "active members only, by name",
			teamID: fakelinear.TeamEngID,
			want: []alert.User{
				{ID: fakelinear.UserAdaID, Name: "Ada Lovelace", DisplayName: "ada", Email: "ada@acme.test"},
				{ID: fakelinear.UserBobID, Name: "Bob Builder", DisplayName: "bob", Email: "bob@acme.test"},
			},
		},
		{
			name:   "other team",
			teamID: fakelinear.TeamOpsID,
			want: []alert.User{
				{ID: fakelinear.UserAdaID, Name: "Ada Lovelace", DisplayName: "ada", Email: "ada@acme.test"},
				{ID: fakelinear.UserCyID, Name: "Cy Twombly", DisplayName: "cy", Email: "cy@acme.test"},
			},
		},
		{name: "unknown team", teamID: uuid.NewString(), wantErr: alert.ErrInvalidInput},
		{name: "empty team id", teamID: "", wantErr: alert.ErrInvalidInput},
	}
	_, c, _ := setup(t, fakelinear.APIKey)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.TeamMembers(context.Background(), tt.teamID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("TeamMembers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	_, c, _ := setup(t, fakelinear.APIKey)
	ctx := context.Background()
	req := request("TypeError: boom")
	req.AssigneeID = fakelinear.UserBobID
	created, err := c.CreateIssue(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ref     string
		wantErr error
	}{
		{name: "uuid", ref: req.ID},
		{name: "identifier", ref: "ENG-1"},
		{name: "lower-case identifier", ref: "eng-1"},
		{name: "issue url", ref: created.URL},
		{name: "slack-wrapped url", ref: "<" + created.URL + ">"},
		{name: "unknown identifier", ref: "ENG-999", wantErr: alert.ErrNotFound},
		{name: "unknown uuid", ref: uuid.NewString(), wantErr: alert.ErrNotFound},
		{name: "garbage", ref: "not an issue", wantErr: alert.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Issue(ctx, tt.ref)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if diff := cmp.Diff(created, got); diff != "" {
				t.Errorf("Issue (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateIssue(t *testing.T) {
	srv, c, _ := setup(t, fakelinear.APIKey)
	ctx := context.Background()
	req := request("TypeError: Cannot read properties of undefined (reading 'id')")
	req.AssigneeID = fakelinear.UserBobID
	got, err := c.CreateIssue(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := alert.Issue{
		ID: req.ID, Identifier: "ENG-1", Title: req.Title,
		URL:       "https://linear.app/acme/issue/ENG-1/typeerror-cannot-read-properties-of-undefined-reading-id",
		StateName: "Backlog", StateType: "backlog", TeamID: fakelinear.TeamEngID, TeamKey: "ENG",
		AssigneeID: fakelinear.UserBobID, AssigneeName: "Bob Builder",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreateIssue (-want +got):\n%s", diff)
	}
	if n := srv.CountRequests(""); n != 1 {
		t.Errorf("a create took %d requests, want exactly 1", n)
	}
	stored, _ := srv.Issue(req.ID)
	if stored.Priority != int(alert.PriorityHigh) || stored.Description != req.Description {
		t.Errorf("stored priority %d description %q, want %d %q", stored.Priority, stored.Description, alert.PriorityHigh, req.Description)
	}
	atts := srv.Attachments(req.ID)
	wantAtt := []fakelinear.Attachment{{
		IssueID: req.ID, URL: req.Attachment.URL, Title: req.Attachment.Title, Subtitle: req.Attachment.Subtitle,
		Metadata: map[string]any{"errorId": "err-1", "eventCount": float64(3)},
	}}
	if diff := cmp.Diff(wantAtt, atts, ignoreAttachmentIDs); diff != "" {
		t.Errorf("attachments (-want +got):\n%s", diff)
	}
}

var ignoreAttachmentIDs = cmp.FilterPath(func(p cmp.Path) bool {
	f := p.Last().String()
	return f == ".ID" || f == ".CreatedAt"
}, cmp.Ignore())

func TestCreateIssueRefused(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*alert.IssueRequest)
		wantErr error
	}{
		{name: "unknown team", edit: func(r *alert.IssueRequest) { r.TeamID = uuid.NewString() }, wantErr: alert.ErrInvalidInput},
		{name: "unknown assignee", edit: func(r *alert.IssueRequest) { r.AssigneeID = uuid.NewString() }, wantErr: alert.ErrInvalidInput},
		{name: "deactivated assignee", edit: func(r *alert.IssueRequest) { r.AssigneeID = fakelinear.UserDeeID }, wantErr: alert.ErrInvalidInput},
		{name: "no id", edit: func(r *alert.IssueRequest) { r.ID = "" }, wantErr: alert.ErrInvalid},
		{name: "no attachment url", edit: func(r *alert.IssueRequest) { r.Attachment.URL = "" }, wantErr: alert.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := setup(t, fakelinear.APIKey)
			req := request("boom")
			tt.edit(&req)
			_, err := c.CreateIssue(context.Background(), req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var tmp *alert.TemporaryError
			if errors.As(err, &tmp) {
				t.Errorf("err = %v is temporary; a refusal must not be retried", err)
			}
			if n := len(srv.Issues()); n != 0 {
				t.Errorf("%d issues created, want 0", n)
			}
		})
	}
}

// TestCreateIssueRetryAfterLostResponse: the first attempt commits but its
// response is lost; the retry with the same id gets the same issue, and no
// second issue or attachment exists.
func TestCreateIssueRetryAfterLostResponse(t *testing.T) {
	srv, c, _ := setup(t, fakelinear.APIKey)
	ctx := context.Background()
	req := request("boom")
	srv.LoseResponseNext("createIssue")

	_, err := c.CreateIssue(ctx, req)
	var tmp *alert.TemporaryError
	if !errors.As(err, &tmp) || !errors.Is(err, alert.ErrUnavailable) {
		t.Fatalf("first attempt err = %v, want a temporary ErrUnavailable", err)
	}
	got, err := c.CreateIssue(ctx, req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got.ID != req.ID || got.Identifier != "ENG-1" {
		t.Errorf("retry returned %s %s, want %s ENG-1", got.ID, got.Identifier, req.ID)
	}
	if n := len(srv.Issues()); n != 1 {
		t.Errorf("%d issues exist, want 1", n)
	}
	if n := len(srv.Attachments(req.ID)); n != 1 {
		t.Errorf("%d attachments exist, want 1", n)
	}
	counts := map[string]int{}
	for _, op := range []string{"createIssue", "getIssue", "createAttachment"} {
		counts[op] = srv.CountRequests(op)
	}
	if diff := cmp.Diff(map[string]int{"createIssue": 2, "getIssue": 1, "createAttachment": 0}, counts); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// TestCreateIssueRetryAddsMissingAttachment: an issue that exists without
// the attachment (here: one for another URL) gets it on the retry.
func TestCreateIssueRetryAddsMissingAttachment(t *testing.T) {
	srv, c, _ := setup(t, fakelinear.APIKey)
	ctx := context.Background()
	req := request("boom")
	if _, err := c.CreateIssue(ctx, req); err != nil {
		t.Fatal(err)
	}
	req.Attachment.URL = "https://app.proliferate.test/errors/err-2"
	got, err := c.CreateIssue(ctx, req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got.ID != req.ID {
		t.Errorf("retry returned %s, want %s", got.ID, req.ID)
	}
	var urls []string
	for _, a := range srv.Attachments(req.ID) {
		urls = append(urls, a.URL)
	}
	want := []string{"https://app.proliferate.test/errors/err-1", "https://app.proliferate.test/errors/err-2"}
	if diff := cmp.Diff(want, urls); diff != "" {
		t.Errorf("attachment urls (-want +got):\n%s", diff)
	}
	if n := srv.CountRequests("createAttachment"); n != 1 {
		t.Errorf("createAttachment requests = %d, want 1", n)
	}
}

func TestBearerToken(t *testing.T) {
	srv := fakelinear.Seeded()
	defer srv.Close()
	srv.AddToken("oauth-token")
	hc := &http.Client{Transport: bearer("oauth-token")}
	c := linear.New(srv.URL(), hc, nil)
	if _, err := c.Teams(context.Background()); err != nil {
		t.Fatalf("with a valid token: %v", err)
	}
	srv.RevokeToken("oauth-token")
	if _, err := c.Teams(context.Background()); !errors.Is(err, alert.ErrUnauthorized) {
		t.Fatalf("with a revoked token: err = %v, want ErrUnauthorized", err)
	}
}

// bearer adds an OAuth-style header, as oauth2.Transport would.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// TestCreateAsUserOnlyForActorApp: Linear takes createAsUser and
// displayIconUrl only from OAuth apps in actor=app mode, so a personal API
// key client leaves them out.
func TestCreateAsUserOnlyForActorApp(t *testing.T) {
	for _, actorApp := range []bool{false, true} {
		t.Run(fmt.Sprintf("actor app %v", actorApp), func(t *testing.T) {
			srv, c, _ := setup(t, fakelinear.APIKey)
			c.ActorApp = actorApp
			req := request("boom")
			req.CreateAsUser, req.DisplayIconURL = "Ada (Slack)", "https://avatars.slack-edge.com/ada_72.png"
			if _, err := c.CreateIssue(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			var sent map[string]any
			for _, r := range srv.Requests() {
				if r.OperationName == "createIssue" {
					sent, _ = r.Variables["issue"].(map[string]any)
				}
			}
			_, hasName := sent["createAsUser"]
			_, hasIcon := sent["displayIconUrl"]
			if hasName != actorApp || hasIcon != actorApp {
				t.Errorf("issue input %v: createAsUser/displayIconUrl sent = %v/%v, want %v", sent, hasName, hasIcon, actorApp)
			}
			if actorApp && sent["createAsUser"] != req.CreateAsUser {
				t.Errorf("createAsUser = %v", sent["createAsUser"])
			}
		})
	}
}

// TestOperationInRequestContext: a RoundTripper under the client sees
// which GraphQL operation each request is, the name Linear gets as
// operationName (metrics label requests with it).
func TestOperationInRequestContext(t *testing.T) {
	srv := fakelinear.Seeded()
	defer srv.Close()
	var seen []string
	hc := &http.Client{Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey, Base: roundTrip(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, linear.Operation(r.Context()))
		return http.DefaultTransport.RoundTrip(r)
	})}}
	c := linear.New(srv.URL(), hc, nil)
	ctx := context.Background()
	if _, err := c.Teams(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateIssue(ctx, request("Boom")); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, r := range srv.Requests() {
		sent = append(sent, r.OperationName)
	}
	if !slices.Equal(seen, sent) || !slices.Equal(seen, []string{"listTeams", "createIssue"}) {
		t.Errorf("operations in the request contexts = %q, Linear got %q, want listTeams, createIssue", seen, sent)
	}
	if op := linear.Operation(ctx); op != "" {
		t.Errorf("Operation of a plain context = %q, want none", op)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
