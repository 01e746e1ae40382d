package alert

import (
	"context"
	"time"
)

// JobKind names what a queued Slack job does.
type JobKind string

// Job kinds.
const (
	// JobRenderAlert posts the alert's Slack message, or updates it in place
	// when it already has a ts. It always renders the alert's state at the
	// time it runs, so repeated alerts fold into one update.
	JobRenderAlert JobKind = "render_alert"
	// JobThreadNote posts Text as a reply in the alert message's thread.
	JobThreadNote JobKind = "thread_note"
)

// Job is one unit of work for Slack in the durable queue in front of Slack's
// rate limits. Jobs are stored in the same transaction as the change that
// needs them, so nothing accepted is lost on a crash.
type Job struct {
	ID      int64   `db:"id"`
	Kind    JobKind `db:"kind"`
	AlertID int64   `db:"alert_id"`
	Text    string  `db:"text"`
	// DedupeKey, when set, folds this job into a queued (not yet running) job
	// with the same key: ten alerts in a second become one message update.
	DedupeKey string    `db:"dedupe_key"`
	Attempts  int       `db:"attempts"`
	RunAt     time.Time `db:"run_at"`
	LastError string    `db:"last_error"`
	CreatedAt time.Time `db:"created_at"`
}

// RenderJob is the job that posts or refreshes the message of alert id.
func RenderJob(alertID int64) Job {
	return Job{Kind: JobRenderAlert, AlertID: alertID, DedupeKey: "render:" + itoa(alertID)}
}

// NoteJob is the job that replies text in the thread of alert id.
func NoteJob(alertID int64, text string) Job {
	return Job{Kind: JobThreadNote, AlertID: alertID, Text: text}
}

// Store is the persistence the core needs. store.DB implements it on SQLite
// and on PostgreSQL; every method is safe for concurrent use by several
// replicas sharing one database.
type Store interface {
	// AcceptAlert stores a new alert, or folds it into the existing one for
	// the same (ErrorID, Channel): counters, timestamps, text and trigger are
	// replaced, Occurrences grows by one, MessageTS and FirstSeen are kept.
	// In the same transaction it queues RenderJob for the alert. It returns
	// the stored alert.
	AcceptAlert(ctx context.Context, a Alert) (Alert, error)
	// Alert returns one alert; ErrNotFound if none.
	Alert(ctx context.Context, id int64) (Alert, error)
	// AlertsByError returns every alert (one per channel) of an error.
	AlertsByError(ctx context.Context, errorID string) ([]Alert, error)
	// SetAlertMessage records the Slack ts of the alert's message.
	SetAlertMessage(ctx context.Context, alertID int64, ts string) error

	// Link returns the issue link of an error; ErrNotFound if none.
	Link(ctx context.Context, errorID string) (IssueLink, error)
	// SaveLink inserts or replaces the link of link.ErrorID and queues jobs,
	// in one transaction.
	SaveLink(ctx context.Context, link IssueLink, jobs ...Job) error
	// AddLink is SaveLink for an error that has no link yet: if it has one
	// (someone linked or created meanwhile) nothing changes and the error
	// wraps ErrConflict.
	AddLink(ctx context.Context, link IssueLink, jobs ...Job) error
	// LinksByIssue returns every link to a Linear issue (several errors may
	// share one issue).
	LinksByIssue(ctx context.Context, issueID string) ([]IssueLink, error)
	// OpenLinks pages through links whose issue is not closed, ordered by
	// issue_id, starting after afterIssueID ("" for the first page).
	OpenLinks(ctx context.Context, afterIssueID string, limit int) ([]IssueLink, error)

	// BeginCreation records a create intent before Linear is called. If a
	// creation with c.ID exists it is returned unchanged (a retry). If
	// another creation for c.ErrorID is still pending (younger than
	// staleAfter) it returns an error wrapping ErrConflict.
	BeginCreation(ctx context.Context, c Creation, staleAfter time.Duration) (Creation, error)
	// CompleteCreation marks creation id done with link.IssueID, saves the
	// link and queues jobs, in one transaction.
	CompleteCreation(ctx context.Context, id string, link IssueLink, jobs ...Job) error
	// AbandonCreation deletes a pending creation that failed for good, so
	// the error can be created again.
	AbandonCreation(ctx context.Context, id string) error

	// Enqueue adds jobs to the queue.
	Enqueue(ctx context.Context, jobs ...Job) error
	// ClaimJobs leases up to limit due jobs for lease; a job whose lease ran
	// out (its worker died) is due again. Replicas never share a job.
	ClaimJobs(ctx context.Context, limit int, lease time.Duration) ([]Job, error)
	// FinishJob deletes a job that is done.
	FinishJob(ctx context.Context, id int64) error
	// RetryJob puts a job back, due at runAt, counting the attempt.
	RetryJob(ctx context.Context, id int64, runAt time.Time, lastErr string) error
	// BuryJob keeps a job that failed for good out of the queue, for an
	// operator to look at.
	BuryJob(ctx context.Context, id int64, lastErr string) error
}

// Poster is the Slack side as the core needs it; bot.Poster implements it
// with Block Kit. Errors worth retrying come back as *TemporaryError.
type Poster interface {
	// PostAlert posts the alert's message (link may be nil) and returns its ts.
	PostAlert(ctx context.Context, a Alert, link *IssueLink) (ts string, err error)
	// UpdateAlert rewrites the alert's message in place.
	UpdateAlert(ctx context.Context, a Alert, link *IssueLink) error
	// PostThread replies text (mrkdwn, already escaped) in a thread.
	PostThread(ctx context.Context, channel, threadTS, text string) error
}
