-- Routing rules (same columns in both dialects): the ordered list an admin
-- keeps with `/proliferate-linear rules` or PUT .../rules. position is the
-- rule's 1-based number; the first rule that matches an alert decides.
-- Empty text means "any" (a matcher) or "unchanged" (an action); priority
-- -1 means the rule sets none. labels is a JSON array of label names.
CREATE TABLE routing_rules (
    position       INTEGER NOT NULL PRIMARY KEY,
    project        TEXT    NOT NULL DEFAULT '',
    environment    TEXT    NOT NULL DEFAULT '',
    level          TEXT    NOT NULL DEFAULT '',
    error_type     TEXT    NOT NULL DEFAULT '',
    trigger        TEXT    NOT NULL DEFAULT '',
    channel        TEXT    NOT NULL DEFAULT '',
    team_key       TEXT    NOT NULL DEFAULT '',
    assignee       TEXT    NOT NULL DEFAULT '',
    priority       INTEGER NOT NULL DEFAULT -1,
    labels         TEXT    NOT NULL DEFAULT '[]',
    linear_project TEXT    NOT NULL DEFAULT '',
    auto           INTEGER NOT NULL DEFAULT 0
);

-- One row: the list's version, one more with every save. A save names the
-- version it started from; the UPDATE of this row serialises savers across
-- replicas, and a save from an older version changes nothing.
CREATE TABLE routing_rule_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO routing_rule_version (id, version) VALUES (1, 0);
