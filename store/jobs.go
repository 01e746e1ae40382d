package store

import (
	"context"
	"fmt"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// Job statuses. A job is queued until claimed, running while leased, and
// dead once buried; done jobs are deleted.
const (
	jobQueued  = "queued"
	jobRunning = "running"
	jobDead    = "dead"
)

// jobColumns lists jobs' columns in alert.Job's db tags. A NULL dedupe key
// (the job never folds) reads as "".
const jobColumns = `id, kind, alert_id, text, COALESCE(dedupe_key, '') AS dedupe_key, attempts, run_at, last_error, created_at`

// maxLastError bounds the error text kept per job: enough for any Slack or
// SQL error, small enough that a pathological one cannot bloat the row.
const maxLastError = 2000

// insertJobSQL folds a job with a dedupe key into the queued job holding
// that key (the partial unique index jobs_dedupe_queued): DO NOTHING keeps
// the queued job and its due time. A running job is outside the index, so
// a repeat that arrives while it runs queues a fresh job and the message
// is rendered again with the newer state.
const insertJobSQL = `INSERT INTO jobs (kind, alert_id, text, dedupe_key, status, attempts, run_at, created_at)
VALUES (?, ?, ?, ?, 'queued', 0, ?, ?)
ON CONFLICT DO NOTHING`

// insertJobs queues jobs in tx. A job without RunAt is due now.
func (db *DB) insertJobs(ctx context.Context, tx *sqlx.Tx, now time.Time, jobs ...alert.Job) error {
	for _, j := range jobs {
		if j.Kind == "" || j.AlertID <= 0 {
			return fmt.Errorf("job needs a kind and an alert: %w", alert.ErrInvalid)
		}
		var key any // NULL: never folds (NULLs are distinct in a unique index).
		if j.DedupeKey != "" {
			key = j.DedupeKey
		}
		runAt := j.RunAt
		if runAt.IsZero() {
			runAt = now
		}
		if _, err := tx.ExecContext(ctx, db.q(insertJobSQL),
			string(j.Kind), j.AlertID, j.Text, key, db.t(runAt), db.t(now)); err != nil {
			return wrap(err, "queue %s job for alert %d", j.Kind, j.AlertID)
		}
	}
	return nil
}

// Enqueue adds jobs to the queue, in one transaction.
func (db *DB) Enqueue(ctx context.Context, jobs ...alert.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	now := db.clock()
	return db.inTx(ctx, func(tx *sqlx.Tx) error { return db.insertJobs(ctx, tx, now, jobs...) })
}

// claimSet is what a claim does to a job: lease it, and count an expired
// lease as a failed attempt, so a job that kills its worker every time
// reaches MaxAttempts and is buried instead of looping for ever. In SET,
// status is the value before the update.
const claimSet = `SET status = 'running',
	locked_until = ?,
	attempts = attempts + CASE WHEN status = 'running' THEN 1 ELSE 0 END,
	last_error = CASE WHEN status = 'running' THEN 'lease expired' ELSE last_error END`

// claimDue selects due jobs: queued and due, or running with a lease that
// ran out (the worker died).
const claimDue = `SELECT id FROM jobs
	WHERE (status = 'queued' AND run_at <= ?) OR (status = 'running' AND locked_until <= ?)
	ORDER BY run_at, id LIMIT ?`

// claimSQLite is one statement: SQLite has a single writer, so nothing can
// claim the same rows between the SELECT and the UPDATE.
const claimSQLite = `UPDATE jobs ` + claimSet + `
WHERE id IN (` + claimDue + `)
RETURNING ` + jobColumns

// claimPostgres locks the due rows with SKIP LOCKED, so replicas claiming
// at once each take different jobs instead of waiting on each other.
// https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE
const claimPostgres = `WITH due AS (` + claimDue + ` FOR UPDATE SKIP LOCKED)
UPDATE jobs ` + claimSet + `
WHERE id IN (SELECT id FROM due)
RETURNING ` + jobColumns

// ClaimJobs leases up to limit due jobs for lease, oldest due first.
func (db *DB) ClaimJobs(ctx context.Context, limit int, lease time.Duration) ([]alert.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, fmt.Errorf("lease %v: %w", lease, alert.ErrInvalid)
	}
	now := db.clock()
	// The placeholders come in text order, which differs: the CTE comes
	// first on PostgreSQL.
	query, args := claimSQLite, []any{db.t(now.Add(lease)), db.t(now), db.t(now), limit}
	if db.dialect == DialectPostgres {
		query, args = claimPostgres, []any{db.t(now), db.t(now), limit, db.t(now.Add(lease))}
	}
	var jobs []alert.Job
	err := db.x.SelectContext(ctx, &jobs, db.q(query), args...)
	if err != nil {
		return nil, wrap(err, "claim jobs")
	}
	for i := range jobs {
		jobs[i] = utcJob(jobs[i])
	}
	// RETURNING has no order.
	sort.Slice(jobs, func(i, k int) bool {
		if !jobs[i].RunAt.Equal(jobs[k].RunAt) {
			return jobs[i].RunAt.Before(jobs[k].RunAt)
		}
		return jobs[i].ID < jobs[k].ID
	})
	return jobs, nil
}

// FinishJob deletes a job that is done; ErrNotFound if it is gone.
func (db *DB) FinishJob(ctx context.Context, id int64) error {
	res, err := db.x.ExecContext(ctx, db.q(`DELETE FROM jobs WHERE id = ?`), id)
	return mustAffect(res, err, "finish job %d", id)
}

// RetryJob puts a job back in the queue, due at runAt, counting the
// attempt. If a newer job with the same dedupe key was queued meanwhile,
// this one is dropped instead: the newer one renders the same state.
func (db *DB) RetryJob(ctx context.Context, id int64, runAt time.Time, lastErr string) error {
	res, err := db.x.ExecContext(ctx, db.q(`UPDATE jobs
		SET status = 'queued', run_at = ?, attempts = attempts + 1, last_error = ?, locked_until = NULL
		WHERE id = ?`), db.t(runAt), clip(lastErr), id)
	if isUniqueViolation(err) {
		// Requeueing would clash in jobs_dedupe_queued. The statement ran
		// alone (no transaction to abort), so delete in a second one.
		db.log.DebugContext(ctx, "retry folded into a newer queued job", "job_id", id)
		res, err = db.x.ExecContext(ctx, db.q(`DELETE FROM jobs WHERE id = ?`), id)
	}
	return mustAffect(res, err, "retry job %d", id)
}

// BuryJob keeps a job that failed for good out of the queue (status dead),
// with its last error, for an operator to look at.
func (db *DB) BuryJob(ctx context.Context, id int64, lastErr string) error {
	res, err := db.x.ExecContext(ctx, db.q(`UPDATE jobs
		SET status = 'dead', attempts = attempts + 1, last_error = ?, locked_until = NULL
		WHERE id = ?`), clip(lastErr), id)
	return mustAffect(res, err, "bury job %d", id)
}

// QueueStats counts the jobs in each state, for metrics and health checks.
type QueueStats struct {
	Queued  int64 // waiting, due or not.
	Running int64 // leased by a worker.
	Dead    int64 // buried, waiting for an operator.
	// OldestDue is the due time of the oldest queued job, zero if none. A
	// growing age means the dispatcher is stuck or Slack is refusing us.
	OldestDue time.Time
}

// QueueStats reports the queue's size by state.
func (db *DB) QueueStats(ctx context.Context) (QueueStats, error) {
	var counts []struct {
		Status string `db:"status"`
		N      int64  `db:"n"`
	}
	if err := db.x.SelectContext(ctx, &counts, `SELECT status, COUNT(*) AS n FROM jobs GROUP BY status`); err != nil {
		return QueueStats{}, wrap(err, "queue stats")
	}
	var s QueueStats
	for _, c := range counts {
		switch c.Status {
		case jobQueued:
			s.Queued = c.N
		case jobRunning:
			s.Running = c.N
		case jobDead:
			s.Dead = c.N
		}
	}
	if s.Queued > 0 {
		// ORDER BY rather than MIN(): SQLite returns MIN's result as
		// untyped text, while a plain column keeps its DATETIME type.
		err := db.x.GetContext(ctx, &s.OldestDue, db.q(`SELECT run_at FROM jobs WHERE status = ? ORDER BY run_at LIMIT 1`), jobQueued)
		if err != nil {
			return QueueStats{}, wrap(err, "oldest queued job")
		}
		s.OldestDue = s.OldestDue.UTC()
	}
	return s, nil
}

// clip bounds s to maxLastError bytes without splitting a UTF-8 sequence.
func clip(s string) string {
	if len(s) <= maxLastError {
		return s
	}
	for i := maxLastError; i > maxLastError-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i]
		}
	}
	return s[:maxLastError]
}

// utcJob puts a scanned job's times in UTC.
func utcJob(j alert.Job) alert.Job {
	j.RunAt = j.RunAt.UTC()
	j.CreatedAt = j.CreatedAt.UTC()
	return j
}
