package alert

import (
	"encoding/json"
	"fmt"
	"time"
)

// NoteKind says what happened, for a thread note. The core decides that a
// note is due and what it is about; the Slack adapter words it.
type NoteKind string

// Note kinds.
const (
	// NoteCreated: the bot created Issue for the alert, asked by SlackUser.
	NoteCreated NoteKind = "created"
	// NoteLinked: SlackUser linked the existing Issue to the alert.
	NoteLinked NoteKind = "linked"
	// NoteStateChanged: Issue moved to another kind of state (started,
	// completed or canceled; Issue.StateType says which).
	NoteStateChanged NoteKind = "state_changed"
	// NoteRegressed: Issue was closed and the error is back.
	NoteRegressed NoteKind = "regressed"
	// NoteText is a note queued by a version that stored finished Slack
	// text (Text) rather than a structured note: posted as it is.
	NoteText NoteKind = "text"
	// NoteAutoFailed: the auto rule Rule could not file the alert's issue
	// in team Team; Problem says why, in words.
	NoteAutoFailed NoteKind = "auto_failed"
)

// Note is a thread note as the core queues it: what happened, to which
// issue, and who asked. It is stored as JSON in the job's Payload, so its
// fields are a snapshot taken when the note was decided.
type Note struct {
	Kind NoteKind `json:"kind"`
	// Issue is the linked issue as it was when the note was queued.
	Issue NoteIssue `json:"issue"`
	// SlackUser is the Slack user ID who asked ("api" or empty: nobody in Slack).
	SlackUser string `json:"slack_user,omitempty"`
	// Text is the finished Slack text of a NoteText note (older jobs only).
	Text string `json:"text,omitempty"`
	// Via says how a created issue was asked for (NoteCreated): the modal,
	// the "Create in TEAM" button or an auto rule; Rule is the routing
	// rule's number (0: none, the default team).
	Via  Via `json:"via,omitempty"`
	Rule int `json:"rule,omitempty"`
	// Team and Problem are a NoteAutoFailed note's team key and reason.
	Team    string `json:"team,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// NoteIssue is what a note shows of a linked issue.
type NoteIssue struct {
	Identifier   string    `json:"identifier"`
	Title        string    `json:"title,omitempty"`
	URL          string    `json:"url"`
	StateName    string    `json:"state_name,omitempty"`
	StateType    string    `json:"state_type,omitempty"`
	AssigneeName string    `json:"assignee_name,omitempty"`
	ClosedAt     time.Time `json:"closed_at,omitzero"`
}

// noteIssue snapshots what a note shows of l.
func noteIssue(l IssueLink) NoteIssue {
	return NoteIssue{
		Identifier: l.Identifier, Title: l.Title, URL: l.URL, StateName: l.StateName, StateType: l.StateType,
		AssigneeName: l.AssigneeName, ClosedAt: l.ClosedAt,
	}
}

// NoteJob is the job that replies note n in the thread of alert id.
func NoteJob(alertID int64, n Note) Job {
	payload, err := json.Marshal(n)
	if err != nil { // a struct of strings and a time: cannot fail.
		panic(fmt.Sprintf("encode note: %v", err))
	}
	return Job{Kind: JobThreadNote, AlertID: alertID, Payload: string(payload), SerialKey: alertSerial(alertID)}
}

// JobNote reads the note of a JobThreadNote job. A job queued by an older
// version carries finished text and no payload: it becomes a NoteText note,
// posted as it is.
func JobNote(j Job) (Note, error) {
	if j.Payload == "" {
		return Note{Kind: NoteText, Text: j.Text}, nil
	}
	var n Note
	if err := json.Unmarshal([]byte(j.Payload), &n); err != nil {
		return Note{}, fmt.Errorf("thread note payload: %w", err)
	}
	if n.Kind == "" {
		return Note{}, fmt.Errorf("thread note payload has no kind")
	}
	return n, nil
}

// CreatedNote is the note after the bot created the issue of l for slackUser.
func CreatedNote(l IssueLink, slackUser string) Note {
	return Note{Kind: NoteCreated, Issue: noteIssue(l), SlackUser: slackUser}
}

// LinkedNote is the note after slackUser linked the existing issue of l.
func LinkedNote(l IssueLink, slackUser string) Note {
	return Note{Kind: NoteLinked, Issue: noteIssue(l), SlackUser: slackUser}
}

// RegressionNote is the note that the closed issue of l has its error back.
func RegressionNote(l IssueLink) Note {
	return Note{Kind: NoteRegressed, Issue: noteIssue(l)}
}
