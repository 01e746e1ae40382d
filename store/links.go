package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// linkColumns lists issue_links' columns in alert.IssueLink's db tags, in
// the order saveLink binds them.
const linkColumns = `error_id, issue_id, identifier, title, url, state_name, state_type, team_id, team_key,
	assignee_id, assignee_name, created_by, kind, created_at, updated_at, closed_at, regressed_at`

// selectLinks reads links into linkRow: the nullable times come back under
// other names, into sql.NullTime, because NULL does not scan into a
// time.Time. Table-qualified so it can join.
const selectLinks = `SELECT l.error_id, l.issue_id, l.identifier, l.title, l.url, l.state_name, l.state_type,
	l.team_id, l.team_key, l.assignee_id, l.assignee_name, l.created_by, l.kind, l.created_at, l.updated_at,
	l.closed_at AS closed_at_null, l.regressed_at AS regressed_at_null
FROM issue_links l`

// linkRow is a scanned link. The embedded link's ClosedAt and RegressedAt
// have no column of their own name in selectLinks, so sqlx leaves them
// zero and link fills them from the NullTimes.
type linkRow struct {
	alert.IssueLink
	ClosedAtNull    sql.NullTime `db:"closed_at_null"`
	RegressedAtNull sql.NullTime `db:"regressed_at_null"`
}

// link is the row as the core sees it: times in UTC, NULL as zero.
func (r linkRow) link() alert.IssueLink {
	l := r.IssueLink
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	l.ClosedAt, l.RegressedAt = nullTime(r.ClosedAtNull), nullTime(r.RegressedAtNull)
	return l
}

// links converts scanned rows.
func links(rows []linkRow) []alert.IssueLink {
	out := make([]alert.IssueLink, len(rows))
	for i, r := range rows {
		out[i] = r.link()
	}
	return out
}

// nullTime is a nullable column as the core's time: zero for NULL, UTC.
func nullTime(n sql.NullTime) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return n.Time.UTC()
}

// linkScanColumns reads the link of a LEFT JOIN (alias l) that may find
// none, into linkScan: a missing link reads as NULL error_id.
const linkScanColumns = `l.error_id, COALESCE(l.issue_id, ''), COALESCE(l.identifier, ''), COALESCE(l.title, ''),
	COALESCE(l.url, ''), COALESCE(l.state_name, ''), COALESCE(l.state_type, ''), COALESCE(l.team_id, ''),
	COALESCE(l.team_key, ''), COALESCE(l.assignee_id, ''), COALESCE(l.assignee_name, ''),
	COALESCE(l.created_by, ''), COALESCE(l.kind, ''), l.created_at, l.updated_at, l.closed_at, l.regressed_at`

// linkScan is a link scanned with plain Scan from linkScanColumns.
type linkScan struct {
	l                                   alert.IssueLink
	errorID                             sql.NullString
	kind                                string
	created, updated, closed, regressed sql.NullTime
}

// dests are linkScanColumns' destinations, in order.
func (r *linkScan) dests() []any {
	l := &r.l
	return []any{&r.errorID, &l.IssueID, &l.Identifier, &l.Title, &l.URL, &l.StateName, &l.StateType,
		&l.TeamID, &l.TeamKey, &l.AssigneeID, &l.AssigneeName, &l.CreatedBy, &r.kind,
		&r.created, &r.updated, &r.closed, &r.regressed}
}

// link is the scanned link as the core sees it (see linkRow.link), nil if
// there was none.
func (r *linkScan) link() *alert.IssueLink {
	if !r.errorID.Valid {
		return nil
	}
	l := r.l
	l.ErrorID, l.Kind = r.errorID.String, alert.LinkKind(r.kind)
	l.CreatedAt, l.UpdatedAt = nullTime(r.created), nullTime(r.updated)
	l.ClosedAt, l.RegressedAt = nullTime(r.closed), nullTime(r.regressed)
	return &l
}

// linksInSQLite reads the links of the error ids in a JSON array, in one
// statement whatever their number (SQLite's json_each).
const linksInSQLite = `SELECT ` + linkScanColumns + ` FROM issue_links l
WHERE l.error_id IN (SELECT value FROM json_each(?))`

// linksIn returns the links of errorIDs as tx sees them, by error id; an
// error without a link is absent. SQLite only (group commit reads a
// batch's links with it).
func (db *DB) linksIn(ctx context.Context, tx *sqlx.Tx, errorIDs []string) (map[string]*alert.IssueLink, error) {
	ids, err := json.Marshal(errorIDs)
	if err != nil {
		return nil, err
	}
	st, err := db.on(ctx, tx, linksInSQLite)
	if err != nil {
		return nil, wrap(err, "links of %d errors", len(errorIDs))
	}
	rows, err := st.QueryContext(ctx, string(ids))
	if err != nil {
		return nil, wrap(err, "links of %d errors", len(errorIDs))
	}
	defer rows.Close()
	out := map[string]*alert.IssueLink{}
	for rows.Next() {
		var r linkScan
		if err := rows.Scan(r.dests()...); err != nil {
			return nil, wrap(err, "links of %d errors", len(errorIDs))
		}
		if l := r.link(); l != nil {
			out[l.ErrorID] = l
		}
	}
	return out, wrap(rows.Err(), "links of %d errors", len(errorIDs))
}

// linkIn is the link of errorID as tx sees it, nil if it has none.
func (db *DB) linkIn(ctx context.Context, tx *sqlx.Tx, errorID string) (*alert.IssueLink, error) {
	var r linkScan
	err := db.scan(ctx, tx, `SELECT `+linkScanColumns+` FROM issue_links l WHERE l.error_id = ?`, []any{errorID}, r.dests()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err, "link of error %s", errorID)
	}
	return r.link(), nil
}

// upsertLinkSQL replaces the link of an error. created_at survives when the
// error stays on the same issue (a status update), and restarts when the
// error is moved to another issue.
const upsertLinkSQL = `INSERT INTO issue_links (` + linkColumns + `)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (error_id) DO UPDATE SET
	issue_id      = excluded.issue_id,
	identifier    = excluded.identifier,
	title         = excluded.title,
	url           = excluded.url,
	state_name    = excluded.state_name,
	state_type    = excluded.state_type,
	team_id       = excluded.team_id,
	team_key      = excluded.team_key,
	assignee_id   = excluded.assignee_id,
	assignee_name = excluded.assignee_name,
	created_by    = excluded.created_by,
	kind          = excluded.kind,
	closed_at     = excluded.closed_at,
	regressed_at  = excluded.regressed_at,
	created_at    = CASE WHEN issue_links.issue_id = excluded.issue_id
	                     THEN issue_links.created_at ELSE excluded.created_at END,
	updated_at    = excluded.updated_at`

// Link returns the issue link of an error; ErrNotFound if none.
func (db *DB) Link(ctx context.Context, errorID string) (alert.IssueLink, error) {
	var r linkRow
	err := db.get(ctx, nil, &r, selectLinks+` WHERE l.error_id = ?`, errorID)
	if err != nil {
		return alert.IssueLink{}, wrap(err, "link of error %s", errorID)
	}
	return r.link(), nil
}

// LinksByIssue returns the links that point at a Linear issue (by its
// UUID), for status changes that arrive from Linear webhooks; none is not
// an error.
func (db *DB) LinksByIssue(ctx context.Context, issueID string) ([]alert.IssueLink, error) {
	var rows []linkRow
	err := db.sel(ctx, nil, &rows, selectLinks+` WHERE l.issue_id = ? ORDER BY l.error_id`, issueID)
	if err != nil {
		return nil, wrap(err, "links of issue %s", issueID)
	}
	return links(rows), nil
}

// SaveLink inserts or replaces the link of link.ErrorID and queues jobs, in
// one transaction.
func (db *DB) SaveLink(ctx context.Context, link alert.IssueLink, jobs ...alert.Job) error {
	if err := checkLink(link); err != nil {
		return err
	}
	now := db.clock()
	return db.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := db.saveLink(ctx, tx, now, link); err != nil {
			return err
		}
		return db.insertJobs(ctx, tx, now, jobs...)
	})
}

// AddLink inserts the link of an error that has none, with its jobs, in one
// transaction; if the error already has a link it changes nothing and
// returns an error wrapping alert.ErrConflict. It is for links found in the
// background, which must never overwrite one a person made meanwhile.
func (db *DB) AddLink(ctx context.Context, link alert.IssueLink, jobs ...alert.Job) error {
	if err := checkLink(link); err != nil {
		return err
	}
	now := db.clock()
	return db.inTx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := db.get(ctx, tx, &n, `SELECT COUNT(*) FROM issue_links WHERE error_id = ?`, link.ErrorID); err != nil {
			return wrap(err, "look up link of %s", link.ErrorID)
		}
		if n > 0 {
			return fmt.Errorf("error %s already has a link: %w", link.ErrorID, alert.ErrConflict)
		}
		if err := db.saveLink(ctx, tx, now, link); err != nil {
			return err
		}
		return db.insertJobs(ctx, tx, now, jobs...)
	})
}

func checkLink(l alert.IssueLink) error {
	if strings.TrimSpace(l.ErrorID) == "" || strings.TrimSpace(l.IssueID) == "" {
		return fmt.Errorf("link needs an error id and an issue id: %w", alert.ErrInvalid)
	}
	return nil
}

// saveLink upserts l in tx; missing created and updated times become now,
// while a zero ClosedAt or RegressedAt is stored as NULL.
func (db *DB) saveLink(ctx context.Context, tx *sqlx.Tx, now time.Time, l alert.IssueLink) error {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = now
	}
	if l.UpdatedAt.IsZero() {
		l.UpdatedAt = now
	}
	// Titles and names come from Linear, where a NUL may hide (clean).
	for _, f := range []*string{&l.Identifier, &l.Title, &l.URL, &l.StateName, &l.TeamKey, &l.AssigneeName, &l.CreatedBy} {
		*f = clean(*f)
	}
	_, err := db.exec(ctx, tx, upsertLinkSQL,
		l.ErrorID, l.IssueID, l.Identifier, l.Title, l.URL, l.StateName, l.StateType, l.TeamID, l.TeamKey,
		l.AssigneeID, l.AssigneeName, l.CreatedBy, string(l.Kind), db.t(l.CreatedAt), db.t(l.UpdatedAt),
		db.nullT(l.ClosedAt), db.nullT(l.RegressedAt))
	return wrap(err, "save link %s → %s", l.ErrorID, l.Identifier)
}

// openLinksSQL pages through open links a whole issue at a time: the
// subquery picks the next limit issues after the cursor, the outer query
// returns every open link of those. Keyset paging on issue_id alone (it is
// not unique: several errors may share an issue) would otherwise lose the
// rest of an issue's links whenever a page ended inside it. Both WHEREs
// repeat issue_links_open's predicate word for word so SQLite can use the
// partial index.
const openLinksSQL = selectLinks + `
WHERE l.state_type NOT IN ('completed', 'canceled')
  AND l.issue_id IN (
	SELECT DISTINCT o.issue_id FROM issue_links o
	WHERE o.state_type NOT IN ('completed', 'canceled') AND o.issue_id > ?
	ORDER BY o.issue_id
	LIMIT ?)
ORDER BY l.issue_id, l.error_id`

// OpenLinks pages through the links whose issue is not completed or
// canceled, ordered by issue_id then error_id, for the poller that
// refreshes them from Linear. A page holds the open links of the next
// limit distinct issues after afterIssueID ("" for the first page), so
// the caller sends at most limit ids to Linear per page and passes the
// last link's IssueID as the next cursor; an issue's links never straddle
// two pages. An empty page is the end. limit below 1 is ErrInvalid.
func (db *DB) OpenLinks(ctx context.Context, afterIssueID string, limit int) ([]alert.IssueLink, error) {
	if limit < 1 {
		return nil, fmt.Errorf("open links: limit %d: %w", limit, alert.ErrInvalid)
	}
	var rows []linkRow
	if err := db.sel(ctx, nil, &rows, openLinksSQL, afterIssueID, limit); err != nil {
		return nil, wrap(err, "open links after %q", afterIssueID)
	}
	return links(rows), nil
}
