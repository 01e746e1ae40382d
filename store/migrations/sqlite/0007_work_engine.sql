-- The work engine (issue 8), SQLite. Same tables and columns as the
-- PostgreSQL file. SQLite cannot drop a NOT NULL constraint, so jobs is
-- rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter); no
-- table references jobs, so foreign keys need not be turned off.

CREATE TABLE jobs_new (
    id           INTEGER  PRIMARY KEY AUTOINCREMENT, -- ids are never reused, so a late FinishJob cannot hit a newer job.
    kind         TEXT     NOT NULL,
    -- NULL: a job that is not about an alert (a submission, a webhook delivery).
    alert_id     INTEGER  REFERENCES alerts (id) ON DELETE CASCADE,
    text         TEXT     NOT NULL DEFAULT '',
    payload      TEXT     NOT NULL DEFAULT '',
    dedupe_key   TEXT,                               -- NULL: never folds.
    -- Jobs sharing a key never run at once, on any replica. NULL: no such bound.
    serial_key   TEXT,
    status       TEXT     NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'dead')),
    attempts     INTEGER  NOT NULL DEFAULT 0,
    run_at       DATETIME NOT NULL,
    locked_until DATETIME,
    owner        TEXT     NOT NULL DEFAULT '',       -- the dispatcher holding the lease.
    last_error   TEXT     NOT NULL DEFAULT '',
    dead_at      DATETIME,
    created_at   DATETIME NOT NULL
);
INSERT INTO jobs_new (id, kind, alert_id, text, dedupe_key, serial_key, status, attempts, run_at, locked_until, last_error, created_at)
    SELECT id, kind, alert_id, text, dedupe_key, 'alert:' || CAST(alert_id AS TEXT), status, attempts, run_at, locked_until, last_error, created_at
    FROM jobs;
-- Keep the id sequence where it was, past ids of jobs already deleted.
DELETE FROM sqlite_sequence WHERE name = 'jobs_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs_new', seq FROM sqlite_sequence WHERE name = 'jobs';
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE UNIQUE INDEX jobs_dedupe_queued ON jobs (dedupe_key) WHERE status = 'queued';
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_alert ON jobs (alert_id);
CREATE INDEX jobs_serial_running ON jobs (serial_key) WHERE status = 'running';
-- The newest job of a dedupe key, dead or alive (a note asks about its alert's render job).
CREATE INDEX jobs_dedupe ON jobs (dedupe_key);

-- Slack's per-channel pace, shared by every process on the file.
CREATE TABLE channel_pace (
    channel    TEXT     PRIMARY KEY,
    next_at    DATETIME NOT NULL,
    held_until DATETIME NOT NULL
);
