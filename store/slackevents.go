package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// SlackEventRetention is how long a handled Events API event_id is kept.
// Slack retries an unacknowledged event three times within minutes
// (https://api.slack.com/apis/events-api#retries); three days cover a
// replica that was down and keep the table small. Pass
// now.Add(-SlackEventRetention) to PruneSlackEvents.
const SlackEventRetention = 3 * 24 * time.Hour

// maxEventID bounds a stored event_id; Slack's are about a dozen characters.
const maxEventID = 200

// upsertSlackAlertSQL is upsertAlertSQL for an alert read from a Slack
// message. The message shows less than the webhook sends (no stack, often
// no counters), so what it leaves empty keeps the stored value instead of
// erasing what a webhook alert or an earlier message gave. thread_ts is
// written only by the INSERT: a fold never moves the alert's thread.
const upsertSlackAlertSQL = `INSERT INTO alerts (error_id, channel, thread_ts, url, project, level, error_type,
	error_message, stack, environment, "release", first_seen, last_seen, event_count, users_affected,
	"trigger", occurrences, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (error_id, channel) DO UPDATE SET
	url            = COALESCE(NULLIF(excluded.url, ''), alerts.url),
	project        = COALESCE(NULLIF(excluded.project, ''), alerts.project),
	level          = COALESCE(NULLIF(excluded.level, ''), alerts.level),
	error_type     = COALESCE(NULLIF(excluded.error_type, ''), alerts.error_type),
	error_message  = COALESCE(NULLIF(excluded.error_message, ''), alerts.error_message),
	stack          = COALESCE(NULLIF(excluded.stack, ''), alerts.stack),
	environment    = COALESCE(NULLIF(excluded.environment, ''), alerts.environment),
	"release"      = COALESCE(NULLIF(excluded."release", ''), alerts."release"),
	last_seen      = CASE WHEN excluded.last_seen > alerts.last_seen THEN excluded.last_seen ELSE alerts.last_seen END,
	event_count    = CASE WHEN excluded.event_count > 0 THEN excluded.event_count ELSE alerts.event_count END,
	users_affected = CASE WHEN excluded.users_affected > 0 THEN excluded.users_affected ELSE alerts.users_affected END,
	"trigger"      = COALESCE(NULLIF(excluded."trigger", ''), alerts."trigger"),
	occurrences    = alerts.occurrences + 1,
	updated_at     = excluded.updated_at
RETURNING ` + alertColumns

// AcceptSlackAlert records eventID and stores or folds a, with its render
// job and the jobs more returns, in one transaction (see alert.Store). Of
// several replicas handling the same event_id at once, the primary key
// lets exactly one through: the others wait for its commit, then find the
// row and change nothing.
func (db *DB) AcceptSlackAlert(ctx context.Context, eventID string, a alert.Alert, more func(alert.Alert) []alert.Job) (alert.Alert, bool, error) {
	if strings.TrimSpace(eventID) == "" || len(eventID) > maxEventID {
		return alert.Alert{}, false, fmt.Errorf("slack event id of %d bytes (want 1 to %d): %w", len(eventID), maxEventID, alert.ErrInvalid)
	}
	if strings.TrimSpace(a.ErrorID) == "" || strings.TrimSpace(a.Channel) == "" {
		return alert.Alert{}, false, fmt.Errorf("alert needs an error id and a channel: %w", alert.ErrInvalid)
	}
	now := db.clock()
	if a.LastSeen.IsZero() {
		a.LastSeen = now
	}
	if a.FirstSeen.IsZero() {
		a.FirstSeen = a.LastSeen
	}
	var out alert.Alert
	fresh := false
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := db.exec(ctx, tx, `INSERT INTO slack_events (event_id, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			eventID, db.t(now))
		if err != nil {
			return wrap(err, "record slack event %s", eventID)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap(err, "record slack event %s", eventID)
		} else if n == 0 {
			return nil // handled already, here or on another replica.
		}
		fresh = true
		err = db.get(ctx, tx, &out, upsertSlackAlertSQL,
			a.ErrorID, a.Channel, a.ThreadTS, a.URL, a.Project, a.Level, a.ErrorType, a.ErrorMessage,
			a.Stack, a.Environment, a.Release, db.t(a.FirstSeen), db.t(a.LastSeen), a.EventCount,
			a.UsersAffected, string(a.Trigger), db.t(now), db.t(now),
		)
		if err != nil {
			return wrap(err, "upsert alert %s in %s", a.ErrorID, a.Channel)
		}
		jobs := []alert.Job{alert.IntakeJob(out, now, db.UpdateGap())}
		if more != nil {
			jobs = append(jobs, more(utcAlert(out))...)
		}
		return db.insertJobs(ctx, tx, now, jobs...)
	})
	if err != nil {
		return alert.Alert{}, false, err
	}
	return utcAlert(out), fresh, nil
}

// PruneSlackEvents forgets event_ids received before before and returns
// how many it deleted.
func (db *DB) PruneSlackEvents(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.exec(ctx, nil, `DELETE FROM slack_events WHERE received_at < ?`, db.t(before))
	if err != nil {
		return 0, wrap(err, "prune slack events")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(err, "prune slack events")
	}
	return n, nil
}

// EnsureAlert returns the alert of (a.ErrorID, a.Channel), storing a as a
// new one if there is none, without queuing anything (see alert.Store).
// The INSERT does nothing on a conflict, so of two replicas storing the
// same message's alert at once both read back the one row.
func (db *DB) EnsureAlert(ctx context.Context, a alert.Alert) (alert.Alert, error) {
	if strings.TrimSpace(a.ErrorID) == "" || strings.TrimSpace(a.Channel) == "" {
		return alert.Alert{}, fmt.Errorf("alert needs an error id and a channel: %w", alert.ErrInvalid)
	}
	now := db.clock()
	if a.LastSeen.IsZero() {
		a.LastSeen = now
	}
	if a.FirstSeen.IsZero() {
		a.FirstSeen = a.LastSeen
	}
	_, err := db.exec(ctx, nil, `INSERT INTO alerts (error_id, channel, thread_ts, url, project, level, error_type,
	error_message, stack, environment, "release", first_seen, last_seen, event_count, users_affected,
	"trigger", occurrences, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (error_id, channel) DO NOTHING`,
		a.ErrorID, a.Channel, a.ThreadTS, a.URL, a.Project, a.Level, a.ErrorType, a.ErrorMessage,
		a.Stack, a.Environment, a.Release, db.t(a.FirstSeen), db.t(a.LastSeen), a.EventCount,
		a.UsersAffected, string(a.Trigger), db.t(now), db.t(now))
	if err != nil {
		return alert.Alert{}, wrap(err, "ensure alert %s in %s", a.ErrorID, a.Channel)
	}
	var out alert.Alert
	if err := db.get(ctx, nil, &out, `SELECT `+alertColumns+` FROM alerts WHERE error_id = ? AND channel = ?`,
		a.ErrorID, a.Channel); err != nil {
		return alert.Alert{}, wrap(err, "alert %s in %s", a.ErrorID, a.Channel)
	}
	return utcAlert(out), nil
}
