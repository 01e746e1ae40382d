package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
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
//
// pace_key is the channel of the alert whose id is bound to it: insertJobs
// binds the job's alert for a paced kind (pacedKind) and NULL otherwise.
// Every statement that queues a job must set pace_key the same way, or a
// paced claim takes the job as one of no channel, ignoring Slack's pace
// (TestJobsCarryTheirChannel fails).
const insertJobSQL = `INSERT INTO jobs (kind, alert_id, text, payload, dedupe_key, serial_key, pace_key, status, attempts, run_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, (SELECT channel FROM alerts WHERE id = ?), 'queued', 0, ?, ?)
ON CONFLICT DO NOTHING`

// pacedKind reports whether a job of kind k posts in its alert's channel
// (alert.ChannelKinds), so that a paced claim waits for the channel's turn.
func pacedKind(k alert.JobKind) bool { return slices.Contains(alert.ChannelKinds, k) }

// paceAlert is the alert id insertJobSQL reads j's pace key from: j's
// alert for a paced kind, else none (NULL).
func paceAlert(j alert.Job) any {
	if !pacedKind(j.Kind) {
		return nil
	}
	return nullInt(j.AlertID)
}

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
		// in a unique index and match nothing in the claim); no channel.
		if _, err := db.exec(ctx, tx, insertJobSQL,
			string(j.Kind), nullInt(j.AlertID), clean(j.Text), clean(j.Payload),
			nullString(j.DedupeKey), nullString(j.SerialKey), paceAlert(j), db.t(runAt), db.t(now)); err != nil {
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
// died). %[2]s ranks the candidates (c) per pace key, a job's channel or
// the job itself, so that at most a few of one channel go; the oldest
// limit are taken. %[1]s is a WITH clause, if %[2]s needs one.
//
// Every LIMIT is CAST(? AS INTEGER), never a bare ?: SQLite (3.5x) marks a
// statement with LIMIT ? to be compiled again whenever a new value is bound
// to it, which is every claim, and compiling the claim took twice as long
// as running it.
//
// SQLite runs it alone (one writer, so nothing claims between the SELECT
// and the UPDATE); PostgreSQL first takes a transaction-level advisory
// lock, because SKIP LOCKED alone would let two replicas each lock a
// different job of the same serial key. Claims are short, so serialising
// them costs little.
const claimSQL = `UPDATE jobs SET status = 'running', locked_until = ?, owner = ?,
	attempts = attempts + CASE WHEN status = 'running' THEN 1 ELSE 0 END,
	last_error = CASE WHEN status = 'running' THEN 'lease expired' ELSE last_error END
WHERE id IN (%[1]s
	SELECT id FROM (%[2]s) ranked
	WHERE c <= ? ORDER BY run_at, id LIMIT CAST(? AS INTEGER))
RETURNING ` + jobColumns

// claimRank ranks the candidates %s (id, run_at, pace_key) per pace key.
const claimRank = `
		SELECT id, run_at, ROW_NUMBER() OVER (PARTITION BY pace_key ORDER BY run_at, id) AS c FROM (%s
		) candidates`

// claimSerial keeps j to the oldest due job of its serial key, and off a
// key a live running job holds. Placeholders: now ×3.
//
// Both checks are plain NOT EXISTS (a NULL key matches nothing) so the
// planner makes them anti-joins on jobs_serial_running and jobs_serial,
// and the CASE keeps PostgreSQL from splitting the older-due test into an
// index scan without the key: that plan, chosen on a young table without
// statistics, read the whole backlog for every candidate.
const claimSerial = `
				AND NOT EXISTS (SELECT 1 FROM jobs r
					WHERE r.serial_key = j.serial_key AND r.status = 'running' AND r.locked_until > ?)
				AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.serial_key = j.serial_key AND o.id < j.id
					AND CASE o.status WHEN 'queued' THEN o.run_at <= ? WHEN 'running' THEN o.locked_until <= ? ELSE FALSE END)`

// claimOwnKey is the pace key of a job of no channel: its own.
const claimOwnKey = `'job:' || CAST(j.id AS TEXT)`

// claimAnyBranches are an unpaced claim's candidates: every due job in due
// order (jobs_queue), each its own pace key. Placeholders: now, now ×3
// (claimSerial), candidates, twice (queued, then expired).
const claimAnyBranches = `
			SELECT * FROM (SELECT j.id, j.run_at, ` + claimOwnKey + ` AS pace_key FROM jobs j
				WHERE j.status = 'queued' AND j.run_at <= ?` + claimSerial + `
				ORDER BY j.run_at, j.id LIMIT CAST(? AS INTEGER)) queued
			UNION ALL
			SELECT * FROM (SELECT j.id, j.run_at, ` + claimOwnKey + ` AS pace_key FROM jobs j
				WHERE j.status = 'running' AND j.locked_until <= ?` + claimSerial + `
				ORDER BY j.run_at, j.id LIMIT CAST(? AS INTEGER)) expired`

// claimPacedWith gathers a paced claim's candidates without reading the
// jobs a channel has waiting for its turn.
//
// First, like an unpaced claim, the oldest due queued jobs of any kind
// (win, in due order through jobs_queue), but only a window of them, those
// of a channel only near its turn (winc), with the jobs whose lease ran
// out (expired), ranked (wranked). Every due job outside the window is
// younger than all in it, so when the window holds every due job, or
// enough of its candidates are left after the per-channel cut, the claim
// is what it would be had it read on: more is 0, and claimPaced takes
// wranked.
//
// Otherwise (the window was filled by channels whose turn has not come,
// which may hold any number of jobs) more is 1 and the candidates come
// from elsewhere: heads walks the channels that have queued jobs in
// jobs_paced, from the first job of one channel straight to the first of
// the next (one seek each, however many jobs a channel holds); turns keeps
// the channels whose first job is due and whose next slot and hold are
// near (a channel with no channel_pace row has never been paced: its turn
// is now), oldest first; claimPacedFallback reads a few due jobs of each,
// and the due jobs of no channel in due order (jobs_unpaced). A LIMIT of 0
// keeps SQLite from running what more does not ask for (a condition in
// WHERE would be tested on every row instead).
//
// The %s is the step from one head to the next (claimNextHeadSQLite,
// claimNextHeadPostgres). Placeholders: now, window (win); next slot by,
// hold over by, now ×3 (winc); now, now ×3, next slot by, hold over by,
// candidates (expired); window, per channel, limit (more); now, next
// slot by, hold over by, channels (turns).
const claimPacedWith = `
	WITH RECURSIVE win AS (
		SELECT j.id, j.run_at, j.pace_key, j.serial_key FROM jobs j
		WHERE j.status = 'queued' AND j.run_at <= ? ORDER BY j.run_at, j.id LIMIT CAST(? AS INTEGER)
	), winc AS (
		SELECT j.id, j.run_at, COALESCE(j.pace_key, ` + claimOwnKey + `) AS pace_key
		FROM win j LEFT JOIN channel_pace p ON p.channel = j.pace_key
		WHERE (p.channel IS NULL OR (p.next_at <= ? AND p.held_until <= ?))` + claimSerial + `
	), expired AS MATERIALIZED (
		SELECT j.id, j.run_at, COALESCE(j.pace_key, ` + claimOwnKey + `) AS pace_key
		FROM jobs j LEFT JOIN channel_pace p ON p.channel = j.pace_key
		WHERE j.status = 'running' AND j.locked_until <= ?` + claimSerial + `
		AND (p.channel IS NULL OR (p.next_at <= ? AND p.held_until <= ?))
		ORDER BY j.run_at, j.id LIMIT CAST(? AS INTEGER)
	), wranked AS MATERIALIZED (
		SELECT id, run_at, ROW_NUMBER() OVER (PARTITION BY pace_key ORDER BY run_at, id) AS c
		FROM (SELECT * FROM winc UNION ALL SELECT * FROM expired) w
	), more (n) AS (
		SELECT CASE WHEN (SELECT COUNT(*) FROM win) < ? OR (SELECT COUNT(*) FROM wranked WHERE c <= ?) >= ?
			THEN 0 ELSE 1 END
	), heads (pace_key, run_at, id) AS (
		SELECT * FROM (SELECT pace_key, run_at, id FROM jobs
			WHERE status = 'queued' AND pace_key IS NOT NULL
			ORDER BY pace_key, run_at, id LIMIT (SELECT n FROM more)) first
		UNION ALL
		%s
	), turns AS (
		SELECT h.pace_key FROM heads h LEFT JOIN channel_pace p ON p.channel = h.pace_key
		WHERE h.run_at <= ? AND (p.channel IS NULL OR (p.next_at <= ? AND p.held_until <= ?))
		ORDER BY h.run_at, h.id LIMIT CAST(? AS INTEGER)
	)`

// The step from the head h of one channel to the first queued job of the
// next channel: SQLite has no LATERAL, but finds a job by id from a scalar
// subquery.
const (
	claimNextHeadSQLite = `SELECT x.pace_key, x.run_at, x.id FROM heads h JOIN jobs x ON x.id = (SELECT n.id FROM jobs n
			WHERE n.status = 'queued' AND n.pace_key > h.pace_key ORDER BY n.pace_key, n.run_at, n.id LIMIT 1)`
	claimNextHeadPostgres = `SELECT x.pace_key, x.run_at, x.id FROM heads h CROSS JOIN LATERAL (SELECT n.pace_key, n.run_at, n.id FROM jobs n
			WHERE n.status = 'queued' AND n.pace_key > h.pace_key ORDER BY n.pace_key, n.run_at, n.id LIMIT 1) x`
)

// claimPaced ranks a paced claim's candidates (see claimPacedWith): the
// window's when they are enough, else the fallback's.
const claimPaced = `
		SELECT id, run_at, c FROM wranked WHERE (SELECT n FROM more) = 0
		UNION ALL` + claimRank

// claimPacedFallback are the candidates when the window's are not enough:
// the jobs whose lease ran out, the due jobs of no channel in due order,
// and at most a few due jobs of each channel in turns (one LIMITed read a
// channel: %s, the dialect's claimTurnJobs…). Placeholders: now, now ×3,
// candidates (unpaced); now, now ×3, per channel (turns' jobs).
const claimPacedFallback = `
			SELECT * FROM expired WHERE (SELECT n FROM more) = 1
			UNION ALL
			SELECT * FROM (SELECT j.id, j.run_at, ` + claimOwnKey + ` AS pace_key FROM jobs j
				WHERE j.status = 'queued' AND j.pace_key IS NULL AND j.run_at <= ?` + claimSerial + `
				ORDER BY j.run_at, j.id LIMIT CAST(? AS INTEGER) * (SELECT n FROM more)) unpaced
			UNION ALL
			%s`

// claimTurnJobs reads the first due jobs of each channel in turns, at
// most the placeholder after claimSerial's: on SQLite as a list of ids
// from a correlated subquery, on PostgreSQL through LATERAL.
const (
	claimTurnJobsSQLite = `SELECT x.id, x.run_at, x.pace_key FROM turns t JOIN jobs x ON x.id IN (SELECT j.id FROM jobs j
				WHERE j.status = 'queued' AND j.pace_key = t.pace_key AND j.run_at <= ?` + claimSerial + `
				ORDER BY j.run_at, j.id LIMIT CAST(? AS INTEGER))`
	claimTurnJobsPostgres = `SELECT x.id, x.run_at, x.pace_key FROM turns t CROSS JOIN LATERAL (SELECT j.id, j.run_at, j.pace_key FROM jobs j
				WHERE j.status = 'queued' AND j.pace_key = t.pace_key AND j.run_at <= ?` + claimSerial + `
				ORDER BY j.run_at, j.id LIMIT CAST(? AS INTEGER)) x`
)

// The claims, per dialect: any job in due order, or keeping the pace.
var (
	claimAnySQL   = fmt.Sprintf(claimSQL, "", fmt.Sprintf(claimRank, claimAnyBranches))
	claimPacedSQL = map[string]string{
		DialectSQLite:   pacedClaim(claimNextHeadSQLite, claimTurnJobsSQLite),
		DialectPostgres: pacedClaim(claimNextHeadPostgres, claimTurnJobsPostgres),
	}
)

// pacedClaim is the paced claim with a dialect's steps.
func pacedClaim(nextHead, turnJobs string) string {
	return fmt.Sprintf(claimSQL, fmt.Sprintf(claimPacedWith, nextHead),
		fmt.Sprintf(claimPaced, fmt.Sprintf(claimPacedFallback, turnJobs)))
}

// claimLockPostgres serialises claims per schema (tests share a database
// in separate schemas). https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
//
// It also turns sequential and bitmap scans and hash and merge joins off
// for the claim's transaction, so that the claim reads jobs only along its
// indexes, as many rows as it takes. Else, where the planner guesses (a
// young table without statistics, a LIMIT it does not know), it reads the
// window (claimPacedWith) with a bitmap scan and a sort, checks each
// candidate's serial key with a sequential scan, or finds the claimed ids
// by hashing every job's: each reads all the jobs, however many a held
// channel has, the second for every candidate. And it keeps the prepared
// claim's generic plan: planning the claim anew for its values took longer
// than running it, and with those paths off the plan is the same.
const claimLockPostgres = `SELECT pg_advisory_xact_lock(
	('x' || substr(md5('proliferate-linear/claim/' || COALESCE(current_schema(), '')), 1, 16))::bit(64)::bigint),
	set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true),
	set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true),
	set_config('plan_cache_mode', 'force_generic_plan', true)`

// ClaimJobs leases up to limit due jobs to owner for lease, oldest due
// first. A job that posts in its alert's channel (alert.ChannelKinds) is
// due only once the channel's turn has come: not while Slack's Retry-After
// holds it.
func (db *DB) ClaimJobs(ctx context.Context, owner string, limit int, lease time.Duration) ([]alert.Job, error) {
	return db.ClaimPacedJobs(ctx, owner, limit, lease, alert.ClaimPace{Kinds: alert.ChannelKinds, PerChannel: limit})
}

// NextDue returns when the first queued job due after after falls due,
// false if there is none: one step along jobs_queue. The dispatcher sleeps
// until then instead of until its next poll, so a job another replica put
// back, or a repeat's update the store paced, runs when due. after is when
// its last claim began, so a job that fell due during that claim is not
// missed.
func (db *DB) NextDue(ctx context.Context, after time.Time) (time.Time, bool, error) {
	var at time.Time
	err := db.get(ctx, nil, &at, `SELECT run_at FROM jobs WHERE status = 'queued' AND run_at > ? ORDER BY run_at LIMIT 1`, db.t(after))
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, wrap(err, "next due job")
	}
	return at.UTC(), true, nil
}

// ClaimPacedJobs is ClaimJobs keeping Slack's channel pace: jobs of
// pace.Kinds whose channel's next slot is more than pace.Ahead away, or
// whose hold lasts more than pace.HoldAhead, stay queued, and at most
// pace.PerChannel of one channel are claimed (see alert.ClaimPace).
// Without kinds no job waits for its channel. The store keys the jobs of
// alert.ChannelKinds by channel as it queues them, so those are the kinds
// it paces: any other set is ErrInvalid.
//
// A claim's cost does not grow with the jobs waiting in a channel whose
// turn has not come: it reads one index entry for such a channel, a few
// jobs of each channel whose turn is near, and the due jobs of no channel
// in due order.
func (db *DB) ClaimPacedJobs(ctx context.Context, owner string, limit int, lease time.Duration, pace alert.ClaimPace) ([]alert.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	query, args, err := db.claimQuery(owner, limit, lease, pace)
	if err != nil {
		return nil, err
	}
	var jobs []alert.Job
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

// claimQuery is ClaimPacedJobs' statement and its arguments.
func (db *DB) claimQuery(owner string, limit int, lease time.Duration, pace alert.ClaimPace) (string, []any, error) {
	if lease <= 0 {
		return "", nil, fmt.Errorf("lease %v: %w", lease, alert.ErrInvalid)
	}
	paced := len(pace.Kinds) > 0
	if paced && !sameKinds(pace.Kinds, alert.ChannelKinds) {
		return "", nil, fmt.Errorf("pace kinds %v: the store paces %v: %w", pace.Kinds, alert.ChannelKinds, alert.ErrInvalid)
	}
	now := db.clock()
	// Enough candidates that the extra jobs of a few channels, left out by
	// perChannel, rarely leave the claim short.
	candidates := 4 * limit
	args := []any{db.t(now.Add(lease)), owner}
	serial := []any{db.t(now), db.t(now), db.t(now)}
	query, perChannel := claimAnySQL, limit
	if paced {
		query, perChannel = claimPacedSQL[db.dialect], max(pace.PerChannel, 1)
		nextBy, holdBy := db.t(now.Add(max(pace.Ahead, 0))), db.t(now.Add(max(pace.HoldAhead, 0)))
		args = append(args, db.t(now), candidates)                                            // win
		args = append(append(args, nextBy, holdBy), serial...)                                // winc
		args = append(append(append(args, db.t(now)), serial...), nextBy, holdBy, candidates) // expired
		args = append(args, candidates, perChannel, limit)                                    // more
		args = append(args, db.t(now), nextBy, holdBy, candidates)                            // turns
		args = append(append(append(args, db.t(now)), serial...), candidates)                 // unpaced
		args = append(append(append(args, db.t(now)), serial...), perChannel)                 // turns' jobs
	} else {
		for range 2 {
			args = append(append(append(args, db.t(now)), serial...), candidates)
		}
	}
	args = append(args, perChannel, limit)
	return query, args, nil
}

// sameKinds reports whether a and b hold the same kinds.
func sameKinds(a, b []alert.JobKind) bool {
	for _, k := range a {
		if !slices.Contains(b, k) {
			return false
		}
	}
	for _, k := range b {
		if !slices.Contains(a, k) {
			return false
		}
	}
	return true
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
