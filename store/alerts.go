package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// alertColumns lists alerts' columns in alert.Alert's db tags. "release"
// and "trigger" are SQL keywords, hence the quotes.
const alertColumns = `id, error_id, channel, message_ts, thread_ts, url, project, level, error_type, error_message,
	stack, environment, "release", first_seen, last_seen, event_count, users_affected, "trigger",
	occurrences, created_at, updated_at`

// upsertAlertSQL inserts an alert or folds it into the row of its (error,
// channel). A fold replaces what the newer alert knows better (counters,
// last_seen, text, trigger) and keeps what belongs to the first one:
// first_seen, message_ts (the Slack message to update) and created_at.
const upsertAlertSQL = `INSERT INTO alerts (error_id, channel, url, project, level, error_type, error_message,
	stack, environment, "release", first_seen, last_seen, event_count, users_affected, "trigger",
	occurrences, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (error_id, channel) DO UPDATE SET
	url            = excluded.url,
	project        = excluded.project,
	level          = excluded.level,
	error_type     = excluded.error_type,
	error_message  = excluded.error_message,
	stack          = excluded.stack,
	environment    = excluded.environment,
	"release"      = excluded."release",
	last_seen      = excluded.last_seen,
	event_count    = excluded.event_count,
	users_affected = excluded.users_affected,
	"trigger"      = excluded."trigger",
	occurrences    = alerts.occurrences + 1,
	updated_at     = excluded.updated_at
RETURNING ` + alertColumns

// acceptReturning is what an accept reads back of the stored row: what a
// fold keeps of the first alert, and the counter. Every other column holds
// what the accept wrote (see upsertAlertSQL), so the caller fills it from
// the alert it sent rather than scanning all 21 columns back.
const acceptReturning = `id, message_ts, thread_ts, first_seen, occurrences, created_at`

// acceptSQL is upsertAlertSQL returning only acceptReturning.
var acceptSQL = strings.TrimSuffix(upsertAlertSQL, alertColumns) + acceptReturning

// AcceptAlert stores a new alert or folds it into the existing one for the
// same (ErrorID, Channel), and queues its render job, in one transaction.
// While a render job for the alert is still queued the new one folds into
// it, so a burst of repeats costs one Slack update. It returns the stored
// alert with the error's issue link as it stood in that transaction.
//
// On SQLite, alerts accepted at the same moment share a transaction (see
// groupcommit.go); each call still returns only once its alert is
// committed. On PostgreSQL an accept without more jobs is one statement
// (see acceptPostgresSQL): one round trip instead of BEGIN, two
// statements, a link read and COMMIT.
//
// The jobs each more returns for the stored alert are queued with it.
func (db *DB) AcceptAlert(ctx context.Context, a alert.Alert, more ...func(alert.Alert) []alert.Job) (alert.Accepted, error) {
	a = cleanAlert(a)
	if strings.TrimSpace(a.ErrorID) == "" || strings.TrimSpace(a.Channel) == "" {
		return alert.Accepted{}, fmt.Errorf("alert needs an error id and a channel: %w", alert.ErrInvalid)
	}
	if db.intake != nil {
		return db.intake.accept(ctx, a, more)
	}
	if db.dialect == DialectPostgres && !slices.ContainsFunc(more, func(f func(alert.Alert) []alert.Job) bool { return f != nil }) {
		return db.acceptPostgres(ctx, a)
	}
	var out alert.Accepted
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = db.acceptIn(ctx, tx, a, more)
		return err
	})
	if err != nil {
		return alert.Accepted{}, err
	}
	return out, nil
}

// seen fills in the times the core leaves zero: "seen now".
func seen(a alert.Alert, now time.Time) alert.Alert {
	if a.LastSeen.IsZero() {
		a.LastSeen = now
	}
	if a.FirstSeen.IsZero() {
		a.FirstSeen = a.LastSeen
	}
	return a
}

// upsertArgs are upsertAlertSQL's arguments for a at now.
func (db *DB) upsertArgs(a alert.Alert, now time.Time) []any {
	return []any{a.ErrorID, a.Channel, a.URL, a.Project, a.Level, a.ErrorType, a.ErrorMessage,
		a.Stack, a.Environment, a.Release, db.t(a.FirstSeen), db.t(a.LastSeen), a.EventCount,
		a.UsersAffected, string(a.Trigger), db.t(now), db.t(now)}
}

// storedAlert is the row the upsert of a at now left: a's columns as
// written, and the ones the upsert returned (acceptReturning, scanned into
// out).
func storedAlert(a alert.Alert, now time.Time, out alert.Alert) alert.Alert {
	a.ID, a.MessageTS, a.ThreadTS, a.Occurrences = out.ID, out.MessageTS, out.ThreadTS, out.Occurrences
	a.FirstSeen, a.CreatedAt = out.FirstSeen, out.CreatedAt
	a.LastSeen, a.UpdatedAt = dbTime(a.LastSeen), now
	return utcAlert(a)
}

// returned is where acceptReturning's columns scan into.
func returned(out *alert.Alert) []any {
	return []any{&out.ID, &out.MessageTS, &out.ThreadTS, &out.FirstSeen, &out.Occurrences, &out.CreatedAt}
}

// acceptIn is AcceptAlert's work in tx.
func (db *DB) acceptIn(ctx context.Context, tx *sqlx.Tx, a alert.Alert, more []func(alert.Alert) []alert.Job) (alert.Accepted, error) {
	stored, err := db.storeIn(ctx, tx, a, more)
	if err != nil {
		return alert.Accepted{}, err
	}
	link, err := db.linkIn(ctx, tx, a.ErrorID)
	if err != nil {
		return alert.Accepted{}, err
	}
	return alert.Accepted{Alert: stored, Link: link}, nil
}

// storeIn upserts a and queues its jobs in tx, and returns the stored alert.
func (db *DB) storeIn(ctx context.Context, tx *sqlx.Tx, a alert.Alert, more []func(alert.Alert) []alert.Job) (alert.Alert, error) {
	now := db.clock()
	a = seen(a, now)
	var out alert.Alert
	if err := db.scan(ctx, tx, acceptSQL, db.upsertArgs(a, now), returned(&out)...); err != nil {
		return alert.Alert{}, wrap(err, "upsert alert %s in %s", a.ErrorID, a.Channel)
	}
	stored := storedAlert(a, now, out)
	jobs := []alert.Job{alert.IntakeJob(stored, now, db.UpdateGap())}
	for _, f := range more {
		if f != nil {
			jobs = append(jobs, f(stored)...)
		}
	}
	if err := db.insertJobs(ctx, tx, now, jobs...); err != nil {
		return alert.Alert{}, err
	}
	return stored, nil
}

// acceptPostgresSQL is AcceptAlert on PostgreSQL in one statement, run in
// autocommit (a statement is its own transaction): the upsert, the intake
// job and the read of the error's link. The job is alert.IntakeJob
// written in SQL (TestAcceptQueuesIntakeJob holds the two together): the
// render job while the message is not posted, else the repeat job due a
// gap later; its INSERT folds into a queued job of the same key as
// insertJobSQL does, and like it the job's pace key is the alert's
// channel (a render job posts there). The link is read in the same
// snapshot the upsert ran in, as a transaction's read would be.
var acceptPostgresSQL = `WITH a AS (` + acceptSQL + `, error_id, channel),
j AS (
	INSERT INTO jobs (kind, alert_id, text, payload, dedupe_key, serial_key, pace_key, status, attempts, run_at, created_at)
	SELECT 'render_alert', a.id, '',
		CASE WHEN a.message_ts = '' THEN '' ELSE 'repeat' END,
		CASE WHEN a.message_ts = '' THEN 'render:' ELSE 'repeat:' END || CAST(a.id AS TEXT),
		'alert:' || CAST(a.id AS TEXT), a.channel, 'queued', 0,
		CASE WHEN a.message_ts = '' THEN CAST(? AS TIMESTAMPTZ) ELSE CAST(? AS TIMESTAMPTZ) END,
		CAST(? AS TIMESTAMPTZ)
	FROM a
	ON CONFLICT DO NOTHING)
SELECT a.` + strings.ReplaceAll(acceptReturning, ", ", ", a.") + `, ` + linkScanColumns + `
FROM a LEFT JOIN issue_links l ON l.error_id = a.error_id`

// acceptPostgres is AcceptAlert on PostgreSQL without more jobs. It
// returns once the statement is committed: Row.Scan closes the rows, which
// reads the server's answer to its end, after the implicit COMMIT (and
// its error, if that failed).
func (db *DB) acceptPostgres(ctx context.Context, a alert.Alert) (alert.Accepted, error) {
	now := db.clock()
	a = seen(a, now)
	args := append(db.upsertArgs(a, now), db.t(now), db.t(now.Add(db.UpdateGap())), db.t(now))
	var out alert.Alert
	var lr linkScan
	if err := db.scan(ctx, nil, acceptPostgresSQL, args, append(returned(&out), lr.dests()...)...); err != nil {
		return alert.Accepted{}, wrap(err, "accept alert %s in %s", a.ErrorID, a.Channel)
	}
	return alert.Accepted{Alert: storedAlert(a, now, out), Link: lr.link()}, nil
}

// Alert returns one alert; ErrNotFound if none.
func (db *DB) Alert(ctx context.Context, id int64) (alert.Alert, error) {
	var a alert.Alert
	err := db.get(ctx, nil, &a, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, id)
	if err != nil {
		return alert.Alert{}, wrap(err, "alert %d", id)
	}
	return utcAlert(a), nil
}

// AlertsByError returns every alert (one per channel) of an error, oldest
// first; none is not an error.
func (db *DB) AlertsByError(ctx context.Context, errorID string) ([]alert.Alert, error) {
	var as []alert.Alert
	err := db.sel(ctx, nil, &as, `SELECT `+alertColumns+` FROM alerts WHERE error_id = ? ORDER BY id`, errorID)
	if err != nil {
		return nil, wrap(err, "alerts of error %s", errorID)
	}
	for i := range as {
		as[i] = utcAlert(as[i])
	}
	return as, nil
}

// SetAlertMessage records the Slack ts of the alert's message and makes the
// alert's queued jobs of alert.MessageWaitKinds due now.
func (db *DB) SetAlertMessage(ctx context.Context, alertID int64, ts string) error {
	now := db.t(db.clock())
	return db.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := db.exec(ctx, tx, `UPDATE alerts SET message_ts = ?, updated_at = ? WHERE id = ?`, ts, now, alertID)
		if err := mustAffect(res, err, "set message of alert %d", alertID); err != nil {
			return err
		}
		// The alert's jobs that put themselves back until its message was
		// out run now, not when they would have looked again.
		_, err = db.exec(ctx, tx, messageWaitersDue, now, alertID, now)
		return wrap(err, "jobs waiting for the message of alert %d", alertID)
	})
}

// messageWaitersDue makes the queued jobs of alert.MessageWaitKinds of an
// alert that are due later due now (jobs_alert finds them).
var messageWaitersDue = `UPDATE jobs SET run_at = ? WHERE alert_id = ? AND status = 'queued' AND run_at > ? AND kind IN (` +
	quotedKinds(alert.MessageWaitKinds) + `)`

// quotedKinds is kinds as a list of SQL string literals (the kinds are
// the core's constants, never input).
func quotedKinds(kinds []alert.JobKind) string {
	q := make([]string, len(kinds))
	for i, k := range kinds {
		q[i] = "'" + string(k) + "'"
	}
	return strings.Join(q, ", ")
}

// cleanAlert makes every text of a storable (see clean): an alert's text
// is the sender's, and a NUL in a message must not keep it out.
func cleanAlert(a alert.Alert) alert.Alert {
	for _, f := range []*string{&a.ErrorID, &a.Channel, &a.URL, &a.Project, &a.Level, &a.ErrorType,
		&a.ErrorMessage, &a.Stack, &a.Environment, &a.Release} {
		*f = clean(*f)
	}
	a.Trigger = alert.Trigger(clean(string(a.Trigger)))
	return a
}

// utcAlert puts a scanned alert's times in UTC: lib/pq returns them in the
// session's time zone.
func utcAlert(a alert.Alert) alert.Alert {
	a.FirstSeen = a.FirstSeen.UTC()
	a.LastSeen = a.LastSeen.UTC()
	a.CreatedAt = a.CreatedAt.UTC()
	a.UpdatedAt = a.UpdatedAt.UTC()
	return a
}
