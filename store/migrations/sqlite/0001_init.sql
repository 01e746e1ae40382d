-- Initial schema, SQLite.
-- Times are DATETIME so modernc.org/sqlite scans them into time.Time; the
-- store writes them as fixed-width UTC RFC 3339 text, which sorts in time
-- order. Tables are not STRICT because STRICT forbids the DATETIME type.

-- One row per (error, channel): repeats fold into it.
CREATE TABLE alerts (
    id             INTEGER  PRIMARY KEY AUTOINCREMENT,
    error_id       TEXT     NOT NULL,
    channel        TEXT     NOT NULL,
    message_ts     TEXT     NOT NULL DEFAULT '',
    url            TEXT     NOT NULL DEFAULT '',
    project        TEXT     NOT NULL DEFAULT '',
    level          TEXT     NOT NULL DEFAULT '',
    error_type     TEXT     NOT NULL DEFAULT '',
    error_message  TEXT     NOT NULL DEFAULT '',
    stack          TEXT     NOT NULL DEFAULT '',
    environment    TEXT     NOT NULL DEFAULT '',
    "release"      TEXT     NOT NULL DEFAULT '',
    first_seen     DATETIME NOT NULL,
    last_seen      DATETIME NOT NULL,
    event_count    INTEGER  NOT NULL DEFAULT 0,
    users_affected INTEGER  NOT NULL DEFAULT 0,
    "trigger"      TEXT     NOT NULL DEFAULT '',
    occurrences    INTEGER  NOT NULL DEFAULT 1,
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL,
    UNIQUE (error_id, channel)
);

-- At most one Linear issue per error; kept after a disconnect.
CREATE TABLE issue_links (
    error_id      TEXT     PRIMARY KEY,
    issue_id      TEXT     NOT NULL,
    identifier    TEXT     NOT NULL DEFAULT '',
    title         TEXT     NOT NULL DEFAULT '',
    url           TEXT     NOT NULL DEFAULT '',
    state_name    TEXT     NOT NULL DEFAULT '',
    state_type    TEXT     NOT NULL DEFAULT '',
    team_id       TEXT     NOT NULL DEFAULT '',
    team_key      TEXT     NOT NULL DEFAULT '',
    assignee_id   TEXT     NOT NULL DEFAULT '',
    assignee_name TEXT     NOT NULL DEFAULT '',
    created_by    TEXT     NOT NULL DEFAULT '',
    kind          TEXT     NOT NULL DEFAULT 'created',
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL
);
-- Linear webhooks name the issue, not the error.
CREATE INDEX issue_links_issue ON issue_links (issue_id);

-- Create-issue intents. The id (a UUID v4) is sent to Linear as the issue id.
CREATE TABLE creations (
    id         TEXT     PRIMARY KEY,
    error_id   TEXT     NOT NULL,
    alert_id   INTEGER  NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    slack_user TEXT     NOT NULL DEFAULT '',
    status     TEXT     NOT NULL CHECK (status IN ('pending', 'done')),
    issue_id   TEXT     NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);
-- Only one create in flight per error.
CREATE UNIQUE INDEX creations_one_pending ON creations (error_id) WHERE status = 'pending';
CREATE INDEX creations_alert ON creations (alert_id);

-- The durable Slack queue.
CREATE TABLE jobs (
    id           INTEGER  PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: ids are never reused, so a late FinishJob cannot hit a newer job.
    kind         TEXT     NOT NULL,
    alert_id     INTEGER  NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    text         TEXT     NOT NULL DEFAULT '',
    dedupe_key   TEXT,                               -- NULL: never folds.
    status       TEXT     NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'dead')),
    attempts     INTEGER  NOT NULL DEFAULT 0,
    run_at       DATETIME NOT NULL,
    locked_until DATETIME,
    last_error   TEXT     NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL
);
-- A repeat folds into the queued job with its key; a running job does not
-- absorb it, so the message is rendered again after the running one.
CREATE UNIQUE INDEX jobs_dedupe_queued ON jobs (dedupe_key) WHERE status = 'queued';
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_alert ON jobs (alert_id);

-- Linear connection per Slack team (OAuth). Tokens are AES-256-GCM
-- ciphertext with a key-version prefix, never plain.
CREATE TABLE connections (
    id                INTEGER  PRIMARY KEY AUTOINCREMENT,
    slack_team_id     TEXT     NOT NULL UNIQUE,
    org_id            TEXT     NOT NULL DEFAULT '',
    org_name          TEXT     NOT NULL DEFAULT '',
    org_url_key       TEXT     NOT NULL DEFAULT '',
    access_token_enc  TEXT     NOT NULL DEFAULT '',
    refresh_token_enc TEXT     NOT NULL DEFAULT '',
    expires_at        DATETIME,
    scopes            TEXT     NOT NULL DEFAULT '',
    status            TEXT     NOT NULL DEFAULT 'active',
    created_by        TEXT     NOT NULL DEFAULT '',
    created_at        DATETIME NOT NULL,
    updated_at        DATETIME NOT NULL
);

-- Linear-Delivery ids already handled: Linear may deliver a webhook twice.
CREATE TABLE webhook_deliveries (
    delivery_id TEXT     PRIMARY KEY,
    received_at DATETIME NOT NULL
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
