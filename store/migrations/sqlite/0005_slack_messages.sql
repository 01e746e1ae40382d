-- Alerts from Proliferate's own Slack messages, SQLite. Same columns as the
-- PostgreSQL file.
--
-- thread_ts is the ts of the message the alert lives under when the bot did
-- not post it (Proliferate's message, or the target of a message shortcut):
-- the bot's own message (message_ts) is then a reply in that thread, and
-- thread notes go there too. '' for alerts from the webhook, whose thread is
-- the bot's own top-level message.
ALTER TABLE alerts ADD COLUMN thread_ts TEXT NOT NULL DEFAULT '';

-- Events API event_ids already handled. Slack redelivers an event whose ack
-- was late (retry_attempt), possibly to another replica; the primary key
-- makes exactly one of them handle it. Pruned after a few days: Slack
-- retries within minutes.
CREATE TABLE slack_events (
    event_id    TEXT     PRIMARY KEY,
    received_at DATETIME NOT NULL
);
CREATE INDEX slack_events_received ON slack_events (received_at);
