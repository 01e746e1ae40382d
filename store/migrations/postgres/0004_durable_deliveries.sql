-- Durable Linear deliveries, PostgreSQL. Same columns as the SQLite file.
--
-- A verified delivery is stored with its dedupe record before the 200 and
-- applied afterwards, so a crash between the answer and the apply leaves a
-- row with applied_at NULL that a replica replays from body. subject is
-- what the delivery is about ("issue:<id>", "org:<id>"): an older delivery
-- of a subject that has a newer one is not replayed, since every delivery
-- carries the whole state. body is BYTEA rather than TEXT because a
-- verified body need not be valid UTF-8, which TEXT refuses. It is cleared
-- once the delivery is applied. attempts and last_error count failed
-- applies; past a limit the row is marked applied with its last_error, so
-- a poisoned delivery stops.
ALTER TABLE webhook_deliveries ADD COLUMN subject    TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN body       BYTEA;
ALTER TABLE webhook_deliveries ADD COLUMN applied_at TIMESTAMPTZ;
ALTER TABLE webhook_deliveries ADD COLUMN attempts   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_deliveries ADD COLUMN last_error TEXT;

-- Rows from before this migration have no body to replay: the in-memory
-- queue applied them (or lost them, which no replay can undo).
UPDATE webhook_deliveries SET applied_at = received_at;

-- Recovery reads the unapplied rows, oldest first; they are few, so a
-- partial index keeps the scan off the applied majority.
CREATE INDEX webhook_deliveries_unapplied ON webhook_deliveries (received_at) WHERE applied_at IS NULL;
-- "Is there a newer delivery of this subject?"
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (subject, received_at);
