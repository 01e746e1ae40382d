package alert

import (
	"context"
	"strings"
	"time"
)

// Team is a Linear team.
type Team struct {
	ID   string
	Key  string // e.g. "ENG"; issue identifiers start with it.
	Name string
}

// User is a Linear user (a team member, a possible assignee).
type User struct {
	ID          string
	Name        string
	DisplayName string
	Email       string
}

// Label is how the user is shown in a select: display name, else name.
func (u User) Label() string {
	if u.DisplayName != "" && u.DisplayName != u.Name {
		return u.Name + " (" + u.DisplayName + ")"
	}
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// Issue is what the bot knows of a Linear issue.
type Issue struct {
	ID           string
	Identifier   string // e.g. "ENG-123".
	Title        string
	URL          string
	StateName    string
	StateType    string
	TeamID       string
	TeamKey      string
	AssigneeID   string
	AssigneeName string
	// ClosedAt is when the issue was completed or canceled (Linear's
	// completedAt / canceledAt); zero while it is open.
	ClosedAt time.Time
}

// Attachment is a Linear attachment: the link from an issue back to the
// Proliferate error (and, in its metadata, to the Slack thread).
type Attachment struct {
	URL      string
	Title    string
	Subtitle string
	Metadata map[string]any
}

// Priority is Linear's issue priority: 0 none, 1 urgent, 2 high, 3 medium, 4 low.
type Priority int

// Priorities, in Linear's numbering.
const (
	PriorityNone   Priority = 0
	PriorityUrgent Priority = 1
	PriorityHigh   Priority = 2
	PriorityMedium Priority = 3
	PriorityLow    Priority = 4
)

// Priorities lists the priorities in the order a menu shows them.
var Priorities = []Priority{PriorityNone, PriorityUrgent, PriorityHigh, PriorityMedium, PriorityLow}

// String is the priority's name as Linear shows it.
func (p Priority) String() string {
	switch p {
	case PriorityUrgent:
		return "Urgent"
	case PriorityHigh:
		return "High"
	case PriorityMedium:
		return "Medium"
	case PriorityLow:
		return "Low"
	}
	return "No priority"
}

// IssueRequest is everything needed to create an issue and, in the same
// GraphQL request, attach the Proliferate error to it.
type IssueRequest struct {
	// ID is the Creation ID (UUID v4), sent as IssueCreateInput.id.
	ID          string
	TeamID      string
	AssigneeID  string // optional.
	Title       string
	Description string // Markdown.
	Priority    Priority
	// LabelIDs are labels of the team or the workspace; ProjectID is a
	// project of the team. Both optional: Linear refuses others.
	LabelIDs  []string
	ProjectID string
	// CreateAsUser and DisplayIconURL show the issue in Linear as created
	// by this person (the Slack user who asked) on behalf of the app. Linear
	// accepts them only from OAuth apps in actor=app mode; other clients
	// leave them out.
	CreateAsUser   string
	DisplayIconURL string

	// Attachment points from the issue back to the error (URL: the
	// error's page in Proliferate; Metadata: the Slack thread and counters).
	Attachment Attachment
}

// Workspace describes the connected Linear workspace and user, for
// `/proliferate-linear test`.
type Workspace struct {
	UserName  string
	UserEmail string
	OrgID     string
	OrgName   string
	OrgURLKey string
	// PreviousURLKeys are URL keys the workspace had before a rename;
	// Linear still redirects them, so old issue URLs stay valid.
	PreviousURLKeys []string
	RecentIssues    []Issue
}

// HasURLKey reports whether key (case-insensitive) is the workspace's
// current or a previous URL key.
func (w Workspace) HasURLKey(key string) bool {
	if strings.EqualFold(key, w.OrgURLKey) {
		return true
	}
	for _, k := range w.PreviousURLKeys {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// Tracker is the Linear side as the core needs it. linear.Client implements
// it; every error it returns wraps one of the sentinel errors in errors.go
// where one applies, so callers can tell the user what to do.
type Tracker interface {
	Teams(ctx context.Context) ([]Team, error)
	TeamMembers(ctx context.Context, teamID string) ([]User, error)
	// CreateIssue creates the issue and its attachment in one request. When
	// an issue with req.ID already exists (an earlier attempt got through)
	// it returns that issue rather than an error.
	CreateIssue(ctx context.Context, req IssueRequest) (Issue, error)
	// Issue reads one issue by UUID or identifier; ErrNotFound if none.
	Issue(ctx context.Context, idOrIdentifier string) (Issue, error)
	Workspace(ctx context.Context) (Workspace, error)

	// Attach adds an attachment to an existing issue (attachmentCreate;
	// Linear updates the attachment when the issue already has one with the
	// same URL, so repeating it is safe).
	Attach(ctx context.Context, issueID string, att Attachment) error
	// IssuesWithAttachment returns the issues that carry an attachment
	// with url (attachmentsForURL): errors someone linked from elsewhere.
	IssuesWithAttachment(ctx context.Context, url string) ([]Issue, error)
	// SearchIssues finds issues by text (searchIssues), at most limit.
	// Linear allows it about 30 times a minute; callers debounce.
	SearchIssues(ctx context.Context, query string, limit int) ([]Issue, error)
	// IssuesByID reads up to 100 issues in ONE request
	// (issues(filter: {id: {in: ids}})); unknown ids are left out.
	IssuesByID(ctx context.Context, ids []string) ([]Issue, error)
	// Reopen moves an issue to its team's first "started" state (else the
	// first "unstarted") and adds comment (Markdown) to it, and returns the
	// issue as it now is.
	Reopen(ctx context.Context, issueID, comment string) (Issue, error)
}
