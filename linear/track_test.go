package linear_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// clock is a settable time source shared by the fake and the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// setupClock is setup with a fake clock starting at 12 Nov 2025 10:00 UTC.
func setupClock(t *testing.T) (*fakelinear.Server, *linear.Client, *clock, *bytes.Buffer) {
	t.Helper()
	clk := &clock{t: time.Date(2025, 11, 12, 10, 0, 0, 0, time.UTC)}
	srv := fakelinear.Seeded(fakelinear.WithClock(clk.now))
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}}
	return srv, linear.New(srv.URL(), hc, log), clk, &logs
}

// mustCreate creates an issue titled title whose attachment is errURL.
func mustCreate(t *testing.T, c *linear.Client, title, errURL string) alert.Issue {
	t.Helper()
	req := request(title)
	req.Description = "**" + title + "**\n\n" + alert.AutoCreatedSentence
	req.Attachment.URL = errURL
	iss, err := c.CreateIssue(context.Background(), req)
	if err != nil {
		t.Fatalf("create %q: %v", title, err)
	}
	return iss
}

func TestAttach(t *testing.T) {
	srv, c, _, _ := setupClock(t)
	iss := mustCreate(t, c, "TypeError: boom", "https://app.proliferate.test/errors/err-1")
	att := alert.Attachment{
		URL: "https://app.proliferate.test/errors/err-2", Title: "Proliferate: RangeError",
		Subtitle: "production · 9 events", Metadata: map[string]any{"errorId": "err-2", "slackThread": "https://slack.test/p1"},
	}
	tests := []struct {
		name     string
		issueID  string
		att      alert.Attachment
		fail     fakelinear.FailKind
		wantErr  error
		wantReqs int
	}{
		{name: "new attachment", issueID: iss.ID, att: att, wantReqs: 1},
		{name: "same url again updates, not duplicates", issueID: iss.ID, att: att, wantReqs: 1},
		{name: "by identifier", issueID: iss.Identifier, att: att, wantReqs: 1},
		{name: "unknown issue", issueID: uuid.NewString(), att: att, wantErr: alert.ErrNotFound, wantReqs: 1},
		{name: "no url", issueID: iss.ID, att: alert.Attachment{Title: "x"}, wantErr: alert.ErrInvalid},
		{name: "no issue", issueID: " ", att: att, wantErr: alert.ErrInvalid},
		{name: "forbidden", issueID: iss.ID, att: att, fail: fakelinear.Forbidden, wantErr: alert.ErrForbidden, wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != "" {
				srv.FailNext("createAttachment", 1, tt.fail)
			}
			before := srv.CountRequests("")
			err := c.Attach(context.Background(), tt.issueID, tt.att)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n := srv.CountRequests("") - before; n != tt.wantReqs {
				t.Errorf("requests = %d, want %d", n, tt.wantReqs)
			}
		})
	}
	want := []fakelinear.Attachment{
		{IssueID: iss.ID, URL: "https://app.proliferate.test/errors/err-1", Title: "Proliferate: TypeError: boom",
			Subtitle: "production · 3 events · 2 users", Metadata: map[string]any{"errorId": "err-1", "eventCount": float64(3)}},
		{IssueID: iss.ID, URL: att.URL, Title: att.Title, Subtitle: att.Subtitle, Metadata: att.Metadata},
	}
	if diff := cmp.Diff(want, srv.Attachments(iss.ID), ignoreAttachmentIDs); diff != "" {
		t.Errorf("attachments (-want +got):\n%s", diff)
	}
}

func TestIssuesWithAttachment(t *testing.T) {
	srv, c, _, _ := setupClock(t)
	const errURL = "https://app.proliferate.test/errors/err-7"
	a := mustCreate(t, c, "TypeError: a", errURL)
	b := mustCreate(t, c, "TypeError: b", "https://app.proliferate.test/errors/other")
	if err := c.Attach(context.Background(), b.ID, alert.Attachment{URL: errURL, Title: "linked from elsewhere"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		url     string
		fail    fakelinear.FailKind
		want    []alert.Issue
		wantErr error
	}{
		{name: "two issues carry it", url: errURL, want: []alert.Issue{a, b}},
		{name: "nobody attached it", url: "https://app.proliferate.test/errors/none"},
		{name: "empty url", url: "", wantErr: alert.ErrInvalid},
		{name: "token expired", url: errURL, fail: fakelinear.Unauthorized, wantErr: alert.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != "" {
				srv.FailNext("issuesForURL", 1, tt.fail)
			}
			got, err := c.IssuesWithAttachment(context.Background(), tt.url)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("issues (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSearchIssues(t *testing.T) {
	srv, c, clk, _ := setupClock(t)
	boom := mustCreate(t, c, "TypeError: boom in checkout", "https://app.proliferate.test/errors/1")
	clk.add(time.Minute)
	rng := mustCreate(t, c, "RangeError: out of range", "https://app.proliferate.test/errors/2")
	clk.add(time.Minute)
	other := mustCreate(t, c, "TypeError: other", "https://app.proliferate.test/errors/3")

	tests := []struct {
		name     string
		query    string
		limit    int
		fail     fakelinear.FailKind
		want     []alert.Issue
		wantErr  error
		wantReqs int
	}{
		{name: "title word, newest first", query: "typeerror", limit: 10, want: []alert.Issue{other, boom}, wantReqs: 1},
		{name: "limit", query: "TypeError", limit: 1, want: []alert.Issue{other}, wantReqs: 1},
		{name: "identifier", query: rng.Identifier, limit: 10, want: []alert.Issue{rng}, wantReqs: 1},
		{name: "description", query: "automatically created", limit: 10, want: []alert.Issue{other, rng, boom}, wantReqs: 1},
		{name: "no match", query: "nothing like it", limit: 10, wantReqs: 1},
		{name: "blank query asks nothing", query: "  ", limit: 10},
		{name: "zero limit asks nothing", query: "boom", limit: 0},
		{name: "rate limited", query: "boom", limit: 10, fail: fakelinear.RateLimited, wantErr: alert.ErrRateLimited, wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != "" {
				srv.FailNext("searchIssues", 1, tt.fail)
			}
			before := srv.CountRequests("searchIssues")
			got, err := c.SearchIssues(context.Background(), tt.query, tt.limit)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var tmp *alert.TemporaryError
			if tt.wantErr == alert.ErrRateLimited && !errors.As(err, &tmp) {
				t.Errorf("rate limit error %v is not temporary", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("issues (-want +got):\n%s", diff)
			}
			if n := srv.CountRequests("searchIssues") - before; n != tt.wantReqs {
				t.Errorf("searchIssues requests = %d, want %d", n, tt.wantReqs)
			}
		})
	}
}

func TestIssuesByID(t *testing.T) {
	srv, c, clk, _ := setupClock(t)
	var issues []alert.Issue
	for i := range 3 {
		issues = append(issues, mustCreate(t, c, fmt.Sprintf("Error %d", i), "https://app.proliferate.test/errors/x"))
	}
	clk.add(time.Hour)
	doneAt, canceledAt := clk.now(), clk.now().Add(time.Minute)
	if err := srv.SetIssueState(issues[1].ID, "Done"); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	if err := srv.SetIssueState(issues[2].ID, "Canceled"); err != nil {
		t.Fatal(err)
	}
	done, canceled := issues[1], issues[2]
	done.StateName, done.StateType, done.ClosedAt = "Done", "completed", doneAt
	canceled.StateName, canceled.StateType, canceled.ClosedAt = "Canceled", "canceled", canceledAt

	many := make([]string, linear.MaxIssuesByID+1)
	for i := range many {
		many[i] = uuid.NewString()
	}
	tests := []struct {
		name     string
		ids      []string
		fail     fakelinear.FailKind
		want     []alert.Issue
		wantErr  error
		wantReqs int
	}{
		{name: "open, completed, canceled and unknown", ids: []string{issues[0].ID, done.ID, canceled.ID, uuid.NewString()},
			want: []alert.Issue{issues[0], done, canceled}, wantReqs: 1},
		{name: "repeated ids read once", ids: []string{issues[0].ID, issues[0].ID}, want: []alert.Issue{issues[0]}, wantReqs: 1},
		{name: "exactly the maximum", ids: many[:linear.MaxIssuesByID], want: []alert.Issue{}, wantReqs: 1},
		{name: "none", ids: nil},
		{name: "too many", ids: many, wantErr: alert.ErrInvalid},
		{name: "server error", ids: []string{issues[0].ID}, fail: fakelinear.ServerError, wantErr: alert.ErrUnavailable, wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != "" {
				srv.FailNext("issuesByID", 1, tt.fail)
			}
			before := srv.CountRequests("")
			got, err := c.IssuesByID(context.Background(), tt.ids)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			byIdentifier := cmpopts.SortSlices(func(a, b alert.Issue) bool { return a.Identifier < b.Identifier })
			if diff := cmp.Diff(tt.want, got, byIdentifier); diff != "" {
				t.Errorf("issues (-want +got):\n%s", diff)
			}
			if n := srv.CountRequests("") - before; n != tt.wantReqs {
				t.Errorf("requests = %d, want %d", n, tt.wantReqs)
			}
		})
	}
}

func TestReopen(t *testing.T) {
	states := func(ss ...fakelinear.WorkflowState) []fakelinear.WorkflowState { return ss }
	tests := []struct {
		name      string
		states    []fakelinear.WorkflowState // nil: Linear's defaults.
		closeTo   string
		ref       func(alert.Issue) string
		fieldFail string // a root field made to fail inside the mutation.
		wantState string
		wantErr   error
		// wantMutations is how many reopenIssue requests went out.
		wantMutations int
		wantComments  int
	}{
		{name: "completed goes to first started", closeTo: "Done", wantState: "In Progress", wantMutations: 1, wantComments: 1},
		{name: "canceled, by identifier", closeTo: "Canceled", ref: func(i alert.Issue) string { return i.Identifier },
			wantState: "In Progress", wantMutations: 1, wantComments: 1},
		{name: "first started by position, not list order", states: states(
			fakelinear.WorkflowState{Name: "Review", Type: "started", Position: 3},
			fakelinear.WorkflowState{Name: "Todo", Type: "unstarted", Position: 1},
			fakelinear.WorkflowState{Name: "Doing", Type: "started", Position: 2},
			fakelinear.WorkflowState{Name: "Done", Type: "completed", Position: 4},
		), closeTo: "Done", wantState: "Doing", wantMutations: 1, wantComments: 1},
		{name: "no started state: first unstarted", states: states(
			fakelinear.WorkflowState{Name: "Backlog", Type: "backlog"},
			fakelinear.WorkflowState{Name: "Ready", Type: "unstarted"},
			fakelinear.WorkflowState{Name: "Shipped", Type: "completed"},
		), closeTo: "Shipped", wantState: "Ready", wantMutations: 1, wantComments: 1},
		{name: "neither started nor unstarted", states: states(
			fakelinear.WorkflowState{Name: "Backlog", Type: "backlog"},
			fakelinear.WorkflowState{Name: "Shipped", Type: "completed"},
		), closeTo: "Shipped", wantState: "Shipped", wantErr: alert.ErrInvalidInput},
		{name: "unknown issue", ref: func(alert.Issue) string { return uuid.NewString() }, closeTo: "Done",
			wantState: "Done", wantErr: alert.ErrNotFound},
		{name: "comment refused: still reopened", closeTo: "Done", fieldFail: "commentCreate",
			wantState: "In Progress", wantMutations: 1},
		{name: "update refused: nothing changes", closeTo: "Done", fieldFail: "issueUpdate",
			wantState: "Done", wantErr: alert.ErrInvalidInput, wantMutations: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, clk, logs := setupClock(t)
			teamID := fakelinear.TeamEngID
			if tt.states != nil {
				teamID = uuid.NewString()
				srv.AddTeam(fakelinear.Team{ID: teamID, Key: "WEB", Name: "Web", States: tt.states})
			}
			req := request("TypeError: back again")
			req.TeamID = teamID
			iss, err := c.CreateIssue(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.SetIssueState(iss.ID, tt.closeTo); err != nil {
				t.Fatal(err)
			}
			clk.add(time.Hour)
			if tt.fieldFail != "" {
				srv.FailNextField(tt.fieldFail, 1, fakelinear.InvalidInput)
			}
			ref := iss.ID
			if tt.ref != nil {
				ref = tt.ref(iss)
			}
			got, err := c.Reopen(context.Background(), ref, "The error is back.\n\n- **Events:** 12")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			stored, _ := srv.Issue(iss.ID)
			if stored.State.Name != tt.wantState {
				t.Errorf("state in Linear = %q, want %q", stored.State.Name, tt.wantState)
			}
			if tt.wantErr == nil {
				want := iss
				want.StateName, want.StateType = tt.wantState, stored.State.Type
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Reopen (-want +got):\n%s", diff)
				}
				if !stored.CompletedAt.IsZero() || !stored.CanceledAt.IsZero() {
					t.Errorf("reopened issue still has completedAt %v canceledAt %v", stored.CompletedAt, stored.CanceledAt)
				}
			}
			if n := srv.CountRequests("reopenIssue"); n != tt.wantMutations {
				t.Errorf("reopenIssue requests = %d, want %d", n, tt.wantMutations)
			}
			comments := srv.Comments(iss.ID)
			if len(comments) != tt.wantComments {
				t.Fatalf("comments = %d, want %d", len(comments), tt.wantComments)
			}
			if tt.wantComments > 0 && !strings.Contains(comments[0].Body, "**Events:** 12") {
				t.Errorf("comment body %q lacks the occurrence", comments[0].Body)
			}
			if tt.fieldFail == "commentCreate" && !strings.Contains(logs.String(), "comment failed") {
				t.Errorf("a lost comment was not logged:\n%s", logs)
			}
		})
	}
}

func TestReopenNeedsComment(t *testing.T) {
	srv, c, _, _ := setupClock(t)
	iss := mustCreate(t, c, "TypeError: x", "https://app.proliferate.test/errors/1")
	if _, err := c.Reopen(context.Background(), iss.ID, " "); !errors.Is(err, alert.ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
	if n := srv.CountRequests("") - 1; n != 0 {
		t.Errorf("an empty comment cost %d requests, want 0", n)
	}
}

func TestWorkspacePreviousURLKeys(t *testing.T) {
	srv, c, _, _ := setupClock(t)
	srv.SetPreviousURLKeys("acme-old", "acmeinc")
	c.RecentIssues = 0
	ws, err := c.Workspace(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"acme-old", "acmeinc"}, ws.PreviousURLKeys); diff != "" {
		t.Errorf("PreviousURLKeys (-want +got):\n%s", diff)
	}
	for _, key := range []string{"acme", "ACME-OLD", "acmeinc"} {
		if !ws.HasURLKey(key) {
			t.Errorf("HasURLKey(%q) = false, want true", key)
		}
	}
	if ws.HasURLKey("globex") {
		t.Error(`HasURLKey("globex") = true, want false`)
	}
}

// TestCachedPassesThrough: Cached over a real Client serves every Tracker
// method, and repeats of one search inside SearchCacheTTL cost one request.
func TestCachedPassesThrough(t *testing.T) {
	srv, c, _, _ := setupClock(t)
	cached := linear.NewCached(c, 0)
	ctx := context.Background()
	iss := mustCreate(t, c, "TypeError: cached", "https://app.proliferate.test/errors/c")
	for range 3 {
		got, err := cached.SearchIssues(ctx, "cached", 5)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]alert.Issue{iss}, got); diff != "" {
			t.Errorf("SearchIssues (-want +got):\n%s", diff)
		}
	}
	if n := srv.CountRequests("searchIssues"); n != 1 {
		t.Errorf("searchIssues requests = %d, want 1", n)
	}
	if err := cached.Attach(ctx, iss.ID, alert.Attachment{URL: "https://slack.test/archives/C1/p1", Title: "Slack thread"}); err != nil {
		t.Fatal(err)
	}
	withAtt, err := cached.IssuesWithAttachment(ctx, "https://slack.test/archives/C1/p1")
	if err != nil || len(withAtt) != 1 {
		t.Fatalf("IssuesWithAttachment = %v, %v; want the issue", withAtt, err)
	}
	byID, err := cached.IssuesByID(ctx, []string{iss.ID})
	if err != nil || len(byID) != 1 {
		t.Fatalf("IssuesByID = %v, %v; want the issue", byID, err)
	}
	if err := srv.SetIssueState(iss.ID, "Done"); err != nil {
		t.Fatal(err)
	}
	reopened, err := cached.Reopen(ctx, iss.ID, "back")
	if err != nil || reopened.StateType != "started" {
		t.Fatalf("Reopen = %+v, %v; want a started issue", reopened, err)
	}
}
