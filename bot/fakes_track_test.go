package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// This file gives the in-memory fakes the methods of issue 4: links by
// issue, open links, attachments, search, batch reads and reopen.

func (s *memStore) LinksByIssue(_ context.Context, issueID string) ([]alert.IssueLink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alert.IssueLink
	for _, l := range s.links {
		if l.IssueID == issueID {
			out = append(out, l)
		}
	}
	return out, nil
}

func (s *memStore) OpenLinks(_ context.Context, after string, limit int) ([]alert.IssueLink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alert.IssueLink
	for _, l := range s.links {
		if !l.Closed() && l.IssueID > after {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b alert.IssueLink) int { return strings.Compare(a.IssueID, b.IssueID) })
	return out[:min(len(out), limit)], nil
}

// Jobs returns the queued Slack jobs.
func (s *memStore) Jobs() []alert.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]alert.Job(nil), s.jobs...)
}

// addIssue puts an existing issue into the fake Linear.
func (t *memTracker) addIssue(is alert.Issue) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.issues[is.ID] = is
}

func (t *memTracker) setMethodErr(method string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errs[method] = err
}

// wait holds a call while t.slow is open, as a slow Linear would.
func (t *memTracker) wait(ctx context.Context) error {
	t.mu.Lock()
	slow := t.slow
	t.mu.Unlock()
	if slow == nil {
		return nil
	}
	t.held.Add(1)
	select {
	case <-slow:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("linear: %w: %w", alert.ErrUnavailable, ctx.Err())
	}
}

func (t *memTracker) Attach(_ context.Context, issueID string, att alert.Attachment) error {
	if err := t.count("Attach"); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.issues[issueID]; !ok {
		return fmt.Errorf("attach to %s: %w", issueID, alert.ErrNotFound)
	}
	t.attachments[issueID] = append(t.attachments[issueID], att)
	return nil
}

// Attachments returns the attachments made to an issue.
func (t *memTracker) Attachments(issueID string) []alert.Attachment {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]alert.Attachment(nil), t.attachments[issueID]...)
}

func (t *memTracker) IssuesWithAttachment(_ context.Context, url string) ([]alert.Issue, error) {
	if err := t.count("IssuesWithAttachment"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []alert.Issue
	for id, atts := range t.attachments {
		for _, a := range atts {
			if a.URL == url {
				out = append(out, t.issues[id])
				break
			}
		}
	}
	return out, nil
}

// SearchIssues matches query against identifiers and titles, case-insensitively.
func (t *memTracker) SearchIssues(ctx context.Context, query string, limit int) ([]alert.Issue, error) {
	if err := t.wait(ctx); err != nil {
		return nil, err
	}
	if err := t.count("SearchIssues"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.searches = append(t.searches, query)
	q := strings.ToLower(query)
	var out []alert.Issue
	for _, is := range t.issues {
		if strings.Contains(strings.ToLower(is.Identifier+" "+is.Title), q) {
			out = append(out, is)
		}
	}
	slices.SortFunc(out, func(a, b alert.Issue) int { return strings.Compare(a.Identifier, b.Identifier) })
	return out[:min(len(out), limit)], nil
}

func (t *memTracker) IssuesByID(_ context.Context, ids []string) ([]alert.Issue, error) {
	if err := t.count("IssuesByID"); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []alert.Issue
	for _, id := range ids {
		if is, ok := t.issues[id]; ok {
			out = append(out, is)
		}
	}
	return out, nil
}

// Reopen moves the issue to "In Progress" (the first started state) and
// records the comment.
func (t *memTracker) Reopen(_ context.Context, issueID, comment string) (alert.Issue, error) {
	if err := t.count("Reopen"); err != nil {
		return alert.Issue{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	is, ok := t.issues[issueID]
	if !ok {
		return alert.Issue{}, fmt.Errorf("reopen %s: %w", issueID, alert.ErrNotFound)
	}
	is.StateName, is.StateType, is.ClosedAt = "In Progress", "started", time.Time{}
	t.issues[issueID] = is
	t.comments[issueID] = append(t.comments[issueID], comment)
	return is, nil
}

// Comments returns the comments added to an issue.
func (t *memTracker) Comments(issueID string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.comments[issueID]...)
}
