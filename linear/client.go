package linear

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Khan/genqlient/graphql"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/crashpoint"
)

// Endpoint is Linear's GraphQL endpoint.
const Endpoint = "https://api.linear.app/graphql"

// Client talks to Linear's GraphQL API and implements alert.Tracker. Build
// it with New; it is safe for concurrent use.
type Client struct {
	gql graphql.Client
	log *slog.Logger
	now func() time.Time
	// RecentIssues is how many issues Workspace lists; default 5.
	RecentIssues int
	// ActorApp says the token is an OAuth token granted with actor=app:
	// only then may issues carry createAsUser and displayIconUrl (Linear
	// refuses them from personal API keys). linear/oauth sets it.
	ActorApp bool
}

var _ alert.Tracker = (*Client)(nil)

// maxPages bounds pagination of teams and members (250 per page, Linear's
// maximum): a runaway cursor must not turn one click into a request storm.
const maxPages = 8

// New returns a Client for the GraphQL endpoint (Endpoint in production).
// hc carries the authentication in its Transport (APIKeyTransport or an
// oauth2.Transport) and should have a Timeout; nil means a client with no
// credentials and a 15 s timeout. log may be nil.
func New(endpoint string, hc *http.Client, log *slog.Logger) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		gql:          graphql.NewClient(endpoint, metaDoer{hc: hc}),
		log:          log,
		now:          time.Now,
		RecentIssues: 5,
	}
}

// call runs one generated operation and maps its error.
func (c *Client) call(ctx context.Context, op string, f func(context.Context) error) error {
	ctx, m := withMeta(withOperation(ctx, op))
	start := c.now()
	err := f(ctx)
	crashpoint.HitOp(crashpoint.LinearAnswered, op) // fault tests: Linear answered, the bot has not acted.
	if err == nil {
		c.log.DebugContext(ctx, "linear request", "op", op, "status", m.status, "elapsed", c.now().Sub(start))
		return nil
	}
	err = classify(ctx, op, err, m, c.now())
	c.log.WarnContext(ctx, "linear request failed", "op", op, "status", m.status, "err", err)
	return err
}

// Teams lists the workspace's teams, sorted by name.
func (c *Client) Teams(ctx context.Context) ([]alert.Team, error) {
	var teams []alert.Team
	var after string
	for range maxPages {
		var resp *listTeamsResponse
		err := c.call(ctx, "listTeams", func(ctx context.Context) (err error) {
			resp, err = listTeams(ctx, c.gql, after)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, t := range resp.Teams.Nodes {
			teams = append(teams, alert.Team{ID: t.Id, Key: t.Key, Name: t.Name})
		}
		if !resp.Teams.PageInfo.HasNextPage || resp.Teams.PageInfo.EndCursor == "" {
			break
		}
		after = resp.Teams.PageInfo.EndCursor
	}
	slices.SortStableFunc(teams, func(a, b alert.Team) int {
		return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return teams, nil
}

// TeamMembers lists the active members of a team (the possible assignees),
// sorted by name. An unknown team is alert.ErrInvalidInput.
func (c *Client) TeamMembers(ctx context.Context, teamID string) ([]alert.User, error) {
	if strings.TrimSpace(teamID) == "" {
		return nil, fmt.Errorf("linear team members: empty team id: %w", alert.ErrInvalidInput)
	}
	var users []alert.User
	var after string
	for range maxPages {
		var resp *listTeamMembersResponse
		err := c.call(ctx, "listTeamMembers", func(ctx context.Context) (err error) {
			resp, err = listTeamMembers(ctx, c.gql, teamID, after)
			return err
		})
		if err != nil {
			return nil, err
		}
		page := resp.Team.Members
		for _, u := range page.Nodes {
			if !u.Active { // the filter asks for active users; do not trust it blindly.
				continue
			}
			users = append(users, alert.User{ID: u.Id, Name: u.Name, DisplayName: u.DisplayName, Email: u.Email})
		}
		if !page.PageInfo.HasNextPage || page.PageInfo.EndCursor == "" {
			break
		}
		after = page.PageInfo.EndCursor
	}
	slices.SortStableFunc(users, func(a, b alert.User) int {
		return cmp.Compare(strings.ToLower(a.Label()), strings.ToLower(b.Label()))
	})
	return users, nil
}

// Issue reads one issue by UUID, identifier (ENG-123) or issue URL
// (https://linear.app/<workspace>/issue/ENG-123/...); alert.ErrNotFound if
// Linear has none.
func (c *Client) Issue(ctx context.Context, idOrIdentifier string) (alert.Issue, error) {
	ref, ok := parseIssueRef(idOrIdentifier)
	if !ok {
		return alert.Issue{}, fmt.Errorf("linear issue %q: not an id, identifier or issue URL: %w", idOrIdentifier, alert.ErrNotFound)
	}
	iss, err := c.getIssue(ctx, ref)
	if err != nil {
		return alert.Issue{}, err
	}
	return toIssue(&iss.issueFields), nil
}

// getIssue reads an issue with its attachments. Linear answers an unknown
// id with an "Entity not found" INVALID_INPUT error, which here is
// alert.ErrNotFound.
func (c *Client) getIssue(ctx context.Context, ref string) (*getIssueIssue, error) {
	var resp *getIssueResponse
	err := c.call(ctx, "getIssue", func(ctx context.Context) (err error) {
		resp, err = getIssue(ctx, c.gql, ref)
		return err
	})
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && errors.Is(apiErr.Kind, alert.ErrInvalidInput) {
			apiErr.Kind = alert.ErrNotFound
		}
		return nil, err
	}
	return &resp.Issue, nil
}

// Workspace describes the connected user and workspace with a few recently
// updated issues, for `/proliferate-linear test`, the Home tab and the
// start-up check. The two requests go at once: a slow Linear costs one
// round trip, not two.
func (c *Client) Workspace(ctx context.Context) (alert.Workspace, error) {
	var (
		recent    *listRecentIssuesResponse
		recentErr error
		wg        sync.WaitGroup
	)
	if c.RecentIssues > 0 {
		wg.Go(func() {
			recentErr = c.call(ctx, "listRecentIssues", func(ctx context.Context) (err error) {
				recent, err = listRecentIssues(ctx, c.gql, c.RecentIssues)
				return err
			})
		})
	}
	var who *getWorkspaceResponse
	err := c.call(ctx, "getWorkspace", func(ctx context.Context) (err error) {
		who, err = getWorkspace(ctx, c.gql)
		return err
	})
	wg.Wait()
	if err == nil {
		err = recentErr
	}
	if err != nil {
		return alert.Workspace{}, err
	}
	ws := alert.Workspace{
		UserName:  cmp.Or(who.Viewer.Name, who.Viewer.DisplayName),
		UserEmail: who.Viewer.Email,
		OrgID:     who.Organization.Id,
		OrgName:   who.Organization.Name,
		OrgURLKey: who.Organization.UrlKey,
	}
	if keys := who.Organization.PreviousUrlKeys; len(keys) > 0 {
		ws.PreviousURLKeys = keys
	}
	if recent != nil {
		for i := range recent.Issues.Nodes {
			ws.RecentIssues = append(ws.RecentIssues, toIssue(&recent.Issues.Nodes[i].issueFields))
		}
	}
	return ws, nil
}

func toIssue(f *issueFields) alert.Issue {
	return alert.Issue{
		ID:           f.Id,
		Identifier:   f.Identifier,
		Title:        f.Title,
		URL:          f.Url,
		StateName:    f.State.Name,
		StateType:    f.State.Type,
		TeamID:       f.Team.Id,
		TeamKey:      f.Team.Key,
		AssigneeID:   f.Assignee.Id,
		AssigneeName: f.Assignee.Name,
		ClosedAt:     closedAt(f.State.Type, f.CompletedAt, f.CanceledAt),
	}
}

// closedAt is when an issue in a state of type stateType was closed. Linear
// sets completedAt or canceledAt when an issue enters such a state and
// clears it when the issue leaves; the state type decides which one
// counts, so a stale timestamp on an open issue never reads as closed.
func closedAt(stateType string, completed, canceled time.Time) time.Time {
	switch stateType {
	case "completed":
		return cmp.Or(completed, canceled)
	case "canceled":
		return cmp.Or(canceled, completed)
	}
	return time.Time{}
}
