package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/secret"
)

// connColumns are the connections columns connRow scans, sealed tokens
// included.
const connColumns = `slack_team_id, org_id, org_name, org_url_key, user_name, user_email,
	access_token_enc, refresh_token_enc, expires_at, scopes, status, status_reason,
	default_team_key, created_by, created_at, updated_at`

// maxStatusReason bounds status_reason: it is shown to users, and a reason
// is an OAuth error code or a short phrase, not a response body.
const maxStatusReason = 200

// connRow is a connections row as stored: tokens sealed, expiry nullable.
type connRow struct {
	SlackTeamID    string       `db:"slack_team_id"`
	OrgID          string       `db:"org_id"`
	OrgName        string       `db:"org_name"`
	OrgURLKey      string       `db:"org_url_key"`
	UserName       string       `db:"user_name"`
	UserEmail      string       `db:"user_email"`
	AccessEnc      string       `db:"access_token_enc"`
	RefreshEnc     string       `db:"refresh_token_enc"`
	ExpiresAt      sql.NullTime `db:"expires_at"`
	Scopes         string       `db:"scopes"`
	Status         string       `db:"status"`
	StatusReason   string       `db:"status_reason"`
	DefaultTeamKey string       `db:"default_team_key"`
	CreatedBy      string       `db:"created_by"`
	CreatedAt      time.Time    `db:"created_at"`
	UpdatedAt      time.Time    `db:"updated_at"`
}

// open unseals the row into the core's Connection. A row whose access
// token was deleted is no connection at all.
func (r connRow) open(kr *secret.Keyring) (alert.Connection, error) {
	if r.AccessEnc == "" {
		return alert.Connection{}, fmt.Errorf("connection of slack team %s: %w", r.SlackTeamID, alert.ErrNotConnected)
	}
	access, err := unseal(kr, r.AccessEnc, connAAD(r.SlackTeamID, colAccessToken))
	if err != nil {
		return alert.Connection{}, err
	}
	refresh, err := unseal(kr, r.RefreshEnc, connAAD(r.SlackTeamID, colRefreshToken))
	if err != nil {
		return alert.Connection{}, err
	}
	return alert.Connection{
		SlackTeamID: r.SlackTeamID,
		OrgID:       r.OrgID, OrgName: r.OrgName, OrgURLKey: r.OrgURLKey,
		UserName: r.UserName, UserEmail: r.UserEmail,
		AccessToken: access, RefreshToken: refresh,
		TokenExpiry:    nullTime(r.ExpiresAt),
		Scopes:         r.Scopes,
		Status:         alert.ConnectionStatus(r.Status),
		StatusReason:   r.StatusReason,
		DefaultTeamKey: r.DefaultTeamKey,
		ConnectedBy:    r.CreatedBy,
		CreatedAt:      r.CreatedAt.UTC(),
		UpdatedAt:      r.UpdatedAt.UTC(),
	}, nil
}

// checkConnection refuses a connection the store cannot keep.
func checkConnection(c alert.Connection) error {
	switch {
	case c.SlackTeamID == "":
		return fmt.Errorf("connection: empty slack team id: %w", alert.ErrInvalid)
	case c.AccessToken == "":
		// An empty token means "not connected"; DeleteConnection says that.
		return fmt.Errorf("connection of slack team %s: empty access token: %w", c.SlackTeamID, alert.ErrInvalid)
	}
	return checkStatus(c.Status)
}

func checkStatus(s alert.ConnectionStatus) error {
	switch s {
	case alert.ConnectionActive, alert.ConnectionNeedsReconnect:
		return nil
	}
	return fmt.Errorf("connection status %q: %w", s, alert.ErrInvalid)
}

// clipReason bounds a status reason to maxStatusReason bytes without
// splitting a UTF-8 sequence.
func clipReason(s string) string {
	if len(s) <= maxStatusReason {
		return s
	}
	n := maxStatusReason
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// SaveConnection records a (re)connection of c.SlackTeamID, replacing any
// previous one: one Linear workspace per Slack workspace. Tokens are sealed
// before they reach the database. An empty Status means active; a zero
// CreatedAt means now.
//
// An empty DefaultTeamKey keeps the stored one when the Linear workspace
// (OrgID) is unchanged, so reconnecting after a revoked grant does not
// forget the default team; team keys belong to a workspace, so connecting
// another one drops it.
func (db *DB) SaveConnection(ctx context.Context, c alert.Connection) error {
	kr, err := db.keyring()
	if err != nil {
		return err
	}
	if c.Status == "" {
		c.Status = alert.ConnectionActive
	}
	if err := checkConnection(c); err != nil {
		return err
	}
	access, refresh, err := sealTokens(kr, c)
	if err != nil {
		return err
	}
	now := db.clock()
	created := now
	if !c.CreatedAt.IsZero() {
		created = c.CreatedAt
	}
	_, err = db.exec(ctx, nil, `INSERT INTO connections (`+connColumns+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (slack_team_id) DO UPDATE SET
	org_id = excluded.org_id, org_name = excluded.org_name, org_url_key = excluded.org_url_key,
	user_name = excluded.user_name, user_email = excluded.user_email,
	access_token_enc = excluded.access_token_enc, refresh_token_enc = excluded.refresh_token_enc,
	expires_at = excluded.expires_at, scopes = excluded.scopes,
	status = excluded.status, status_reason = excluded.status_reason,
	default_team_key = CASE
		WHEN excluded.default_team_key = '' AND connections.org_id = excluded.org_id THEN connections.default_team_key
		ELSE excluded.default_team_key END,
	created_by = excluded.created_by, created_at = excluded.created_at, updated_at = excluded.updated_at`,
		c.SlackTeamID, c.OrgID, c.OrgName, c.OrgURLKey, c.UserName, c.UserEmail,
		access, refresh, db.nullT(c.TokenExpiry), c.Scopes, string(c.Status), clipReason(c.StatusReason),
		c.DefaultTeamKey, c.ConnectedBy, db.t(created), db.t(now))
	if err != nil {
		return wrap(err, "save connection of slack team %s", c.SlackTeamID)
	}
	db.log.InfoContext(ctx, "linear connection saved", "slack_team", c.SlackTeamID, "linear_org", c.OrgID, "status", c.Status)
	return nil
}

// sealTokens seals c's access and refresh tokens for c's row.
func sealTokens(kr *secret.Keyring, c alert.Connection) (access, refresh string, err error) {
	if access, err = seal(kr, c.AccessToken, connAAD(c.SlackTeamID, colAccessToken)); err != nil {
		return "", "", err
	}
	if refresh, err = seal(kr, c.RefreshToken, connAAD(c.SlackTeamID, colRefreshToken)); err != nil {
		return "", "", err
	}
	return access, refresh, nil
}

// Connection returns the Slack team's Linear connection with its tokens
// unsealed: alert.ErrNotConnected if there is none (never connected, or
// disconnected). A connection that needs a reconnect is returned as is;
// its Status says so. A token that does not open is an error wrapping
// secret.ErrAuthentication or secret.ErrUnknownVersion.
func (db *DB) Connection(ctx context.Context, slackTeamID string) (alert.Connection, error) {
	kr, err := db.keyring()
	if err != nil {
		return alert.Connection{}, err
	}
	var r connRow
	err = db.get(ctx, nil, &r, `SELECT `+connColumns+` FROM connections WHERE slack_team_id = ?`, slackTeamID)
	if errors.Is(err, sql.ErrNoRows) {
		return alert.Connection{}, fmt.Errorf("connection of slack team %s: %w", slackTeamID, alert.ErrNotConnected)
	}
	if err != nil {
		return alert.Connection{}, wrap(err, "connection of slack team %s", slackTeamID)
	}
	return r.open(kr)
}

// ConnectionByOrg returns the connection to Linear organization orgID, for
// Linear's OAuthApp revoked webhook, which names the organization only; an
// error wrapping alert.ErrNotConnected if none.
func (db *DB) ConnectionByOrg(ctx context.Context, orgID string) (alert.Connection, error) {
	kr, err := db.keyring()
	if err != nil {
		return alert.Connection{}, err
	}
	var r connRow
	err = db.get(ctx, nil, &r, `SELECT `+connColumns+` FROM connections WHERE org_id = ? AND org_id <> ''`, orgID)
	if errors.Is(err, sql.ErrNoRows) {
		return alert.Connection{}, fmt.Errorf("connection to linear organization %s: %w", orgID, alert.ErrNotConnected)
	}
	if err != nil {
		return alert.Connection{}, wrap(err, "connection to linear organization %s", orgID)
	}
	return r.open(kr)
}

// DeleteConnection disconnects the Slack team: the row, and with it the
// tokens, is deleted. Issue links live in their own table and are kept.
// It returns an error wrapping alert.ErrNotConnected when there was no
// connection, which a caller making disconnect idempotent may ignore.
func (db *DB) DeleteConnection(ctx context.Context, slackTeamID string) error {
	res, err := db.exec(ctx, nil, `DELETE FROM connections WHERE slack_team_id = ?`, slackTeamID)
	if err := affectedOrNotConnected(res, err, "delete connection of slack team %s", slackTeamID); err != nil {
		return err
	}
	db.log.InfoContext(ctx, "linear connection deleted", "slack_team", slackTeamID)
	return nil
}

// MarkConnection records the connection's health: ConnectionNeedsReconnect
// with why (an OAuth error code or a short phrase, never a token; clipped
// to 200 bytes), or ConnectionActive again.
func (db *DB) MarkConnection(ctx context.Context, slackTeamID string, status alert.ConnectionStatus, reason string) error {
	if err := checkStatus(status); err != nil {
		return err
	}
	res, err := db.exec(ctx, nil, `UPDATE connections SET status = ?, status_reason = ?, updated_at = ?
WHERE slack_team_id = ? AND access_token_enc <> ''`,
		string(status), clipReason(reason), db.t(db.clock()), slackTeamID)
	if err := affectedOrNotConnected(res, err, "mark connection of slack team %s", slackTeamID); err != nil {
		return err
	}
	db.log.InfoContext(ctx, "linear connection marked", "slack_team", slackTeamID, "status", status, "reason", clipReason(reason))
	return nil
}

// SetDefaultTeam records the Linear team key preselected in the create
// modal; "" clears it (LINEAR_DEFAULT_TEAM applies again).
func (db *DB) SetDefaultTeam(ctx context.Context, slackTeamID, teamKey string) error {
	res, err := db.exec(ctx, nil, `UPDATE connections SET default_team_key = ?, updated_at = ?
WHERE slack_team_id = ? AND access_token_enc <> ''`, teamKey, db.t(db.clock()), slackTeamID)
	return affectedOrNotConnected(res, err, "set default team of slack team %s", slackTeamID)
}

// affectedOrNotConnected turns "no row changed" into alert.ErrNotConnected.
func affectedOrNotConnected(res sql.Result, err error, format string, args ...any) error {
	err = mustAffect(res, err, format, args...)
	if errors.Is(err, alert.ErrNotFound) {
		return fmt.Errorf(format+": %w", append(args, alert.ErrNotConnected)...)
	}
	return err
}
