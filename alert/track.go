package alert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proliferate/proliferate-linear/alert/issueref"
)

// ErrOtherWorkspace: the issue URL names a Linear workspace other than the
// connected one.
var ErrOtherWorkspace = errors.New("issue is in another linear workspace")

// LinkRequest is a user's intent to attach an error to an existing issue.
type LinkRequest struct {
	AlertID   int64
	Ref       issueref.Ref // parsed by the adapter, which shows parse errors inline.
	SlackUser string
}

// LinkExisting attaches the alert's error to an existing Linear issue: the
// issue is read (ErrNotFound if it does not exist, ErrOtherWorkspace if its
// URL is another workspace's), the Proliferate error is attached to it in
// Linear, the link is recorded, and the thread is told. Linking again to
// the same issue is harmless; linking to another issue replaces the link.
func (s *Service) LinkExisting(ctx context.Context, req LinkRequest) (IssueLink, error) {
	if s.tracker == nil {
		return IssueLink{}, ErrNotConnected
	}
	a, err := s.store.Alert(ctx, req.AlertID)
	if err != nil {
		return IssueLink{}, fmt.Errorf("alert %d: %w", req.AlertID, err)
	}
	issue, err := s.CheckLink(ctx, req)
	if err != nil {
		return IssueLink{}, err
	}
	if err := s.tracker.Attach(ctx, issue.ID, s.attachment(a)); err != nil {
		return IssueLink{}, fmt.Errorf("attach error to %s: %w", issue.Identifier, err)
	}
	link := s.newLink(a, issue, req.SlackUser, LinkLinked)
	note := LinkedNote(link, req.SlackUser)
	// Re-linking the same issue keeps who linked or created it first; the
	// background lookup may have found the issue a moment ago (through the
	// attachment this very link made), and then the person who asked is
	// the one to credit, and told.
	if old, err := s.store.Link(ctx, a.ErrorID); err == nil && old.IssueID == issue.ID && old.CreatedBy != CreatedByLinear {
		link.CreatedAt, link.CreatedBy, link.Kind = old.CreatedAt, old.CreatedBy, old.Kind
		// Linked to this issue already: a second run of the same
		// submission (a crash after it was recorded) or a repeat says
		// nothing new in the thread.
		note = Note{}
	}
	jobs, err := s.linkJobs(ctx, a, note)
	if err != nil {
		return IssueLink{}, err
	}
	if err := s.store.SaveLink(ctx, link, jobs...); err != nil {
		return IssueLink{}, fmt.Errorf("record link %s: %w", issue.Identifier, err)
	}
	s.notify()
	s.log.InfoContext(ctx, "error linked to existing issue", "alert_id", a.ID, "error_id", a.ErrorID, "issue", issue.Identifier)
	return link, nil
}

// CheckLink reads the issue a link request names, changing nothing:
// ErrOtherWorkspace if its URL is another workspace's, ErrNotFound if
// Linear has no such issue. The Slack adapter calls it before it stores the
// submission, so a bad reference is shown under the input.
func (s *Service) CheckLink(ctx context.Context, req LinkRequest) (Issue, error) {
	if s.tracker == nil {
		return Issue{}, ErrNotConnected
	}
	if req.Ref.WorkspaceURLKey != "" {
		ws, err := s.tracker.Workspace(ctx)
		if err != nil {
			return Issue{}, fmt.Errorf("read workspace: %w", err)
		}
		if !ws.HasURLKey(req.Ref.WorkspaceURLKey) {
			return Issue{}, fmt.Errorf("%s is in workspace %q, connected is %q: %w",
				req.Ref, req.Ref.WorkspaceURLKey, ws.OrgURLKey, ErrOtherWorkspace)
		}
	}
	issue, err := s.tracker.Issue(ctx, req.Ref.Lookup())
	if err != nil {
		return Issue{}, fmt.Errorf("read issue %s: %w", req.Ref, err)
	}
	return issue, nil
}

// findExisting looks in Linear for an issue someone already attached the
// error to (from elsewhere than this bot) and records it. ok is false when
// there is none. The issue with id ownID, if any, is the caller's own
// earlier attempt (its response was lost): it is not someone else's issue,
// and the create path reads it back itself.
func (s *Service) findExisting(ctx context.Context, a Alert, ownID string) (IssueLink, bool, error) {
	if a.URL == "" {
		return IssueLink{}, false, nil
	}
	issues, err := s.tracker.IssuesWithAttachment(ctx, a.URL)
	if err != nil {
		return IssueLink{}, false, fmt.Errorf("look for issues attached to %s: %w", a.ErrorID, err)
	}
	// Prefer an open issue; a closed one is still the error's history.
	var pick *Issue
	for i := range issues {
		if issues[i].ID == ownID {
			continue
		}
		// Any creation's issue is the bot's own (its create may still be
		// under way, or its answer lost): the create path records it.
		if _, err := s.store.CreationByID(ctx, issues[i].ID); err == nil {
			continue
		} else if !errors.Is(err, ErrNotFound) {
			return IssueLink{}, false, fmt.Errorf("creation %s: %w", issues[i].ID, err)
		}
		if pick == nil || (closedType(pick.StateType) && !closedType(issues[i].StateType)) {
			pick = &issues[i]
		}
	}
	if pick == nil {
		return IssueLink{}, false, nil
	}
	link := s.newLink(a, *pick, CreatedByLinear, LinkLinked)
	jobs, err := s.linkJobs(ctx, a, Note{})
	if err != nil {
		return IssueLink{}, false, err
	}
	if err := s.store.AddLink(ctx, link, jobs...); errors.Is(err, ErrConflict) {
		// Linked meanwhile (a person, or the create that asked): theirs stands.
		cur, lerr := s.store.Link(ctx, a.ErrorID)
		return cur, lerr == nil, lerr
	} else if err != nil {
		return IssueLink{}, false, fmt.Errorf("record found link: %w", err)
	}
	s.notify()
	return link, true, nil
}

// IssueChanged applies the current state of a Linear issue (from a webhook
// or the poller) to every link that points at it, refreshes the Slack
// messages that show it, and notes meaningful transitions (started,
// completed, canceled) in the thread. Applying the same state twice changes
// nothing, so webhooks and the poller may both deliver it.
func (s *Service) IssueChanged(ctx context.Context, issue Issue) error {
	links, err := s.store.LinksByIssue(ctx, issue.ID)
	if err != nil {
		return fmt.Errorf("links of %s: %w", issue.ID, err)
	}
	for _, old := range links {
		l := old
		l.Identifier, l.Title, l.URL = or(issue.Identifier, l.Identifier), or(issue.Title, l.Title), or(issue.URL, l.URL)
		l.StateName, l.StateType = or(issue.StateName, l.StateName), or(issue.StateType, l.StateType)
		l.TeamID, l.TeamKey = or(issue.TeamID, l.TeamID), or(issue.TeamKey, l.TeamKey)
		l.AssigneeID, l.AssigneeName = issue.AssigneeID, issue.AssigneeName
		if closedType(l.StateType) {
			l.ClosedAt = issue.ClosedAt
			if l.ClosedAt.IsZero() {
				l.ClosedAt = or(old.ClosedAt, s.now().UTC())
			}
		} else {
			l.ClosedAt, l.RegressedAt = time.Time{}, time.Time{}
		}
		if sameShown(old, l) {
			continue
		}
		l.UpdatedAt = s.now().UTC()
		alerts, err := s.store.AlertsByError(ctx, l.ErrorID)
		if err != nil {
			return fmt.Errorf("alerts of %s: %w", l.ErrorID, err)
		}
		var jobs []Job
		for _, a := range alerts {
			jobs = append(jobs, RenderJob(a.ID))
			if note, ok := transitionNote(old, l); ok && a.MessageTS != "" {
				jobs = append(jobs, NoteJob(a.ID, note))
			}
		}
		if err := s.store.SaveLink(ctx, l, jobs...); err != nil {
			return fmt.Errorf("update link %s: %w", l.Identifier, err)
		}
		s.log.InfoContext(ctx, "linked issue changed", "error_id", l.ErrorID, "issue", l.Identifier,
			"state", l.StateName, "was", old.StateName)
	}
	s.notify()
	return nil
}

// sameShown reports whether two versions of a link look the same in Slack.
func sameShown(a, b IssueLink) bool {
	return a.Identifier == b.Identifier && a.Title == b.Title && a.URL == b.URL &&
		a.StateName == b.StateName && a.StateType == b.StateType && a.TeamKey == b.TeamKey &&
		a.AssigneeID == b.AssigneeID && a.AssigneeName == b.AssigneeName && a.ClosedAt.Equal(b.ClosedAt)
}

// transitionNote is the thread note for a state change worth a message:
// work started, done, or dropped. Other edits only refresh the alert.
func transitionNote(old, cur IssueLink) (Note, bool) {
	if old.StateType == cur.StateType {
		return Note{}, false
	}
	switch cur.StateType {
	case "started", "completed", "canceled":
		return Note{Kind: NoteStateChanged, Issue: noteIssue(cur)}, true
	}
	return Note{}, false
}

// RefreshLinks is the poller's pass for workspaces no webhook reaches: it
// reads every open linked issue, batch at a time (one Linear request per
// batch), and applies what changed. It returns how many issues it read.
func (s *Service) RefreshLinks(ctx context.Context, batch int) (int, error) {
	if s.tracker == nil {
		return 0, ErrNotConnected
	}
	batch = min(max(batch, 1), 100)
	read, after := 0, ""
	for {
		links, err := s.store.OpenLinks(ctx, after, batch)
		if err != nil {
			return read, fmt.Errorf("open links: %w", err)
		}
		if len(links) == 0 {
			return read, nil
		}
		var ids []string
		for _, l := range links {
			if len(ids) == 0 || ids[len(ids)-1] != l.IssueID {
				ids = append(ids, l.IssueID)
			}
		}
		after = links[len(links)-1].IssueID
		issues, err := s.tracker.IssuesByID(ctx, ids)
		if err != nil {
			return read, fmt.Errorf("read %d issues: %w", len(ids), err)
		}
		read += len(issues)
		for _, is := range issues {
			if err := s.IssueChanged(ctx, is); err != nil {
				return read, err
			}
		}
		if len(links) < batch {
			return read, nil
		}
	}
}

// Reopen moves the closed issue of an alert's error back to work, with a
// comment carrying the new occurrence, and records its new state.
func (s *Service) Reopen(ctx context.Context, alertID int64, slackUser string) (IssueLink, error) {
	if s.tracker == nil {
		return IssueLink{}, ErrNotConnected
	}
	a, err := s.store.Alert(ctx, alertID)
	if err != nil {
		return IssueLink{}, fmt.Errorf("alert %d: %w", alertID, err)
	}
	link, err := s.store.Link(ctx, a.ErrorID)
	if err != nil {
		return IssueLink{}, fmt.Errorf("link of %s: %w", a.ErrorID, err)
	}
	if !link.Closed() {
		return link, nil // already open: nothing to do, twice-clicked.
	}
	// Linear first: a second run of this reopen (a crash after Linear
	// moved the issue, before the link was updated) or someone who reopened
	// it in Linear meanwhile must not get a second comment.
	if cur, err := s.tracker.Issue(ctx, link.IssueID); err != nil {
		return IssueLink{}, fmt.Errorf("read %s: %w", link.Identifier, err)
	} else if !closedType(cur.StateType) {
		if err := s.IssueChanged(ctx, cur); err != nil {
			return IssueLink{}, err
		}
		return s.store.Link(ctx, a.ErrorID)
	}
	issue, err := s.tracker.Reopen(ctx, link.IssueID, reopenComment(a, slackUser))
	if err != nil {
		return IssueLink{}, fmt.Errorf("reopen %s: %w", link.Identifier, err)
	}
	if err := s.IssueChanged(ctx, issue); err != nil {
		return IssueLink{}, err
	}
	return s.store.Link(ctx, a.ErrorID)
}

func reopenComment(a Alert, slackUser string) string {
	var b strings.Builder
	b.WriteString("The error is back, so this issue was reopened from Slack")
	if slackUser != "" {
		b.WriteString(" (by a Slack user)")
	}
	fmt.Fprintf(&b, ".\n\n- **Last seen:** %s\n- **Events:** %d\n- **Users affected:** %d\n",
		formatTime(a.LastSeen), a.EventCount, a.UsersAffected)
	if a.Release != "" {
		fmt.Fprintf(&b, "- **Release:** %s\n", a.Release)
	}
	if a.URL != "" {
		fmt.Fprintf(&b, "\n[View the error in Proliferate](%s)\n", a.URL)
	}
	return b.String()
}

// noteRegression tells the thread, once per regression, that an error
// whose issue was closed is back.
//
// found is the error's link as a's accept saw it (nil: none): the store
// returns it with the accepted alert, so an alert costs no second read.
func (s *Service) noteRegression(ctx context.Context, a Alert, found *IssueLink) error {
	if found == nil || !found.Closed() || !found.RegressedAt.IsZero() {
		return nil
	}
	link := *found
	link.RegressedAt = s.now().UTC()
	if err := s.store.SaveLink(ctx, link, NoteJob(a.ID, RegressionNote(link)), RenderJob(a.ID)); err != nil {
		return err
	}
	s.notify()
	return nil
}

func (s *Service) newLink(a Alert, issue Issue, by string, kind LinkKind) IssueLink {
	now := s.now().UTC()
	l := IssueLink{
		ErrorID: a.ErrorID, IssueID: issue.ID, Identifier: issue.Identifier, Title: issue.Title, URL: issue.URL,
		StateName: issue.StateName, StateType: issue.StateType, TeamID: issue.TeamID, TeamKey: issue.TeamKey,
		AssigneeID: issue.AssigneeID, AssigneeName: issue.AssigneeName, ClosedAt: issue.ClosedAt,
		CreatedBy: by, Kind: kind, CreatedAt: now, UpdatedAt: now,
	}
	if closedType(l.StateType) && l.ClosedAt.IsZero() {
		l.ClosedAt = now
	}
	return l
}

func (s *Service) attachment(a Alert) Attachment {
	prefix := "Proliferate: "
	if a.FromSlackMessage() {
		prefix = "Slack message: " // a.URL is the message's permalink.
	}
	return Attachment{
		URL:      a.URL,
		Title:    prefix + truncateRunes(a.Title(), 200),
		Subtitle: attachmentSubtitle(a),
		Metadata: s.attachmentMetadata(a),
	}
}

func closedType(t string) bool { return t == "completed" || t == "canceled" }

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
