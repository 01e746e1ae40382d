package linear

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/proliferate/proliferate-linear/alert"
)

// MaxIssuesByID is how many issues IssuesByID reads in its one request. The
// operation asks for first: 100, well under Linear's page cap of 250
// (https://linear.app/developers/pagination), which keeps each poll's
// complexity cost modest.
const MaxIssuesByID = 100

// maxSearch caps SearchIssues' limit: one page of Linear's maximum size.
const maxSearch = 250

// Attach adds att to an existing issue with attachmentCreate. Linear keys
// attachments by (issue, url) and updates the one already there, so
// attaching the same error twice is safe. An unknown issue is
// alert.ErrNotFound.
func (c *Client) Attach(ctx context.Context, issueID string, att alert.Attachment) error {
	if strings.TrimSpace(issueID) == "" {
		return fmt.Errorf("linear attach: empty issue id: %w", alert.ErrInvalid)
	}
	in, err := attachmentCreateInput(issueID, att, att.URL)
	if err != nil {
		return fmt.Errorf("linear attach: %w", err)
	}
	return entityNotFound(c.createAttachment(ctx, in))
}

// IssuesWithAttachment returns the issues carrying an attachment whose url
// is url (Linear's attachmentsForURL), each once, in Linear's order.
func (c *Client) IssuesWithAttachment(ctx context.Context, url string) ([]alert.Issue, error) {
	if strings.TrimSpace(url) == "" {
		return nil, fmt.Errorf("linear issues with attachment: empty url: %w", alert.ErrInvalid)
	}
	var resp *issuesForURLResponse
	err := c.call(ctx, "issuesForURL", func(ctx context.Context) (err error) {
		resp, err = issuesForURL(ctx, c.gql, url)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []alert.Issue
	seen := map[string]bool{}
	for i := range resp.AttachmentsForURL.Nodes {
		f := &resp.AttachmentsForURL.Nodes[i].Issue.issueFields
		if f.Id == "" || seen[f.Id] {
			continue
		}
		seen[f.Id] = true
		out = append(out, toIssue(f))
	}
	return out, nil
}

// SearchIssues finds at most limit issues matching query with Linear's
// searchIssues. A blank query finds nothing without asking Linear: the
// endpoint is limited to 30 requests per minute, so none is spent on it.
func (c *Client) SearchIssues(ctx context.Context, query string, limit int) ([]alert.Issue, error) {
	query = strings.TrimSpace(query)
	if query == "" || limit <= 0 {
		return nil, nil
	}
	limit = min(limit, maxSearch)
	var resp *searchIssuesResponse
	err := c.call(ctx, "searchIssues", func(ctx context.Context) (err error) {
		resp, err = searchIssues(ctx, c.gql, query, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []alert.Issue
	for i := range resp.SearchIssues.Nodes {
		out = append(out, searchResultToIssue(&resp.SearchIssues.Nodes[i].searchResultFields))
	}
	return out, nil
}

// IssuesByID reads up to MaxIssuesByID issues (UUIDs) in one request;
// issues Linear does not return (deleted, archived, unknown) are left out.
// More ids than that is alert.ErrInvalid: the caller batches.
func (c *Client) IssuesByID(ctx context.Context, ids []string) ([]alert.Issue, error) {
	if len(ids) > MaxIssuesByID {
		return nil, fmt.Errorf("linear issues by id: %d ids, at most %d per request: %w", len(ids), MaxIssuesByID, alert.ErrInvalid)
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	ids = slices.DeleteFunc(ids, func(id string) bool { return strings.TrimSpace(id) == "" })
	if len(ids) == 0 {
		return nil, nil
	}
	var resp *issuesByIDResponse
	err := c.call(ctx, "issuesByID", func(ctx context.Context) (err error) {
		resp, err = issuesByID(ctx, c.gql, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]alert.Issue, 0, len(resp.Issues.Nodes))
	for i := range resp.Issues.Nodes {
		out = append(out, toIssue(&resp.Issues.Nodes[i].issueFields))
	}
	return out, nil
}

// Reopen moves an issue to its team's first "started" workflow state by
// position (else the first "unstarted") and comments on it, and returns the
// issue as it now is. It takes two requests: one reads the team's states,
// one carries issueUpdate and commentCreate together.
//
// When Linear moved the issue but refused the comment, the issue is read
// back and returned without an error (the warning is logged): the issue is
// open again, which is what the user asked for, and reporting a failure
// would invite a second reopen.
func (c *Client) Reopen(ctx context.Context, issueID, comment string) (alert.Issue, error) {
	if strings.TrimSpace(comment) == "" {
		return alert.Issue{}, fmt.Errorf("linear reopen %s: empty comment: %w", issueID, alert.ErrInvalid)
	}
	ref, ok := parseIssueRef(issueID)
	if !ok {
		return alert.Issue{}, fmt.Errorf("linear reopen %q: not an id or identifier: %w", issueID, alert.ErrNotFound)
	}
	var states *getIssueStatesResponse
	err := c.call(ctx, "getIssueStates", func(ctx context.Context) (err error) {
		states, err = getIssueStates(ctx, c.gql, ref)
		return err
	})
	if err != nil {
		return alert.Issue{}, notFound(err)
	}
	iss := states.Issue
	stateID, ok := reopenState(iss.Team.States.Nodes)
	if !ok {
		return alert.Issue{}, fmt.Errorf("linear reopen %s: team %s has no started or unstarted state: %w",
			iss.Identifier, iss.Team.Id, alert.ErrInvalidInput)
	}
	var resp *reopenIssueResponse
	err = c.call(ctx, "reopenIssue", func(ctx context.Context) (err error) {
		resp, err = reopenIssue(ctx, c.gql, iss.Id, stateID, CommentCreateInput{IssueId: iss.Id, Body: comment})
		return err
	})
	var apiErr *APIError
	switch {
	case err == nil:
		if !resp.IssueUpdate.Success || resp.IssueUpdate.Issue.Id == "" {
			return alert.Issue{}, fmt.Errorf("linear reopenIssue: issueUpdate reported no success: %w", alert.ErrUnavailable)
		}
		if !resp.CommentCreate.Success {
			c.log.WarnContext(ctx, "linear reopen comment not created", "issue", iss.Identifier)
		}
		return toIssue(&resp.IssueUpdate.Issue.issueFields), nil
	case errors.As(err, &apiErr) && apiErr.graphql && strings.HasPrefix(apiErr.Path, "commentCreate"):
		// Mutation fields run in order and the first failure stops the
		// rest, so an error at commentCreate means issueUpdate went through.
		c.log.WarnContext(ctx, "linear reopen comment failed; issue was reopened", "issue", iss.Identifier, "err", err)
		now, rerr := c.getIssue(ctx, iss.Id)
		if rerr != nil {
			return alert.Issue{}, fmt.Errorf("linear reopen %s: read back after %w: %w", iss.Identifier, err, rerr)
		}
		return toIssue(&now.issueFields), nil
	default:
		return alert.Issue{}, entityNotFound(err)
	}
}

// reopenState picks where a reopened issue goes: the first "started" state
// by position, else the first "unstarted" one.
func reopenState(states []getIssueStatesIssueTeamStatesWorkflowStateConnectionNodesWorkflowState) (string, bool) {
	states = slices.Clone(states)
	slices.SortStableFunc(states, func(a, b getIssueStatesIssueTeamStatesWorkflowStateConnectionNodesWorkflowState) int {
		return cmp.Compare(a.Position, b.Position)
	})
	for _, typ := range []string{"started", "unstarted"} {
		for _, st := range states {
			if st.Type == typ {
				return st.Id, true
			}
		}
	}
	return "", false
}

// notFound maps Linear's answer to an unknown issue id (INVALID_INPUT,
// "Entity not found") to alert.ErrNotFound, as getIssue does.
func notFound(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && errors.Is(apiErr.Kind, alert.ErrInvalidInput) {
		apiErr.Kind = alert.ErrNotFound
	}
	return err
}

// entityNotFound maps only an explicit "Entity not found" refusal to
// alert.ErrNotFound, for mutations whose other INVALID_INPUT answers (a bad
// url, an empty title) are really about the input.
func entityNotFound(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && strings.HasPrefix(strings.ToLower(apiErr.Message), "entity not found") {
		apiErr.Kind = alert.ErrNotFound
	}
	return err
}

func searchResultToIssue(f *searchResultFields) alert.Issue {
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
