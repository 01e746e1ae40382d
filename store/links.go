package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// linkColumns lists issue_links' columns in alert.IssueLink's db tags.
const linkColumns = `error_id, issue_id, identifier, title, url, state_name, state_type, team_id, team_key,
	assignee_id, assignee_name, created_by, kind, created_at, updated_at`

// upsertLinkSQL replaces the link of an error. created_at survives when the
// error stays on the same issue (a status update), and restarts when the
// error is moved to another issue.
const upsertLinkSQL = `INSERT INTO issue_links (` + linkColumns + `)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
	created_at    = CASE WHEN issue_links.issue_id = excluded.issue_id
	                     THEN issue_links.created_at ELSE excluded.created_at END,
	updated_at    = excluded.updated_at`

// Link returns the issue link of an error; ErrNotFound if none.
func (db *DB) Link(ctx context.Context, errorID string) (alert.IssueLink, error) {
	var l alert.IssueLink
	err := db.x.GetContext(ctx, &l, db.q(`SELECT `+linkColumns+` FROM issue_links WHERE error_id = ?`), errorID)
	if err != nil {
		return alert.IssueLink{}, wrap(err, "link of error %s", errorID)
	}
	return utcLink(l), nil
}

// LinksByIssue returns the links that point at a Linear issue (by its
// UUID), for status changes that arrive from Linear webhooks; none is not
// an error.
func (db *DB) LinksByIssue(ctx context.Context, issueID string) ([]alert.IssueLink, error) {
	var ls []alert.IssueLink
	err := db.x.SelectContext(ctx, &ls, db.q(`SELECT `+linkColumns+` FROM issue_links WHERE issue_id = ? ORDER BY error_id`), issueID)
	if err != nil {
		return nil, wrap(err, "links of issue %s", issueID)
	}
	for i := range ls {
		ls[i] = utcLink(ls[i])
	}
	return ls, nil
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

func checkLink(l alert.IssueLink) error {
	if strings.TrimSpace(l.ErrorID) == "" || strings.TrimSpace(l.IssueID) == "" {
		return fmt.Errorf("link needs an error id and an issue id: %w", alert.ErrInvalid)
	}
	return nil
}

// saveLink upserts l in tx; missing timestamps become now.
func (db *DB) saveLink(ctx context.Context, tx *sqlx.Tx, now time.Time, l alert.IssueLink) error {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = now
	}
	if l.UpdatedAt.IsZero() {
		l.UpdatedAt = now
	}
	_, err := tx.ExecContext(ctx, db.q(upsertLinkSQL),
		l.ErrorID, l.IssueID, l.Identifier, l.Title, l.URL, l.StateName, l.StateType, l.TeamID, l.TeamKey,
		l.AssigneeID, l.AssigneeName, l.CreatedBy, string(l.Kind), db.t(l.CreatedAt), db.t(l.UpdatedAt))
	return wrap(err, "save link %s → %s", l.ErrorID, l.Identifier)
}

// utcLink puts a scanned link's times in UTC.
func utcLink(l alert.IssueLink) alert.IssueLink {
	l.CreatedAt = l.CreatedAt.UTC()
	l.UpdatedAt = l.UpdatedAt.UTC()
	return l
}
