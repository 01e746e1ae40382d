-- The work engine (issue 8), PostgreSQL. Same tables and columns as the
-- SQLite file.

-- Jobs of any kind: a job need not be about an alert (a submission, a
-- Linear webhook delivery), and carries what it needs in payload.
ALTER TABLE jobs ALTER COLUMN alert_id DROP NOT NULL;
ALTER TABLE jobs ADD COLUMN payload TEXT NOT NULL DEFAULT '';
-- serial_key: jobs sharing a key never run at once, on any replica (one
-- alert's Slack message is posted by one job at a time). NULL: no such bound.
ALTER TABLE jobs ADD COLUMN serial_key TEXT;
-- owner: the dispatcher holding the lease (renewed while the job runs,
-- released on shutdown).
ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
-- dead_at: when a job was buried, for operators (jobs list --dead).
ALTER TABLE jobs ADD COLUMN dead_at TIMESTAMPTZ;
UPDATE jobs SET serial_key = 'alert:' || CAST(alert_id AS TEXT) WHERE alert_id IS NOT NULL;
CREATE INDEX jobs_serial_running ON jobs (serial_key) WHERE status = 'running';
-- The newest job of a dedupe key, dead or alive (a note asks about its alert's render job).
CREATE INDEX jobs_dedupe ON jobs (dedupe_key);

-- Slack's per-channel pace, shared by every replica. next_at: the earliest
-- time the next message may go (each reservation moves it one gap on);
-- held_until: Slack's last Retry-After for the channel, which every job
-- checks again right before its call.
CREATE TABLE channel_pace (
    channel    TEXT        PRIMARY KEY,
    next_at    TIMESTAMPTZ NOT NULL,
    held_until TIMESTAMPTZ NOT NULL
);
