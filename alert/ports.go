package alert

import (
	"context"
	"time"
)

// JobKind names what a queued job does. Each kind has one handler,
// registered on the Dispatcher (Dispatcher.Handle).
type JobKind string

// Job kinds the core runs itself. Adapters register their own kinds
// (submissions, webhook deliveries) on the same queue.
const (
	// JobRenderAlert posts the alert's Slack message, or updates it in place
	// when it already has a ts. It always renders the alert's state at the
	// time it runs, so repeated alerts fold into one update.
	JobRenderAlert JobKind = "render_alert"
	// JobThreadNote replies a Note (JSON in Payload; see NoteJob) in the
	// alert's thread. Jobs of older versions carry finished Text instead.
	JobThreadNote JobKind = "thread_note"
	// JobThreadStatus replies in the thread of another message (Payload
	// holds its ts) with the alert's state when that job runs: the issue and its
	// status, or where the alert already is. It answers a later Proliferate
	// message for an error the channel already has an alert for.
	JobThreadStatus JobKind = "thread_status"
)

// JobStatus is where a job is in its life: queued until claimed, running
// while leased, dead once buried. Done jobs are deleted.
type JobStatus string

// Job statuses.
const (
	JobQueued  JobStatus = "queued"
	JobRunning JobStatus = "running"
	JobDead    JobStatus = "dead"
)

// Job is one unit of promised work in the durable queue: a Slack message, a
// thread note, the rest of a submission. Jobs are stored in the same
// transaction as the change that needs them, so nothing accepted is lost on
// a crash.
type Job struct {
	ID   int64   `db:"id"`
	Kind JobKind `db:"kind"`
	// AlertID is the alert the job is about; 0 for a job that is about no
	// alert (its handler reads Payload instead).
	AlertID int64  `db:"alert_id"`
	Text    string `db:"text"`
	// Payload is what the handler needs beyond AlertID and Text, in a
	// format of the kind's choosing (JSON, typically).
	Payload string `db:"payload"`
	// DedupeKey, when set, folds this job into a queued (not yet running) job
	// with the same key: ten alerts in a second become one message update.
	DedupeKey string `db:"dedupe_key"`
	// SerialKey, when set, keeps this job from running while another job
	// with the same key runs, on any replica: one alert's message is posted
	// by one job at a time, so a second job never reads an empty ts and
	// posts a second message.
	SerialKey string    `db:"serial_key"`
	Status    JobStatus `db:"status"`
	Attempts  int       `db:"attempts"`
	RunAt     time.Time `db:"run_at"`
	// LastError is the last failure; for a dead job, why it was buried.
	LastError string    `db:"last_error"`
	CreatedAt time.Time `db:"created_at"`
}

// alertSerial is the serial key of every job about alert id.
func alertSerial(alertID int64) string { return "alert:" + itoa(alertID) }

// RenderJob is the job that posts or refreshes the message of alert id.
func RenderJob(alertID int64) Job {
	return Job{Kind: JobRenderAlert, AlertID: alertID, DedupeKey: renderKey(alertID), SerialKey: alertSerial(alertID)}
}

// renderKey is the dedupe key of alert id's render job.
func renderKey(alertID int64) string { return "render:" + itoa(alertID) }

// DefaultUpdateGap is how long repeats wait to update their alert's
// message (see RepeatJob): a storm of one error updates it about once per
// gap, not once per channel slot.
const DefaultUpdateGap = 10 * time.Second

// RepeatJob refreshes the message of alert id after a repeat folded into
// it, at due. The repeats arriving before then fold into it (the queued
// job keeps its due time), so a storm costs one update per gap, and the
// last one, once the storm is over, shows the final count. Its own dedupe
// key keeps it apart from RenderJob, which a person's create or link
// queues and which must not wait behind a storm.
func RepeatJob(alertID int64, due time.Time) Job {
	return Job{Kind: JobRenderAlert, AlertID: alertID, DedupeKey: repeatKey(alertID),
		SerialKey: alertSerial(alertID), Payload: repeatPayload, RunAt: due}
}

// repeatKey is the dedupe key of alert id's RepeatJob.
func repeatKey(alertID int64) string { return "repeat:" + itoa(alertID) }

// repeatPayload marks a RepeatJob.
const repeatPayload = "repeat"

// IntakeJob is the job an accept at now queues for stored alert a:
// RenderJob while its message is not posted (a repeat folds into the
// queued render job, which posts the latest count), else RepeatJob due a
// gap later.
func IntakeJob(a Alert, now time.Time, gap time.Duration) Job {
	if a.MessageTS != "" {
		return RepeatJob(a.ID, now.Add(gap))
	}
	return RenderJob(a.ID)
}

// JobQueue is the durable queue as the Dispatcher drives it. store.DB
// implements it on both dialects; every method is safe for several
// replicas sharing one database.
type JobQueue interface {
	// ClaimJobs leases up to limit due jobs to owner for lease; a job whose
	// lease ran out (its worker died) is due again and counts an attempt.
	// Replicas never share a job, and a job whose SerialKey is held by a
	// running job is not claimed, nor one of ChannelKinds whose channel's
	// turn has not come (its next slot or Slack's hold is still ahead).
	ClaimJobs(ctx context.Context, owner string, limit int, lease time.Duration) ([]Job, error)
	// ExtendLeases renews owner's leases on ids for lease from now, and
	// returns the ids that are no longer owner's (a lease ran out and
	// another worker took the job, or an operator dropped it).
	ExtendLeases(ctx context.Context, owner string, ids []int64, lease time.Duration) (lost []int64, err error)
	// FinishJob deletes a job that is done.
	FinishJob(ctx context.Context, id int64) error
	// RetryJob puts a job back, due at runAt, counting the attempt.
	RetryJob(ctx context.Context, id int64, runAt time.Time, lastErr string) error
	// PostponeJob puts a job back, due at runAt, without counting an
	// attempt: it did not run (its channel was held, what it follows is not
	// done, the process is shutting down).
	PostponeJob(ctx context.Context, id int64, runAt time.Time, reason string) error
	// BuryJob keeps a job that failed for good out of the queue (dead),
	// with the reason, for an operator to retry or drop.
	BuryJob(ctx context.Context, id int64, reason string) error
	// JobByDedupeKey returns the newest job holding key, dead ones
	// included; ErrNotFound if none.
	JobByDedupeKey(ctx context.Context, key string) (Job, error)
}

// ChannelPacer spaces Slack messages per channel across every replica,
// through the database, and keeps Slack's Retry-After for each channel.
type ChannelPacer interface {
	// ReserveChannelSlot reserves the channel's next free slot, at least gap
	// after the previous one and not before the channel's hold ends, and
	// returns how long until it. If that is more than maxWait nothing is
	// reserved and ok is false.
	ReserveChannelSlot(ctx context.Context, channel string, gap, maxWait time.Duration) (wait time.Duration, ok bool, err error)
	// HoldChannel keeps the channel quiet for d from now (Slack's
	// Retry-After); a longer hold already in force stays.
	HoldChannel(ctx context.Context, channel string, d time.Duration) error
	// ChannelHeld returns how long the channel's hold still lasts, 0 if none.
	ChannelHeld(ctx context.Context, channel string) (time.Duration, error)
	// ClaimPacedJobs is ClaimJobs keeping the channels' pace (see ClaimPace).
	ClaimPacedJobs(ctx context.Context, owner string, limit int, lease time.Duration, pace ClaimPace) ([]Job, error)
}

// ClaimPace keeps a claim in step with Slack's per-channel pace. A job of
// one of Kinds posts in its alert's channel; it is claimed only when the
// channel's next slot is at most Ahead away and its hold (Slack's
// Retry-After) ends at most HoldAhead from now, and at most PerChannel
// jobs of one channel are claimed at once. So a busy channel's jobs stay in
// the queue, where other channels' due jobs pass them, rather than being
// claimed only to wait or to be handed back. Kinds is ChannelKinds, or none
// to pace nothing: store.DB keys those kinds' jobs by channel as it queues
// them, and refuses any other set.
type ClaimPace struct {
	Kinds      []JobKind
	Ahead      time.Duration
	HoldAhead  time.Duration
	PerChannel int
}

// ChannelKinds are the core's kinds that post in their alert's channel.
var ChannelKinds = []JobKind{JobRenderAlert, JobThreadNote, JobThreadStatus}

// MessageWaitKinds are the kinds that wait for their alert's Slack message
// to be posted (they put themselves back until it is): a note or status in
// its thread, and an automatic filing, whose issue links to that thread.
// Recording the message (Store.SetAlertMessage) makes the queued ones due.
var MessageWaitKinds = []JobKind{JobThreadNote, JobThreadStatus, JobAutoCreate}

// StatusJob is the job that answers the message threadTS (a later message
// for the error of alert id) with the alert's current state.
func StatusJob(alertID int64, threadTS string) Job {
	return Job{Kind: JobThreadStatus, AlertID: alertID, Payload: threadTS, SerialKey: alertSerial(alertID)}
}

// Accepted is what Store.AcceptAlert stored: the alert as its row now
// stands, and the issue link of its error as the accept's transaction saw
// it (nil if the error has none), so the caller needs no second read to
// tell a regression.
type Accepted struct {
	Alert Alert
	Link  *IssueLink
}

// Store is the persistence the core needs. store.DB implements it on SQLite
// and on PostgreSQL; every method is safe for concurrent use by several
// replicas sharing one database.
type Store interface {
	// AcceptAlert stores a new alert, or folds it into the existing one for
	// the same (ErrorID, Channel): counters, timestamps, text and trigger are
	// replaced, Occurrences grows by one, MessageTS and FirstSeen are kept.
	// In the same transaction it queues RenderJob for the alert and the
	// jobs more returns for the stored alert (more may be nil). It returns
	// the stored alert and its error's link as that transaction saw it.
	AcceptAlert(ctx context.Context, a Alert, more ...func(stored Alert) []Job) (Accepted, error)
	// AcceptSlackAlert is AcceptAlert for an alert read from a Slack
	// message, handled once per Events API eventID: in one transaction it
	// records eventID and, unless it was recorded already (then nothing
	// changes and fresh is false), folds a in as AcceptAlert does, except
	// that what a (a message shows less than the webhook sends) leaves
	// empty keeps its stored value. ThreadTS is stored only with a new
	// alert. The jobs more returns for the stored alert are queued with its
	// render job.
	AcceptSlackAlert(ctx context.Context, eventID string, a Alert, more func(stored Alert) []Job) (stored Alert, fresh bool, err error)
	// EnsureAlert returns the alert of (a.ErrorID, a.Channel), storing a as
	// a new one (Occurrences 1, no job queued) if there is none.
	EnsureAlert(ctx context.Context, a Alert) (Alert, error)
	// Alert returns one alert; ErrNotFound if none.
	Alert(ctx context.Context, id int64) (Alert, error)
	// AlertsByError returns every alert (one per channel) of an error.
	AlertsByError(ctx context.Context, errorID string) ([]Alert, error)
	// SetAlertMessage records the Slack ts of the alert's message and
	// makes the alert's queued jobs of MessageWaitKinds due now.
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
	// PendingCreation returns the pending creation of an error; ErrNotFound
	// if none.
	PendingCreation(ctx context.Context, errorID string) (Creation, error)
	// TouchCreation stamps a pending creation (UpdatedAt = now) just before
	// its issueCreate is sent and returns it as it is (a done one
	// unchanged); ErrNotFound if it is gone (abandoned or replaced).
	TouchCreation(ctx context.Context, id string) (Creation, error)
	// PendingCreations returns up to limit pending creations last touched
	// before touchedBefore, oldest first.
	PendingCreations(ctx context.Context, touchedBefore time.Time, limit int) ([]Creation, error)
	// ReplaceCreation puts c in place of the pending creation old, only if
	// old is unchanged since it was read (same UpdatedAt); else ErrConflict.
	ReplaceCreation(ctx context.Context, old, c Creation) (Creation, error)
	// CreationByID returns the creation with id, pending or done;
	// ErrNotFound if none. An issue whose id is a creation's is the bot's
	// own, even when Linear's answer to its create was lost.
	CreationByID(ctx context.Context, id string) (Creation, error)

	// Enqueue adds jobs to the queue.
	Enqueue(ctx context.Context, jobs ...Job) error
}

// Poster is the Slack side as the core needs it; bot.Poster implements it
// with Block Kit. Errors worth retrying come back as *TemporaryError.
type Poster interface {
	// PostAlert posts the alert's message (link may be nil) and returns its ts.
	PostAlert(ctx context.Context, a Alert, link *IssueLink) (ts string, err error)
	// UpdateAlert rewrites the alert's message in place.
	UpdateAlert(ctx context.Context, a Alert, link *IssueLink) error
	// PostNote replies note n in the thread of alert a's message, worded
	// by the adapter.
	PostNote(ctx context.Context, a Alert, n Note) error
	// PostStatus replies in the thread of threadTS with where alert a is
	// tracked (link may be nil): see JobThreadStatus.
	PostStatus(ctx context.Context, a Alert, link *IssueLink, threadTS string) error
}

// MessageFinder is a Poster that can find an alert's message already in
// Slack. Slack has no idempotency key for posting, so a render job that runs
// again after an attempt that may have posted (the worker died before
// recording the ts) looks before it writes. A Poster without it posts again.
type MessageFinder interface {
	// FindAlertMessage returns the ts of the bot's message for alert a in
	// a's channel (or a.ThreadTS's thread), "" if there is none.
	FindAlertMessage(ctx context.Context, a Alert) (ts string, err error)
}
