package linear

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/proliferate/proliferate-linear/alert"
)

// A team's labels and projects, which a routing rule may name; saving a
// rule checks them (alert.TeamCatalog).

var (
	_ alert.TeamCatalog = (*Client)(nil)
	_ alert.TeamCatalog = (*Cached)(nil)
)

// TeamLabels lists the labels an issue of the team may carry, sorted by
// name: the team's own and the workspace's (a label whose team is null).
// Group labels, which only hold other labels and cannot be applied, are
// left out.
func (c *Client) TeamLabels(ctx context.Context, teamID string) ([]alert.Label, error) {
	if strings.TrimSpace(teamID) == "" {
		return nil, fmt.Errorf("linear team labels: empty team id: %w", alert.ErrInvalidInput)
	}
	var out []alert.Label
	var after string
	for range maxPages {
		var resp *listTeamLabelsResponse
		err := c.call(ctx, "listTeamLabels", func(ctx context.Context) (err error) {
			resp, err = listTeamLabels(ctx, c.gql, teamID, after)
			return err
		})
		if err != nil {
			return nil, err
		}
		page := resp.IssueLabels
		for _, l := range page.Nodes {
			if l.IsGroup {
				continue
			}
			out = append(out, alert.Label{ID: l.Id, Name: l.Name, Workspace: l.Team.Id == ""})
		}
		if !page.PageInfo.HasNextPage || page.PageInfo.EndCursor == "" {
			break
		}
		after = page.PageInfo.EndCursor
	}
	slices.SortStableFunc(out, func(a, b alert.Label) int { return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out, nil
}

// TeamProjects lists the team's projects, sorted by name.
func (c *Client) TeamProjects(ctx context.Context, teamID string) ([]alert.Project, error) {
	if strings.TrimSpace(teamID) == "" {
		return nil, fmt.Errorf("linear team projects: empty team id: %w", alert.ErrInvalidInput)
	}
	var out []alert.Project
	var after string
	for range maxPages {
		var resp *listTeamProjectsResponse
		err := c.call(ctx, "listTeamProjects", func(ctx context.Context) (err error) {
			resp, err = listTeamProjects(ctx, c.gql, teamID, after)
			return err
		})
		if err != nil {
			return nil, err
		}
		page := resp.Team.Projects
		for _, p := range page.Nodes {
			out = append(out, alert.Project{ID: p.Id, Name: p.Name})
		}
		if !page.PageInfo.HasNextPage || page.PageInfo.EndCursor == "" {
			break
		}
		after = page.PageInfo.EndCursor
	}
	slices.SortStableFunc(out, func(a, b alert.Project) int { return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out, nil
}

// errNoCatalog is returned when the wrapped Tracker cannot list labels and
// projects.
func errNoCatalog(what string) error {
	return fmt.Errorf("linear %s: this client cannot list them: %w", what, alert.ErrInvalid)
}

// TeamLabels passes through, uncached: a rule is saved rarely, and should
// be checked against the labels as they are.
func (c *Cached) TeamLabels(ctx context.Context, teamID string) ([]alert.Label, error) {
	cat, ok := c.Tracker.(alert.TeamCatalog)
	if !ok {
		return nil, errNoCatalog("team labels")
	}
	return cat.TeamLabels(ctx, teamID)
}

// TeamProjects passes through, uncached (see TeamLabels).
func (c *Cached) TeamProjects(ctx context.Context, teamID string) ([]alert.Project, error) {
	cat, ok := c.Tracker.(alert.TeamCatalog)
	if !ok {
		return nil, errNoCatalog("team projects")
	}
	return cat.TeamProjects(ctx, teamID)
}
