package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// Event types and actions the bot acts on. Linear sends many more types
// (Comment, Project, …); they verify and parse with Issue == nil.
const (
	TypeIssue    = "Issue"
	TypeOAuthApp = "OAuthApp"

	ActionCreate  = "create"
	ActionUpdate  = "update"
	ActionRemove  = "remove"
	ActionRevoked = "revoked" // OAuthApp: a workspace removed the app.
)

// Event is one verified delivery. Fields Linear did not send are zero.
type Event struct {
	// DeliveryID is Linear-Delivery: the key to dedupe on.
	DeliveryID string
	// Type is the entity type from the signed body: "Issue", "OAuthApp", …
	Type string
	// Action is "create", "update", "remove" (entities) or "revoked"
	// (OAuthApp).
	Action string
	// WebhookTimestamp is when Linear sent the delivery.
	WebhookTimestamp time.Time
	// CreatedAt is when the change happened (zero if absent or unreadable).
	CreatedAt time.Time
	// OrganizationID is the Linear workspace the delivery is about.
	OrganizationID string
	// WebhookID is the id of the webhook that sent the delivery.
	WebhookID string
	// URL links to the entity in Linear (entity events).
	URL string
	// OAuthClientID is the app whose access was revoked (OAuthApp events).
	OAuthClientID string
	// Issue is the issue after the change, when Type is "Issue".
	Issue *IssueData
	// UpdatedFrom holds the previous values of the fields an update
	// changed, keyed by field name ("stateId", "assigneeId", …). A key with
	// a JSON null means the field was empty before.
	UpdatedFrom map[string]json.RawMessage
	// Data is the entity as sent, for types this package does not model.
	Data json.RawMessage
}

// IssueData is the part of Linear's IssueWebhookPayload the bot uses.
type IssueData struct {
	ID                  string     `json:"id"`
	Identifier          string     `json:"identifier"`
	Title               string     `json:"title"`
	URL                 string     `json:"url"`
	StateID             string     `json:"stateId"`
	State               *StateData `json:"state"`
	AssigneeID          string     `json:"assigneeId"`
	Assignee            *UserData  `json:"assignee"`
	TeamID              string     `json:"teamId"`
	Team                *TeamData  `json:"team"`
	PreviousIdentifiers []string   `json:"previousIdentifiers"`
	UpdatedAt           string     `json:"updatedAt"`
	// CompletedAt and CanceledAt are kept raw: AlertIssue reads the one
	// the state type calls for, and an unreadable one is no reason to
	// refuse the delivery.
	CompletedAt json.RawMessage `json:"completedAt"`
	CanceledAt  json.RawMessage `json:"canceledAt"`
	ArchivedAt  string          `json:"archivedAt"`
	Trashed     bool            `json:"trashed"`
}

// StateData is an issue's workflow state.
type StateData struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Type is triage, backlog, unstarted, started, completed or canceled.
	Type string `json:"type"`
}

// UserData is a user as a webhook shows it (the assignee).
type UserData struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// TeamData is a team as a webhook shows it.
type TeamData struct {
	ID   string `json:"id"`
	Key  string `json:"key"`
	Name string `json:"name"`
}

// AlertIssue is the issue as the core knows it, to refresh a stored link,
// with ClosedAt taken from completedAt or canceledAt to match the state
// type. An unreadable time leaves ClosedAt zero; the core then uses the
// time the change is applied.
func (d *IssueData) AlertIssue() alert.Issue {
	is := alert.Issue{
		ID: d.ID, Identifier: d.Identifier, Title: d.Title, URL: d.URL,
		TeamID: d.TeamID, AssigneeID: d.AssigneeID,
	}
	if d.State != nil {
		is.StateName, is.StateType = d.State.Name, d.State.Type
	}
	if d.Team != nil {
		is.TeamKey = d.Team.Key
		if is.TeamID == "" {
			is.TeamID = d.Team.ID
		}
	}
	if d.Assignee != nil {
		is.AssigneeName = d.Assignee.Name
		if is.AssigneeID == "" {
			is.AssigneeID = d.Assignee.ID
		}
	}
	raw := d.CompletedAt
	switch is.StateType {
	case "canceled":
		raw = d.CanceledAt
	case "completed":
	default:
		return is
	}
	var at string
	if err := json.Unmarshal(raw, &at); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
			is.ClosedAt = t.UTC()
		}
	}
	return is
}

// StateChanged reports whether an issue update moved the issue to another
// workflow state.
func (e Event) StateChanged() bool { return e.issueUpdate("stateId") }

// AssigneeChanged reports whether an issue update assigned, unassigned or
// reassigned the issue.
func (e Event) AssigneeChanged() bool { return e.issueUpdate("assigneeId") }

// IdentifierChanged reports whether an issue update changed the issue's
// identifier: moving it to another team gives it a new number under the
// new team's key (the old one lands in previousIdentifiers).
func (e Event) IdentifierChanged() bool {
	return e.issueUpdate("identifier") || e.issueUpdate("number") || e.issueUpdate("teamId")
}

// ErrOtherOrganization is returned by CheckOrganization for a delivery
// about another Linear workspace than the connected one.
var ErrOtherOrganization = errors.New("webhook: delivery of another linear organization")

// CheckOrganization refuses a delivery of another organization than
// connected (a Linear organization id). A delivery without an organization
// is refused too: Linear always names it, and a delivery cannot be matched
// to the connected workspace without it.
func (e Event) CheckOrganization(connected string) error {
	if e.OrganizationID == connected && connected != "" {
		return nil
	}
	return fmt.Errorf("%w: delivery for %q, connected is %q", ErrOtherOrganization, e.OrganizationID, connected)
}

// Revoked reports whether a workspace removed the app's access: the bot
// should forget its token and show "reconnect".
func (e Event) Revoked() bool { return e.Type == TypeOAuthApp && e.Action == ActionRevoked }

func (e Event) issueUpdate(field string) bool {
	if e.Type != TypeIssue || e.Action != ActionUpdate {
		return false
	}
	_, ok := e.UpdatedFrom[field]
	return ok
}

// envelope is the body of every delivery.
type envelope struct {
	Action           string          `json:"action"`
	Type             string          `json:"type"`
	CreatedAt        string          `json:"createdAt"`
	OrganizationID   string          `json:"organizationId"`
	WebhookID        string          `json:"webhookId"`
	WebhookTimestamp json.Number     `json:"webhookTimestamp"`
	URL              string          `json:"url"`
	OAuthClientID    string          `json:"oauthClientId"`
	Data             json.RawMessage `json:"data"`
	UpdatedFrom      json.RawMessage `json:"updatedFrom"`
}

// maxTimestampMillis keeps webhookTimestamp to dates before the year
// 10000, so converting it and subtracting it from now cannot overflow.
const maxTimestampMillis = 253402300800000

// Parse decodes a delivery body whose signature was already verified
// (Verify calls it once the signature matches). It checks the size and the
// JSON shape, but neither the signature nor the timestamp: never call it on
// a body that has not passed Verify. The Event's DeliveryID is empty (the
// id is a header, not part of the body). Errors wrap ErrMalformed.
func Parse(body []byte) (Event, error) {
	if len(body) > MaxBody {
		return Event{}, fmt.Errorf("body of %d bytes exceeds %d: %w", len(body), MaxBody, ErrMalformed)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Event{}, fmt.Errorf("body is not a JSON object: %w", ErrMalformed)
	}
	var env envelope
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return Event{}, fmt.Errorf("decode body: %v: %w", err, ErrMalformed)
	}
	if env.Type == "" {
		return Event{}, fmt.Errorf("body has no type: %w", ErrMalformed)
	}
	if env.WebhookTimestamp == "" {
		return Event{}, fmt.Errorf("body has no webhookTimestamp: %w", ErrMalformed)
	}
	ms, err := strconv.ParseFloat(env.WebhookTimestamp.String(), 64)
	if err != nil || math.IsNaN(ms) || ms <= 0 || ms >= maxTimestampMillis {
		return Event{}, fmt.Errorf("webhookTimestamp is not a unix time in ms: %w", ErrMalformed)
	}
	ev := Event{
		Type:             env.Type,
		Action:           env.Action,
		WebhookTimestamp: time.UnixMilli(int64(math.Round(ms))),
		OrganizationID:   env.OrganizationID,
		WebhookID:        env.WebhookID,
		URL:              env.URL,
		OAuthClientID:    env.OAuthClientID,
	}
	if t, err := time.Parse(time.RFC3339Nano, env.CreatedAt); err == nil {
		ev.CreatedAt = t
	}
	if len(env.Data) > 0 && !isNull(env.Data) {
		ev.Data = env.Data
	}
	if len(env.UpdatedFrom) > 0 && !isNull(env.UpdatedFrom) {
		if env.UpdatedFrom[0] != '{' {
			return Event{}, fmt.Errorf("updatedFrom is not an object: %w", ErrMalformed)
		}
		if err := json.Unmarshal(env.UpdatedFrom, &ev.UpdatedFrom); err != nil {
			return Event{}, fmt.Errorf("decode updatedFrom: %v: %w", err, ErrMalformed)
		}
	}
	if ev.Type == TypeIssue {
		if len(ev.Data) == 0 || ev.Data[0] != '{' {
			return Event{}, fmt.Errorf("issue event has no data object: %w", ErrMalformed)
		}
		var is IssueData
		if err := json.Unmarshal(ev.Data, &is); err != nil {
			return Event{}, fmt.Errorf("decode issue: %v: %w", err, ErrMalformed)
		}
		if is.ID == "" {
			return Event{}, fmt.Errorf("issue event has no data.id: %w", ErrMalformed)
		}
		ev.Issue = &is
	}
	return ev, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }
