-- Issue tracking (status back, regressions), PostgreSQL. Same columns and
-- index as the SQLite file.
-- closed_at: when the linked issue was completed or canceled; NULL while
-- open. regressed_at: when an alert first arrived after it closed; NULL
-- otherwise, so "the error is back" is said once per regression.
ALTER TABLE issue_links ADD COLUMN closed_at TIMESTAMPTZ;
ALTER TABLE issue_links ADD COLUMN regressed_at TIMESTAMPTZ;

-- Links recorded before this migration have no close time. The last update
-- is the best guess there is, and it keeps "a closed link has a closed_at"
-- true for every row.
UPDATE issue_links SET closed_at = updated_at WHERE state_type IN ('completed', 'canceled');

-- The poller pages through open links by issue_id (OpenLinks). A partial
-- index holds only the open ones, which are few next to the closed ones
-- after a while. https://www.postgresql.org/docs/current/indexes-partial.html
CREATE INDEX issue_links_open ON issue_links (issue_id, error_id)
    WHERE state_type NOT IN ('completed', 'canceled');
