-- Linear webhook deliveries move onto the work engine (issue 8), SQLite.
-- Same steps as the PostgreSQL file.
--
-- A delivery is now a job of kind linear_delivery, queued with its
-- Linear-Delivery id in one transaction; webhook_deliveries keeps only the
-- ids, for dedupe. Deliveries an older release stored and never applied (a
-- crash after the 200) become jobs here, in the payload alert.ApplyDelivery
-- reads (alert/delivery.go: keep the two in step), the way that release
-- would have replayed them: only the newest of each subject (an older one
-- carries an older state), only the kinds it acted on (Issue create and
-- update, OAuthApp revoked). A body that is not JSON can never be applied:
-- it becomes a dead job with its body in hex, for an operator to see.

WITH pending AS (
    SELECT delivery_id, received_at, body,
        CASE WHEN json_valid(CAST(body AS TEXT)) THEN CAST(body AS TEXT) END AS doc,
        ROW_NUMBER() OVER (PARTITION BY COALESCE(subject, delivery_id)
            ORDER BY received_at DESC, delivery_id DESC) AS n
    FROM webhook_deliveries
    WHERE applied_at IS NULL AND body IS NOT NULL
),
newest AS (
    SELECT delivery_id, received_at, body, doc,
        json_extract(doc, '$.type') AS type, json_extract(doc, '$.action') AS action,
        json_extract(doc, '$.data.id') AS issue_id, json_extract(doc, '$.organizationId') AS org
    FROM pending WHERE n = 1
)
INSERT INTO jobs (kind, payload, dedupe_key, serial_key, status, attempts, run_at, last_error, dead_at, created_at)
SELECT 'linear_delivery',
    json_object('delivery', delivery_id, 'issue', json_object(
        'id', issue_id,
        'identifier', json_extract(doc, '$.data.identifier'),
        'title', json_extract(doc, '$.data.title'),
        'url', json_extract(doc, '$.data.url'),
        'state_name', json_extract(doc, '$.data.state.name'),
        'state_type', json_extract(doc, '$.data.state.type'),
        'team_id', COALESCE(NULLIF(json_extract(doc, '$.data.teamId'), ''), json_extract(doc, '$.data.team.id')),
        'team_key', json_extract(doc, '$.data.team.key'),
        'assignee_id', COALESCE(NULLIF(json_extract(doc, '$.data.assigneeId'), ''), json_extract(doc, '$.data.assignee.id')),
        'assignee_name', json_extract(doc, '$.data.assignee.name'),
        'closed_at', CASE json_extract(doc, '$.data.state.type')
            WHEN 'completed' THEN json_extract(doc, '$.data.completedAt')
            WHEN 'canceled' THEN json_extract(doc, '$.data.canceledAt') END)),
    'linear:issue:' || issue_id, 'linear:issue:' || issue_id, 'queued', 0, received_at, '', NULL, received_at
FROM newest
WHERE type = 'Issue' AND action IN ('create', 'update') AND issue_id IS NOT NULL AND issue_id <> ''
UNION ALL
SELECT 'linear_delivery', json_object('delivery', delivery_id, 'revoked_org', org),
    'linear:org:' || org, 'linear:org:' || org, 'queued', 0, received_at, '', NULL, received_at
FROM newest
WHERE type = 'OAuthApp' AND action = 'revoked' AND org IS NOT NULL AND org <> ''
UNION ALL
SELECT 'linear_delivery', json_object('delivery', delivery_id, 'body_hex', hex(body)),
    NULL, NULL, 'dead', 0, received_at,
    'stored by an older release, not applied: its body is not JSON', received_at, received_at
FROM newest
WHERE doc IS NULL;

DROP INDEX webhook_deliveries_unapplied;
DROP INDEX webhook_deliveries_subject;
ALTER TABLE webhook_deliveries DROP COLUMN subject;
ALTER TABLE webhook_deliveries DROP COLUMN body;
ALTER TABLE webhook_deliveries DROP COLUMN applied_at;
ALTER TABLE webhook_deliveries DROP COLUMN attempts;
ALTER TABLE webhook_deliveries DROP COLUMN last_error;
