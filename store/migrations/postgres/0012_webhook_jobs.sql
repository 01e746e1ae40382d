-- Linear webhook deliveries move onto the work engine (issue 8),
-- PostgreSQL. Same steps as the SQLite file.
--
-- A delivery is now a job of kind linear_delivery, queued with its
-- Linear-Delivery id in one transaction; webhook_deliveries keeps only the
-- ids, for dedupe. Deliveries an older release stored and never applied (a
-- crash after the 200) become jobs here, in the payload alert.ApplyDelivery
-- reads (alert/delivery.go: keep the two in step), the way that release
-- would have replayed them: only the newest of each subject (an older one
-- carries an older state), only the kinds it acted on (Issue create and
-- update, OAuthApp revoked). A body that is not JSON (or not UTF-8, which
-- jsonb refuses) can never be applied: it becomes a dead job with its body
-- in hex, for an operator to see.

-- The body as jsonb, NULL where it cannot be one; gone with the session.
CREATE FUNCTION pg_temp.delivery_doc(b BYTEA) RETURNS JSONB LANGUAGE plpgsql AS $$
BEGIN
    RETURN convert_from(b, 'UTF8')::jsonb;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

WITH pending AS (
    SELECT delivery_id, received_at, body, pg_temp.delivery_doc(body) AS doc,
        ROW_NUMBER() OVER (PARTITION BY COALESCE(subject, delivery_id)
            ORDER BY received_at DESC, delivery_id DESC) AS n
    FROM webhook_deliveries
    WHERE applied_at IS NULL AND body IS NOT NULL
),
newest AS (
    SELECT delivery_id, received_at, body, doc,
        doc->>'type' AS type, doc->>'action' AS action,
        doc->'data'->>'id' AS issue_id, doc->>'organizationId' AS org
    FROM pending WHERE n = 1
)
INSERT INTO jobs (kind, payload, dedupe_key, serial_key, status, attempts, run_at, last_error, dead_at, created_at)
SELECT 'linear_delivery',
    json_build_object('delivery', delivery_id, 'issue', json_build_object(
        'id', issue_id,
        'identifier', doc->'data'->>'identifier',
        'title', doc->'data'->>'title',
        'url', doc->'data'->>'url',
        'state_name', doc->'data'->'state'->>'name',
        'state_type', doc->'data'->'state'->>'type',
        'team_id', COALESCE(NULLIF(doc->'data'->>'teamId', ''), doc->'data'->'team'->>'id'),
        'team_key', doc->'data'->'team'->>'key',
        'assignee_id', COALESCE(NULLIF(doc->'data'->>'assigneeId', ''), doc->'data'->'assignee'->>'id'),
        'assignee_name', doc->'data'->'assignee'->>'name',
        'closed_at', CASE doc->'data'->'state'->>'type'
            WHEN 'completed' THEN doc->'data'->>'completedAt'
            WHEN 'canceled' THEN doc->'data'->>'canceledAt' END))::text,
    'linear:issue:' || issue_id, 'linear:issue:' || issue_id, 'queued', 0, received_at, '', NULL::TIMESTAMPTZ, received_at
FROM newest
WHERE type = 'Issue' AND action IN ('create', 'update') AND issue_id IS NOT NULL AND issue_id <> ''
UNION ALL
SELECT 'linear_delivery', json_build_object('delivery', delivery_id, 'revoked_org', org)::text,
    'linear:org:' || org, 'linear:org:' || org, 'queued', 0, received_at, '', NULL, received_at
FROM newest
WHERE type = 'OAuthApp' AND action = 'revoked' AND org IS NOT NULL AND org <> ''
UNION ALL
SELECT 'linear_delivery', json_build_object('delivery', delivery_id, 'body_hex', encode(body, 'hex'))::text,
    NULL, NULL, 'dead', 0, received_at,
    'stored by an older release, not applied: its body is not JSON', received_at, received_at
FROM newest
WHERE doc IS NULL;

DROP FUNCTION pg_temp.delivery_doc(BYTEA);

DROP INDEX webhook_deliveries_unapplied;
DROP INDEX webhook_deliveries_subject;
ALTER TABLE webhook_deliveries
    DROP COLUMN subject, DROP COLUMN body, DROP COLUMN applied_at, DROP COLUMN attempts, DROP COLUMN last_error;
