-- A claim reads its candidates in due order (jobs_queue, which replaces
-- jobs_due) and checks each against the other jobs of its serial key
-- (jobs_serial), instead of ranking the whole backlog: a claim's cost no
-- longer grows with the queue.
DROP INDEX jobs_due;
CREATE INDEX jobs_queue ON jobs (status, run_at, id);
CREATE INDEX jobs_serial ON jobs (serial_key, id);
