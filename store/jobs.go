package store

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// Job statuses. A job is queued until claimed, running while leased, and
// dead once buried; done jobs are deleted.
const (
	jobQueued  = string(alert.JobQueued)
	jobRunning = string(alert.JobRunning)
	jobDead    = string(alert.JobDead)
)

// jobColumns lists jobs' columns in alert.Job's db tags. NULL alert id,
// dedupe and serial keys read as 0 and "". Table-qualified so it can join.
const jobColumns = `jobs.id, jobs.kind, COALESCE(jobs.alert_id, 0) AS alert_id, jobs.text, jobs.payload,
	COALESCE(jobs.dedupe_key, '') AS dedupe_key, COALESCE(jobs.serial_key, '') AS serial_key, jobs.status,
	jobs.attempts, jobs.run_at, jobs.last_error, jobs.created_at`

// maxLastError bounds the error text kept per job: enough for any Slack or
// SQL error, small enough that a pathological one cannot bloat the row.
const maxLastError = 2000

// insertJobSQL folds a job with a dedupe key into the queued job holding
// that key (the partial unique index jobs_dedupe_queued): DO NOTHING keeps
// the queued job and its due time. A running job is outside the index, so
// a repeat that arrives while it runs queues a fresh job and the message
// is rendered again with the newer state.
const insertJobSQL = `INSERT INTO jobs (kind, alert_id, text, payload, dedupe_key, serial_key, status, attempts, run_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)
ON CONFLICT DO NOTHING`

// insertJobs queues jobs in tx. A job without RunAt is due now.
func (db *DB) insertJobs(ctx context.Context, tx *sqlx.Tx, now time.Time, jobs ...alert.Job) error {
	for _, j := range jobs {
		if j.Kind == "" || j.AlertID < 0 {
			return fmt.Errorf("job needs a kind: %w", alert.ErrInvalid)
		}
		runAt := j.RunAt
		if runAt.IsZero() {
			runAt = now
		}
		// NULL: no alert; never folds; no serial bound (NULLs are distinct
		// in a unique index and match nothing in the claim).
		if _, err := db.exec(ctx, tx, insertJobSQL,
			string(j.Kind), nullInt(j.AlertID), clean(j.Text), clean(j.Payload),
			nullString(j.DedupeKey), nullString(j.SerialKey), db.t(runAt), db.t(now)); err != nil {
			return wrap(err, "queue %s job (alert %d)", j.Kind, j.AlertID)
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

// claimSQL leases due jobs, at most one per serial key and none whose
// serial key a live running job holds: of the due jobs of one key the
// oldest goes first, so a job that keeps postponing itself (a note waiting
// for its message) cannot starve the one it waits for. A claim also counts
// an expired lease as a failed attempt, so a job that kills its worker
// every time reaches MaxAttempts and is buried instead of looping for ever.
// In SET, status is the value before the update. RETURNING has no order.
//
// Due: queued and due, or running with a lease that ran out (the worker
// died). Each kind of candidate is read in due order through an index
// (jobs_queue) and checked against the other jobs of its serial key through
// another (jobs_serial), so a claim reads about as many rows as it takes,
// however long the backlog. A paced claim (alert.ClaimPace) also leaves out
// a channel's jobs until its turn is near, and takes at most PerChannel of
// one channel from the candidates.
//
// SQLite runs it alone (one writer, so nothing claims between the SELECT
// and the UPDATE); PostgreSQL first takes a transaction-level advisory
// lock, because SKIP LOCKED alone would let two replicas each lock a
// different job of the same serial key. Claims are short, so serialising
// them costs little.
//
// The %s are the two candidate branches (claimCandidates).
const claimSQL = `UPDATE jobs SET status = 'running', locked_until = ?, owner = ?,
	attempts = attempts + CASE WHEN status = 'running' THEN 1 ELSE 0 END,
	last_error = CASE WHEN status = 'running' THEN 'lease expired' ELSE last_error END
WHERE id IN (
	SELECT id FROM (
		SELECT id, run_at, ROW_NUMBER() OVER (PARTITION BY pace_key ORDER BY run_at, id) AS c FROM (
			SELECT * FROM (%s) queued
			UNION ALL
			SELECT * FROM (%s) expired
		) candidates
	) ranked
	WHERE c <= ? ORDER BY run_at, id LIMIT ?)
RETURNING ` + jobColumns

// claimCandidates is one branch of claimSQL's candidates: due is
// "j.status = 'queued' AND j.run_at <= ?" or "j.status = 'running' AND
// j.locked_until <= ?". Its %s: the pace key, the pace join, due, the pace
// turn. Placeholders: [kinds…], now (due), now ×3 (serial key), [next slot
// by, hold over by], candidates.
//
// The serial key's two checks are plain NOT EXISTS (a NULL key matches
// nothing) so the planner makes them anti-joins on jobs_serial_running and
// jobs_serial, and the CASE keeps PostgreSQL from splitting the older-due
// test into an index scan without the key: that plan, chosen on a young
// table without statistics, read the whole backlog for every candidate.
const claimCandidates = `SELECT j.id, j.run_at, %s AS pace_key
			FROM jobs j%s
			WHERE %s
			AND NOT EXISTS (SELECT 1 FROM jobs r
				WHERE r.serial_key = j.serial_key AND r.status = 'running' AND r.locked_until > ?)
			AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.serial_key = j.serial_key AND o.id < j.id
				AND CASE o.status WHEN 'queued' THEN o.run_at <= ? WHEN 'running' THEN o.locked_until <= ? ELSE FALSE END)%s
			ORDER BY j.run_at, j.id LIMIT ?`

// Pieces of claimCandidates for a paced claim: a job of a paced kind is
// keyed by its alert's channel and joined to the channel's pace; any other
// job has a key of its own and no pace row.
const (
	claimOwnKey   = `'job:' || CAST(j.id AS TEXT)`
	claimPaceKey  = `COALESCE(a.channel, ` + claimOwnKey + `)`
	claimPaceJoin = ` LEFT JOIN alerts a ON a.id = j.alert_id AND j.kind IN (%s) LEFT JOIN channel_pace p ON p.channel = a.channel`
	claimPaceTurn = `
			AND (p.channel IS NULL OR (p.next_at <= ? AND p.held_until <= ?))`
)

// claimLockPostgres serialises claims per schema (tests share a database
// in separate schemas). https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
const claimLockPostgres = `SELECT pg_advisory_xact_lock(
	('x' || substr(md5('proliferate-linear/claim/' || COALESCE(current_schema(), '')), 1, 16))::bit(64)::bigint)`

// ClaimJobs leases up to limit due jobs to owner for lease, oldest due
// first. A job that posts in its alert's channel (alert.ChannelKinds) is
// due only once the channel's turn has come: not while Slack's Retry-After
// holds it.
func (db *DB) ClaimJobs(ctx context.Context, owner string, limit int, lease time.Duration) ([]alert.Job, error) {
	return db.ClaimPacedJobs(ctx, owner, limit, lease, alert.ClaimPace{Kinds: alert.ChannelKinds, PerChannel: limit})
}

// ClaimPacedJobs is ClaimJobs keeping Slack's channel pace: jobs of
// pace.Kinds whose channel's next slot is more than pace.Ahead away, or
// whose hold lasts more than pace.HoldAhead, stay queued, and at most
// pace.PerChannel of one channel are claimed (see alert.ClaimPace).
// Without kinds no job waits for its channel.
func (db *DB) ClaimPacedJobs(ctx context.Context, owner string, limit int, lease time.Duration, pace alert.ClaimPace) ([]alert.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, fmt.Errorf("lease %v: %w", lease, alert.ErrInvalid)
	}
	now := db.clock()
	paced := len(pace.Kinds) > 0
	perChannel := limit
	if paced {
		perChannel = max(pace.PerChannel, 1)
	}
	args := []any{db.t(now.Add(lease)), owner}
	var branches [2]string
	for i, due := range []string{`j.status = 'queued' AND j.run_at <= ?`, `j.status = 'running' AND j.locked_until <= ?`} {
		key, join, turn := claimOwnKey, "", ""
		if paced {
			marks := strings.TrimSuffix(strings.Repeat("?, ", len(pace.Kinds)), ", ")
			key, join, turn = claimPaceKey, fmt.Sprintf(claimPaceJoin, marks), claimPaceTurn
			for _, k := range pace.Kinds {
				args = append(args, string(k))
			}
		}
		branches[i] = fmt.Sprintf(claimCandidates, key, join, due, turn)
		args = append(args, db.t(now), db.t(now), db.t(now), db.t(now))
		if paced {
			args = append(args, db.t(now.Add(max(pace.Ahead, 0))), db.t(now.Add(max(pace.HoldAhead, 0))))
		}
		// Enough candidates that the extra jobs of a few channels, left
		// out by perChannel, rarely leave the claim short.
		args = append(args, 4*limit)
	}
	query := fmt.Sprintf(claimSQL, branches[0], branches[1])
	args = append(args, perChannel, limit)
	var jobs []alert.Job
	var err error
	if db.dialect == DialectPostgres {
		err = db.inTx(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, claimLockPostgres); err != nil {
				return fmt.Errorf("claim lock: %w", err)
			}
			return db.sel(ctx, tx, &jobs, query, args...)
		})
	} else {
		// One statement, no transaction: SQLite's single writer makes it
		// atomic, and it holds the write lock for the shortest time when
		// several processes share the file.
		err = db.sel(ctx, nil, &jobs, query, args...)
	}
	if err != nil {
		return nil, wrap(err, "claim jobs")
	}
	for i := range jobs {
		jobs[i] = utcJob(jobs[i])
	}
	sort.Slice(jobs, func(i, k int) bool {
		if !jobs[i].RunAt.Equal(jobs[k].RunAt) {
			return jobs[i].RunAt.Before(jobs[k].RunAt)
		}
		return jobs[i].ID < jobs[k].ID
	})
	return jobs, nil
}

// ExtendLeases renews owner's leases on ids for lease from now and returns
// the ids that are not owner's running jobs any more.
func (db *DB) ExtendLeases(ctx context.Context, owner string, ids []int64, lease time.Duration) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	query, args, err := sqlx.In(`UPDATE jobs SET locked_until = ?
		WHERE owner = ? AND status = 'running' AND id IN (?) RETURNING id`,
		db.t(db.clock().Add(lease)), owner, ids)
	if err != nil {
		return nil, fmt.Errorf("extend leases: %w", err)
	}
	var kept []int64
	if err := db.x.SelectContext(ctx, &kept, db.q(query), args...); err != nil {
		return nil, wrap(err, "extend leases")
	}
	var lost []int64
	for _, id := range ids {
		if !slices.Contains(kept, id) {
			lost = append(lost, id)
		}
	}
	return lost, nil
}

// FinishJob deletes a job that is done; ErrNotFound if it is gone.
func (db *DB) FinishJob(ctx context.Context, id int64) error {
	res, err := db.exec(ctx, nil, `DELETE FROM jobs WHERE id = ?`, id)
	return mustAffect(res, err, "finish job %d", id)
}

// RetryJob puts a job back in the queue, due at runAt, counting the
// attempt. If a newer job with the same dedupe key was queued meanwhile,
// this one is dropped instead: the newer one renders the same state.
func (db *DB) RetryJob(ctx context.Context, id int64, runAt time.Time, lastErr string) error {
	return db.requeue(ctx, id, runAt, lastErr, 1, "retry job %d")
}

// PostponeJob puts a job back, due at runAt, without counting an attempt;
// it folds into a newer queued job like RetryJob.
func (db *DB) PostponeJob(ctx context.Context, id int64, runAt time.Time, reason string) error {
	return db.requeue(ctx, id, runAt, reason, 0, "postpone job %d")
}

func (db *DB) requeue(ctx context.Context, id int64, runAt time.Time, lastErr string, attempt int, what string) error {
	res, err := db.exec(ctx, nil, `UPDATE jobs
		SET status = 'queued', run_at = ?, attempts = attempts + ?, last_error = ?, locked_until = NULL, owner = ''
		WHERE id = ?`, db.t(runAt), attempt, clip(lastErr), id)
	if isUniqueViolation(err) {
		// Requeueing would clash in jobs_dedupe_queued. The statement ran
		// alone (no transaction to abort), so delete in a second one.
		db.log.DebugContext(ctx, "job folded into a newer queued job", "job_id", id)
		res, err = db.exec(ctx, nil, `DELETE FROM jobs WHERE id = ?`, id)
	}
	return mustAffect(res, err, what, id)
}

// BuryJob keeps a job that failed for good out of the queue (status dead),
// with its reason, for an operator to retry or drop.
func (db *DB) BuryJob(ctx context.Context, id int64, reason string) error {
	now := db.clock()
	res, err := db.exec(ctx, nil, `UPDATE jobs
		SET status = 'dead', attempts = attempts + 1, last_error = ?, locked_until = NULL, owner = '', dead_at = ?
		WHERE id = ?`, clip(reason), db.t(now), id)
	return mustAffect(res, err, "bury job %d", id)
}

// JobByDedupeKey returns the newest job holding key, dead ones included;
// ErrNotFound if none.
func (db *DB) JobByDedupeKey(ctx context.Context, key string) (alert.Job, error) {
	return db.jobByKey(ctx, key, "")
}

// DeadJobByDedupeKey returns the newest dead job holding key; ErrNotFound
// if none. An auto rule's filing that failed for good stays dead under its
// error's key, so a later job for the error knows the thread was told.
func (db *DB) DeadJobByDedupeKey(ctx context.Context, key string) (alert.Job, error) {
	return db.jobByKey(ctx, key, jobDead)
}

// jobByKey returns the newest job holding key, in status unless that is
// empty; ErrNotFound if none.
func (db *DB) jobByKey(ctx context.Context, key, status string) (alert.Job, error) {
	query, args := `SELECT `+jobColumns+` FROM jobs WHERE dedupe_key = ?`, []any{key}
	what := "job %s"
	if status != "" {
		query, args, what = query+` AND status = ?`, append(args, status), status+" job %s"
	}
	var j alert.Job
	if err := db.get(ctx, nil, &j, query+` ORDER BY id DESC LIMIT 1`, args...); err != nil {
		return alert.Job{}, wrap(err, what, key)
	}
	return utcJob(j), nil
}

// ListJobs returns up to limit jobs by id, only dead ones if deadOnly.
func (db *DB) ListJobs(ctx context.Context, deadOnly bool, limit int) ([]alert.Job, error) {
	query := `SELECT ` + jobColumns + ` FROM jobs`
	args := []any{}
	if deadOnly {
		query += ` WHERE status = ?`
		args = append(args, jobDead)
	}
	query += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	var jobs []alert.Job
	if err := db.x.SelectContext(ctx, &jobs, db.q(query), args...); err != nil {
		return nil, wrap(err, "list jobs")
	}
	for i := range jobs {
		jobs[i] = utcJob(jobs[i])
	}
	return jobs, nil
}

// ReviveJob queues a dead job again, due now, with its attempts reset. If
// a queued job with the same dedupe key exists (it does the same work),
// the dead one is deleted instead and folded is true. A job that is not
// dead is refused with ErrConflict; a missing one is ErrNotFound.
func (db *DB) ReviveJob(ctx context.Context, id int64) (folded bool, err error) {
	err = db.inTx(ctx, func(tx *sqlx.Tx) error {
		var status string
		if err := db.get(ctx, tx, &status, `SELECT status FROM jobs WHERE id = ?`, id); err != nil {
			return wrap(err, "job %d", id)
		}
		if status != jobDead {
			return fmt.Errorf("job %d is %s, not dead: %w", id, status, alert.ErrConflict)
		}
		var clash int
		if err := db.get(ctx, tx, &clash, `SELECT COUNT(*) FROM jobs q JOIN jobs d ON q.dedupe_key = d.dedupe_key
			WHERE d.id = ? AND q.status = 'queued'`, id); err != nil {
			return wrap(err, "job %d", id)
		}
		if clash > 0 {
			folded = true
			_, err := db.exec(ctx, tx, `DELETE FROM jobs WHERE id = ?`, id)
			return wrap(err, "drop job %d", id)
		}
		_, err := db.exec(ctx, tx, `UPDATE jobs SET status = 'queued', attempts = 0, run_at = ?, dead_at = NULL
			WHERE id = ?`, db.t(db.clock()), id)
		return wrap(err, "revive job %d", id)
	})
	return folded, err
}

// DropJob deletes a queued or dead job. A running job is refused with
// ErrConflict (its worker would finish or retry it); a missing one is
// ErrNotFound.
func (db *DB) DropJob(ctx context.Context, id int64) error {
	return db.inTx(ctx, func(tx *sqlx.Tx) error {
		var status string
		if err := db.get(ctx, tx, &status, `SELECT status FROM jobs WHERE id = ?`, id); err != nil {
			return wrap(err, "job %d", id)
		}
		if status == jobRunning {
			return fmt.Errorf("job %d is running; wait until it is queued or dead: %w", id, alert.ErrConflict)
		}
		_, err := db.exec(ctx, tx, `DELETE FROM jobs WHERE id = ?`, id)
		return wrap(err, "drop job %d", id)
	})
}

// QueueStats counts the jobs in each state, for metrics and health checks.
type QueueStats struct {
	Queued  int64 // waiting, due or not.
	Running int64 // leased by a worker.
	Dead    int64 // buried, waiting for an operator.
	// OldestDue is the due time of the oldest queued job, zero if none. A
	// growing age means the dispatcher is stuck or Slack is refusing us.
	OldestDue time.Time
	// ByKind splits the counts by job kind and state (only the pairs that
	// have jobs), ordered by kind then state.
	ByKind []KindCount
}

// KindCount is how many jobs of one kind are in one state.
type KindCount struct {
	Kind  alert.JobKind
	State alert.JobStatus
	Jobs  int64
	// Attempts is the attempts those jobs have made so far, summed.
	Attempts int64
}

// QueueStats reports the queue's size by kind and state: one GROUP BY over
// the jobs table (done jobs are deleted, so it holds only the live ones and
// the dead), and one indexed read of the oldest due time when jobs wait.
func (db *DB) QueueStats(ctx context.Context) (QueueStats, error) {
	var counts []struct {
		Kind     string `db:"kind"`
		Status   string `db:"status"`
		N        int64  `db:"n"`
		Attempts int64  `db:"attempts"`
	}
	if err := db.x.SelectContext(ctx, &counts, `SELECT kind, status, COUNT(*) AS n, COALESCE(SUM(attempts), 0) AS attempts
		FROM jobs GROUP BY kind, status ORDER BY kind, status`); err != nil {
		return QueueStats{}, wrap(err, "queue stats")
	}
	var s QueueStats
	for _, c := range counts {
		switch c.Status {
		case jobQueued:
			s.Queued += c.N
		case jobRunning:
			s.Running += c.N
		case jobDead:
			s.Dead += c.N
		}
		s.ByKind = append(s.ByKind, KindCount{Kind: alert.JobKind(c.Kind), State: alert.JobStatus(c.Status), Jobs: c.N, Attempts: c.Attempts})
	}
	if s.Queued > 0 {
		// ORDER BY rather than MIN(): SQLite returns MIN's result as
		// untyped text, while a plain column keeps its DATETIME type.
		err := db.get(ctx, nil, &s.OldestDue, `SELECT run_at FROM jobs WHERE status = ? ORDER BY run_at LIMIT 1`, jobQueued)
		if err != nil {
			return QueueStats{}, wrap(err, "oldest queued job")
		}
		s.OldestDue = s.OldestDue.UTC()
	}
	return s, nil
}

// clip bounds s to maxLastError bytes without splitting a UTF-8 sequence,
// and cleans it like any stored text.
func clip(s string) string {
	s = clean(s)
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

// nullInt is n, or NULL for 0.
func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// nullString is s, or NULL for "".
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// utcJob puts a scanned job's times in UTC.
func utcJob(j alert.Job) alert.Job {
	j.RunAt = j.RunAt.UTC()
	j.CreatedAt = j.CreatedAt.UTC()
	return j
}
