package fakelinear

import (
	"time"
)

// User is a Linear user. The zero Deactivated means active: Linear's
// User.active is true for all but suspended or removed users.
type User struct {
	ID          string
	Name        string
	DisplayName string
	Email       string
	Deactivated bool
}

// WorkflowState is one of a team's issue states. Type is Linear's
// WorkflowState.type: triage, backlog, unstarted, started, completed,
// canceled. Position orders the states in the team's board; when every
// state of a team has Position 0, their order in Team.States counts.
type WorkflowState struct {
	ID       string
	Name     string
	Type     string
	Position float64
}

// Team is a Linear team. States nil means DefaultStates.
type Team struct {
	ID     string
	Key    string
	Name   string
	States []WorkflowState
}

// Issue is an issue as the fake stores it.
type Issue struct {
	ID          string
	Identifier  string
	Number      int
	Title       string
	Description string
	Priority    int
	// LabelIDs and ProjectID are what issueCreate was given (labelIds,
	// projectId), checked as Linear checks them.
	LabelIDs   []string
	ProjectID  string
	URL        string
	TeamID     string
	AssigneeID string
	State      WorkflowState
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// CompletedAt and CanceledAt are set when the issue enters a
	// completed or canceled state and cleared when it leaves, as Linear does.
	CompletedAt time.Time
	CanceledAt  time.Time
}

// Attachment is an issue attachment as attachmentCreate recorded it.
type Attachment struct {
	ID        string
	IssueID   string
	URL       string
	Title     string
	Subtitle  string
	Metadata  map[string]any
	CreatedAt time.Time
}

// Request is one request the server received.
type Request struct {
	OperationName string
	Query         string
	Variables     map[string]any
	// Auth says how the request authenticated, never the credential:
	// "api-key", "bearer", "invalid" or "" (none).
	Auth string
	At   time.Time
}

// FailKind is a failure FailNext injects, each answered in Linear's shape.
type FailKind string

// Failure kinds.
const (
	// Unauthorized: HTTP 401, AUTHENTICATION_ERROR (an expired token).
	Unauthorized FailKind = "unauthorized"
	// Forbidden: HTTP 403, FORBIDDEN (a missing permission or scope).
	Forbidden FailKind = "forbidden"
	// InvalidInput: HTTP 400, INVALID_INPUT "Argument Validation Error".
	InvalidInput FailKind = "invalid_input"
	// RateLimited: HTTP 400, RATELIMITED, X-RateLimit-Requests-Remaining 0
	// and X-RateLimit-Requests-Reset 30 s ahead, as Linear answers.
	RateLimited FailKind = "ratelimited"
	// ServerError: HTTP 500, INTERNAL_ERROR.
	ServerError FailKind = "server_error"
)

// APIKey is the personal API key the server accepts, sent the way Linear
// wants it: `Authorization: lin_api_fake_key` (no "Bearer").
const APIKey = "lin_api_fake_key"

// Identifiers of the seeded workspace (see Seed).
const (
	OrgID      = "5c1f6a3e-0000-4000-8000-000000000001"
	TeamEngID  = "5c1f6a3e-0000-4000-8000-0000000000e1"
	TeamOpsID  = "5c1f6a3e-0000-4000-8000-0000000000e2"
	UserAdaID  = "5c1f6a3e-0000-4000-8000-0000000000a1" // the viewer; in ENG and OPS.
	UserBobID  = "5c1f6a3e-0000-4000-8000-0000000000a2" // in ENG.
	UserCyID   = "5c1f6a3e-0000-4000-8000-0000000000a3" // in OPS.
	UserDeeID  = "5c1f6a3e-0000-4000-8000-0000000000a4" // in ENG, deactivated.
	seedPrefix = "5c1f6a3e-0000-4000-8000-"
)

// DefaultStates are the workflow states Linear gives a new team.
func DefaultStates() []WorkflowState {
	return []WorkflowState{
		{Name: "Backlog", Type: "backlog"},
		{Name: "Todo", Type: "unstarted"},
		{Name: "In Progress", Type: "started"},
		{Name: "Done", Type: "completed"},
		{Name: "Canceled", Type: "canceled"},
	}
}

// Seed fills the server with a ready workspace: organization "Acme"
// (urlKey "acme"), the viewer Ada, teams ENG "Engineering" and OPS
// "Operations" with the default workflow states, a few members, labels
// (ENG: Bug, backend, timeout, needs-investigation; OPS: incident; the
// workspace: customer-reported) and projects (ENG: Q3 Reliability; OPS:
// On-call).
func (s *Server) Seed() {
	s.SetOrganization(OrgID, "Acme", "acme")
	s.SetViewer(User{ID: UserAdaID, Name: "Ada Lovelace", DisplayName: "ada", Email: "ada@acme.test"})
	s.AddUser(User{ID: UserBobID, Name: "Bob Builder", DisplayName: "bob", Email: "bob@acme.test"})
	s.AddUser(User{ID: UserCyID, Name: "Cy Twombly", DisplayName: "cy", Email: "cy@acme.test"})
	s.AddUser(User{ID: UserDeeID, Name: "Dee Parted", DisplayName: "dee", Email: "dee@acme.test", Deactivated: true})
	s.AddTeam(Team{ID: TeamEngID, Key: "ENG", Name: "Engineering"})
	s.AddTeam(Team{ID: TeamOpsID, Key: "OPS", Name: "Operations"})
	for _, m := range [][2]string{{TeamEngID, UserAdaID}, {TeamEngID, UserBobID}, {TeamEngID, UserDeeID},
		{TeamOpsID, UserAdaID}, {TeamOpsID, UserCyID}} {
		s.AddMember(m[0], m[1])
	}
	for _, l := range []string{"Bug", "backend", "timeout", "needs-investigation"} {
		s.AddLabel(TeamEngID, l)
	}
	s.AddLabel(TeamOpsID, "incident")
	s.AddWorkspaceLabel("customer-reported")
	s.AddProject(TeamEngID, "Q3 Reliability")
	s.AddProject(TeamOpsID, "On-call")
}
