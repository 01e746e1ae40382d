package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// SavePendingAuth stores a connect flow under way: the OAuth state sent to
// Linear (kept only as its SHA-256), the Slack team and user who started
// it, and the PKCE verifier (sealed). Every replica sees it, since the
// callback may reach another replica than the one that made the link.
// Flows already expired are swept on the way, so the table stays small
// without a janitor.
func (db *DB) SavePendingAuth(ctx context.Context, state, slackTeamID, slackUserID, verifier string, expiresAt time.Time) error {
	kr, err := db.keyring()
	if err != nil {
		return err
	}
	if state == "" || slackTeamID == "" || slackUserID == "" || verifier == "" {
		return fmt.Errorf("save oauth state: empty state, slack team, user or verifier: %w", alert.ErrInvalid)
	}
	h := stateHash(state)
	sealed, err := seal(kr, verifier, stateAAD(h))
	if err != nil {
		return err
	}
	now := db.clock()
	err = db.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := db.exec(ctx, tx, `DELETE FROM oauth_states WHERE expires_at <= ?`, db.t(now)); err != nil {
			return fmt.Errorf("sweep expired oauth states: %w", err)
		}
		_, err := db.exec(ctx, tx, `INSERT INTO oauth_states
	(state_hash, slack_team_id, slack_user_id, verifier_enc, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			h, slackTeamID, slackUserID, sealed, db.t(expiresAt), db.t(now))
		return wrap(err, "save oauth state of slack team %s", slackTeamID)
	})
	return err
}

// TakePendingAuth returns and deletes the connect flow of state, in one
// statement (DELETE ... RETURNING), so a state is used once even when two
// replicas receive the same callback. An unknown, used or expired
// (expiresAt not after now) state is an error wrapping alert.ErrNotFound;
// an expired one is deleted all the same.
func (db *DB) TakePendingAuth(ctx context.Context, state string, now time.Time) (slackTeamID, slackUserID, verifier string, expiresAt time.Time, err error) {
	kr, err := db.keyring()
	if err != nil { // before the DELETE: a missing keyring must not burn the state.
		return "", "", "", time.Time{}, err
	}
	if state == "" {
		return "", "", "", time.Time{}, fmt.Errorf("take oauth state: empty state: %w", alert.ErrNotFound)
	}
	h := stateHash(state)
	var r struct {
		SlackTeamID string    `db:"slack_team_id"`
		SlackUserID string    `db:"slack_user_id"`
		VerifierEnc string    `db:"verifier_enc"`
		ExpiresAt   time.Time `db:"expires_at"`
	}
	err = db.get(ctx, nil, &r, `DELETE FROM oauth_states WHERE state_hash = ?
RETURNING slack_team_id, slack_user_id, verifier_enc, expires_at`, h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", "", time.Time{}, fmt.Errorf("take oauth state: unknown or already used: %w", alert.ErrNotFound)
	}
	if err != nil {
		return "", "", "", time.Time{}, wrap(err, "take oauth state")
	}
	expiresAt = r.ExpiresAt.UTC()
	if !now.Before(expiresAt) {
		return "", "", "", time.Time{}, fmt.Errorf("take oauth state of slack team %s: expired at %s: %w",
			r.SlackTeamID, expiresAt.Format(time.RFC3339), alert.ErrNotFound)
	}
	verifier, err = unseal(kr, r.VerifierEnc, stateAAD(h))
	if err != nil {
		return "", "", "", time.Time{}, err
	}
	return r.SlackTeamID, r.SlackUserID, verifier, expiresAt, nil
}
