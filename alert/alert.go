// Package alert is the core of proliferate-linear: the domain types (an
// Alert from Proliferate, the IssueLink between an error and a Linear issue,
// the Creation that makes an issue exactly once) and the use cases that move
// them (alert in → Slack message out, create, link, status change).
//
// The package declares the small interfaces it needs (Store, Tracker,
// Poster); adapters in bot/, linear/, store/ and httpapi/ implement them and
// only cmd/ wires them together. Imports point inward: adapters import this
// package, never each other.
package alert

import (
	"strings"
	"time"
)

// Trigger says why Proliferate sent an alert.
type Trigger string

// Triggers Proliferate sends.
const (
	TriggerNewIssue   Trigger = "new_issue"
	TriggerSpike      Trigger = "spike"
	TriggerRegression Trigger = "regression"
)

// Valid reports whether t is empty or one of the known triggers.
func (t Trigger) Valid() bool {
	switch t {
	case "", TriggerNewIssue, TriggerSpike, TriggerRegression:
		return true
	}
	return false
}

// Alert is one Proliferate error as shown in one Slack channel. Repeated
// alerts for the same error in the same channel fold into one Alert (and one
// Slack message): the counters and timestamps move, Occurrences grows.
type Alert struct {
	ID      int64  `db:"id"`
	ErrorID string `db:"error_id"` // Proliferate's issue_id: the error's identity.
	Channel string `db:"channel"`  // Slack channel ID.
	// MessageTS is the Slack ts of the alert message, empty until posted.
	MessageTS string `db:"message_ts"`
	// ThreadTS is the ts of the message the alert lives under when the bot
	// did not post it: Proliferate's own alert message in the channel, or
	// the message a shortcut was used on. The bot cannot edit that message,
	// so its own message is a reply in ThreadTS's thread, and that thread is
	// the alert's. Empty for webhook alerts, whose thread is MessageTS. Set
	// when the alert is first stored and never moved by a fold.
	ThreadTS string `db:"thread_ts"`

	URL           string    `db:"url"` // link back to the error in Proliferate.
	Project       string    `db:"project"`
	Level         string    `db:"level"`
	ErrorType     string    `db:"error_type"`
	ErrorMessage  string    `db:"error_message"`
	Stack         string    `db:"stack"`
	Environment   string    `db:"environment"`
	Release       string    `db:"release"`
	FirstSeen     time.Time `db:"first_seen"`
	LastSeen      time.Time `db:"last_seen"`
	EventCount    int64     `db:"event_count"`
	UsersAffected int64     `db:"users_affected"`
	Trigger       Trigger   `db:"trigger"`
	// Occurrences counts the alerts folded into this one (1 for the first).
	Occurrences int64     `db:"occurrences"`
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
}

// Thread is the ts of the alert's Slack thread: ThreadTS when the alert
// lives under someone else's message, else its own message's ts ("" until
// posted).
func (a Alert) Thread() string {
	if a.ThreadTS != "" {
		return a.ThreadTS
	}
	return a.MessageTS
}

// slackMessagePrefix starts the ErrorID of an alert made from a Slack
// message that links no Proliferate issue (a message shortcut on anyone's
// message). Proliferate issue ids never hold a ":", so the two cannot meet.
const slackMessagePrefix = "slack:"

// SlackMessageErrorID keys the alert of a Slack message that links no
// Proliferate issue: its channel and ts, which Slack never reuses.
func SlackMessageErrorID(channel, ts string) string {
	return slackMessagePrefix + channel + ":" + ts
}

// FromSlackMessage reports whether the alert is a Slack message's rather
// than a Proliferate error's (see SlackMessageErrorID): its ErrorMessage is
// the message's text and its URL the message's permalink.
func (a Alert) FromSlackMessage() bool {
	return strings.HasPrefix(a.ErrorID, slackMessagePrefix)
}

// Title is the Linear issue title the alert suggests: "<type>: <message>",
// or whichever of the two is present. It is never empty.
func (a Alert) Title() string {
	typ := strings.TrimSpace(a.ErrorType)
	msg := firstLine(a.ErrorMessage)
	switch {
	case typ != "" && msg != "":
		return typ + ": " + msg
	case typ != "":
		return typ
	case msg != "":
		return msg
	}
	return "Error " + a.ErrorID
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// LinkKind says how an IssueLink came to be.
type LinkKind string

// Link kinds.
const (
	LinkCreated LinkKind = "created" // the bot created the issue.
	LinkLinked  LinkKind = "linked"  // someone attached an existing issue.
)

// IssueLink records that a Proliferate error is tracked by a Linear issue.
// One error has at most one link; the link outlives a disconnect.
type IssueLink struct {
	ErrorID      string   `db:"error_id"`
	IssueID      string   `db:"issue_id"` // Linear issue UUID.
	Identifier   string   `db:"identifier"`
	Title        string   `db:"title"`
	URL          string   `db:"url"`
	StateName    string   `db:"state_name"`
	StateType    string   `db:"state_type"` // Linear WorkflowState.type: triage, backlog, unstarted, started, completed, canceled.
	TeamID       string   `db:"team_id"`
	TeamKey      string   `db:"team_key"`
	AssigneeID   string   `db:"assignee_id"`
	AssigneeName string   `db:"assignee_name"`
	CreatedBy    string   `db:"created_by"` // Slack user ID, "api", "linear", or "rule:N" (an auto rule).
	Kind         LinkKind `db:"kind"`
	// ClosedAt is when the issue was completed or canceled; zero while open.
	ClosedAt time.Time `db:"closed_at"`
	// RegressedAt is when an alert first arrived after the issue closed
	// (the error came back); zero otherwise. It keeps the "the error is
	// back" note to one per regression.
	RegressedAt time.Time `db:"regressed_at"`
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
}

// Closed reports whether the linked issue is completed or canceled, so a new
// alert for the error is a regression.
func (l IssueLink) Closed() bool {
	return l.StateType == "completed" || l.StateType == "canceled"
}

// CreationStatus is the state of one create-issue intent.
type CreationStatus string

// Creation states.
const (
	CreationPending CreationStatus = "pending"
	CreationDone    CreationStatus = "done"
)

// Creation is one intent to create a Linear issue for an error. Its ID is a
// client-generated UUID v4, stored before Linear is called and sent as
// IssueCreateInput.id, so that a retry of the same intent can never create a
// second issue: Linear refuses the duplicate id and the issue is read back.
type Creation struct {
	ID        string         `db:"id"`
	ErrorID   string         `db:"error_id"`
	AlertID   int64          `db:"alert_id"`
	SlackUser string         `db:"slack_user"`
	Status    CreationStatus `db:"status"`
	IssueID   string         `db:"issue_id"` // set when done.
	CreatedAt time.Time      `db:"created_at"`
	UpdatedAt time.Time      `db:"updated_at"`
}
