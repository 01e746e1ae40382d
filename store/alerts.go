package store

import (
	"context"
	"fmt"
	"strings"

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

// AcceptAlert stores a new alert or folds it into the existing one for the
// same (ErrorID, Channel), and queues its render job, in one transaction.
// While a render job for the alert is still queued the new one folds into
// it, so a burst of repeats costs one Slack update. On SQLite, alerts
// accepted at the same moment share a transaction (see groupcommit.go);
// each call still returns only once its alert is committed.
//
// The jobs each more returns for the stored alert are queued with it.
func (db *DB) AcceptAlert(ctx context.Context, a alert.Alert, more ...func(alert.Alert) []alert.Job) (alert.Alert, error) {
	a = cleanAlert(a)
	if strings.TrimSpace(a.ErrorID) == "" || strings.TrimSpace(a.Channel) == "" {
		return alert.Alert{}, fmt.Errorf("alert needs an error id and a channel: %w", alert.ErrInvalid)
	}
	if db.intake != nil {
		return db.intake.accept(ctx, a, more)
	}
	var out alert.Alert
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = db.acceptIn(ctx, tx, a, more)
		return err
	})
	if err != nil {
		return alert.Alert{}, err
	}
	return out, nil
}

// acceptIn is AcceptAlert's work in tx.
func (db *DB) acceptIn(ctx context.Context, tx *sqlx.Tx, a alert.Alert, more []func(alert.Alert) []alert.Job) (alert.Alert, error) {
	now := db.clock()
	// The core fills these; a caller that did not gets "seen now".
	if a.LastSeen.IsZero() {
		a.LastSeen = now
	}
	if a.FirstSeen.IsZero() {
		a.FirstSeen = a.LastSeen
	}
	var out alert.Alert
	err := db.get(ctx, tx, &out, upsertAlertSQL,
		a.ErrorID, a.Channel, a.URL, a.Project, a.Level, a.ErrorType, a.ErrorMessage,
		a.Stack, a.Environment, a.Release, db.t(a.FirstSeen), db.t(a.LastSeen), a.EventCount,
		a.UsersAffected, string(a.Trigger), db.t(now), db.t(now),
	)
	if err != nil {
		return alert.Alert{}, wrap(err, "upsert alert %s in %s", a.ErrorID, a.Channel)
	}
	jobs := []alert.Job{alert.IntakeJob(out, now, db.UpdateGap())}
	for _, f := range more {
		if f != nil {
			jobs = append(jobs, f(utcAlert(out))...)
		}
	}
	if err := db.insertJobs(ctx, tx, now, jobs...); err != nil {
		return alert.Alert{}, err
	}
	return utcAlert(out), nil
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

// SetAlertMessage records the Slack ts of the alert's message.
func (db *DB) SetAlertMessage(ctx context.Context, alertID int64, ts string) error {
	res, err := db.exec(ctx, nil, `UPDATE alerts SET message_ts = ?, updated_at = ? WHERE id = ?`,
		ts, db.t(db.clock()), alertID)
	return mustAffect(res, err, "set message of alert %d", alertID)
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
