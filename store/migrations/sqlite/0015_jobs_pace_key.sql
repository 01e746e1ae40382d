-- A paced claim reads a channel's jobs only when the channel's turn is
-- near, instead of reading past every job of a channel Slack is holding.
-- pace_key: the channel a job posts in, for jobs of alert.ChannelKinds
-- (set when the job is queued, from its alert, whose channel never
-- changes); NULL for every other job. SQLite.
ALTER TABLE jobs ADD COLUMN pace_key TEXT;
UPDATE jobs SET pace_key = (SELECT a.channel FROM alerts a WHERE a.id = jobs.alert_id)
    WHERE kind IN ('render_alert', 'thread_note', 'thread_status') AND alert_id IS NOT NULL;
-- A claim walks the channels that have queued jobs (one seek each, from
-- one channel's first job to the next channel's) and reads at most a few
-- due jobs of each channel whose turn is near; the jobs of no channel come
-- in due order from jobs_unpaced.
CREATE INDEX jobs_paced ON jobs (status, pace_key, run_at, id) WHERE pace_key IS NOT NULL;
CREATE INDEX jobs_unpaced ON jobs (status, run_at, id) WHERE pace_key IS NULL;
