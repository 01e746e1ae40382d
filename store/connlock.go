package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/secret"
)

// WithConnectionLock runs fn under the Slack team's refresh lock and saves
// what it returns before releasing the lock, so token refreshes are
// serialised per workspace across goroutines and replicas: the second of
// two callers sees the first one's tokens and need not refresh again.
// Linear rotates the refresh token on every refresh, so two concurrent
// refreshes would leave one replica holding a dead token.
//
// The lock is a row lock (SELECT ... FOR UPDATE) on PostgreSQL and the
// database write lock (BEGIN IMMEDIATE) on SQLite, held in a transaction
// for as long as fn runs. fn gets the connection as stored now, unsealed,
// and returns the one to store (fields other than the tokens, expiry,
// scopes, status and org and user details are kept); an error from fn
// rolls back and is returned as is. With no connection fn is not called
// and the error wraps alert.ErrNotConnected: a refresh racing a disconnect
// must not bring the tokens back.
//
// fn must not use db: on SQLite the transaction holds the only connection,
// so a nested call would wait for it until ctx ends.
func (db *DB) WithConnectionLock(ctx context.Context, slackTeamID string, fn func(alert.Connection) (alert.Connection, error)) (alert.Connection, error) {
	kr, err := db.keyring()
	if err != nil {
		return alert.Connection{}, err
	}
	var out alert.Connection
	err = db.inTx(ctx, func(tx *sqlx.Tx) error {
		var r connRow
		err := db.get(ctx, tx, &r, `SELECT `+connColumns+` FROM connections WHERE slack_team_id = ?`+db.forUpdate(), slackTeamID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("lock connection of slack team %s: %w", slackTeamID, alert.ErrNotConnected)
		}
		if err != nil {
			return wrap(err, "lock connection of slack team %s", slackTeamID)
		}
		cur, err := r.open(kr)
		if err != nil {
			return err
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		if out, err = db.saveLocked(ctx, tx, kr, cur, next); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return alert.Connection{}, err
	}
	return out, nil
}

// saveLocked writes next over cur inside WithConnectionLock's transaction
// and returns next as stored.
func (db *DB) saveLocked(ctx context.Context, tx *sqlx.Tx, kr *secret.Keyring, cur, next alert.Connection) (alert.Connection, error) {
	if next.SlackTeamID != cur.SlackTeamID {
		return alert.Connection{}, fmt.Errorf("connection of slack team %s: fn changed the slack team to %q: %w",
			cur.SlackTeamID, next.SlackTeamID, alert.ErrInvalid)
	}
	if next.Status == "" {
		next.Status = alert.ConnectionActive
	}
	if err := checkConnection(next); err != nil {
		return alert.Connection{}, err
	}
	access, refresh, err := sealTokens(kr, next)
	if err != nil {
		return alert.Connection{}, err
	}
	next.StatusReason = clipReason(next.StatusReason)
	next.DefaultTeamKey, next.ConnectedBy, next.CreatedAt = cur.DefaultTeamKey, cur.ConnectedBy, cur.CreatedAt
	next.UpdatedAt = db.clock()
	next.TokenExpiry = zeroOrDBTime(next.TokenExpiry)
	_, err = db.exec(ctx, tx, `UPDATE connections SET
	org_id = ?, org_name = ?, org_url_key = ?, user_name = ?, user_email = ?,
	access_token_enc = ?, refresh_token_enc = ?, expires_at = ?, scopes = ?,
	status = ?, status_reason = ?, updated_at = ?
WHERE slack_team_id = ?`,
		next.OrgID, next.OrgName, next.OrgURLKey, next.UserName, next.UserEmail,
		access, refresh, db.nullT(next.TokenExpiry), next.Scopes,
		string(next.Status), next.StatusReason, db.t(next.UpdatedAt), next.SlackTeamID)
	if err != nil {
		return alert.Connection{}, wrap(err, "save locked connection of slack team %s", next.SlackTeamID)
	}
	return next, nil
}

// zeroOrDBTime is t as it reads back: zero stays zero.
func zeroOrDBTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return dbTime(t)
}
