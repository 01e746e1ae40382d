package alert

import (
	"context"
	"fmt"
	"time"
)

// ConnectionStatus is the health of the Linear connection.
type ConnectionStatus string

// Connection states.
const (
	// ConnectionActive: tokens work (as far as we know).
	ConnectionActive ConnectionStatus = "active"
	// ConnectionNeedsReconnect: Linear refused the grant (revoked, or the
	// refresh token was rejected). Nothing retries until an admin
	// reconnects; users are told to run `/proliferate-linear connect`.
	ConnectionNeedsReconnect ConnectionStatus = "needs_reconnect"
)

// Connection is the installation's Linear connection: one Linear
// workspace per Slack workspace. Tokens are plain here, in memory only; the
// store seals them (AES-256-GCM) before they touch the disk.
type Connection struct {
	SlackTeamID string `db:"slack_team_id"`

	OrgID     string `db:"org_id"`
	OrgName   string `db:"org_name"`
	OrgURLKey string `db:"org_url_key"`
	// UserName and UserEmail are the Linear user who authorised the app.
	UserName  string `db:"user_name"`
	UserEmail string `db:"user_email"`

	AccessToken  string    `db:"-"`
	RefreshToken string    `db:"-"`
	TokenExpiry  time.Time `db:"expires_at"` // zero: does not expire.
	Scopes       string    `db:"scopes"`

	Status       ConnectionStatus `db:"status"`
	StatusReason string           `db:"status_reason"` // why it needs a reconnect; no secrets.
	// DefaultTeamKey is the team preselected in the create modal (set with
	// `/proliferate-linear default-team KEY`); LINEAR_DEFAULT_TEAM applies
	// when it is empty.
	DefaultTeamKey string `db:"default_team_key"`

	ConnectedBy string    `db:"created_by"` // Slack user ID of the admin who connected.
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
}

// ReplaceError is returned when a connect would replace the installation's
// working connection to another Linear workspace: one workspace per
// installation, so an admin must confirm (with ConfirmState) first.
type ReplaceError struct {
	// Current and Proposed are the connections, without tokens.
	Current, Proposed Connection
	// ConfirmState names the waiting replacement; it is single use, bound
	// to the Slack team, and expires after 10 minutes.
	ConfirmState string
}

func (e *ReplaceError) Error() string {
	return fmt.Sprintf("linear workspace %q is connected; connecting %q replaces it once confirmed", e.Current.OrgName, e.Proposed.OrgName)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ReplaceError) Is(target error) bool { return target == ErrConflict }

// Connector manages the Linear connection for the Slack and HTTP
// adapters; linear/oauth.Manager implements it.
type Connector interface {
	// ConnectURL returns a short-lived link (valid 10 minutes, single use)
	// that starts Linear's OAuth consent for slackTeamID on behalf of
	// slackUserID.
	ConnectURL(ctx context.Context, slackTeamID, slackUserID string) (string, error)
	// Connection returns the current connection; ErrNotConnected if none.
	Connection(ctx context.Context, slackTeamID string) (Connection, error)
	// Disconnect revokes the token at Linear and deletes the stored
	// tokens. Every error↔issue link is kept.
	Disconnect(ctx context.Context, slackTeamID string) error
	// SetDefaultTeam records the team preselected in the create modal.
	SetDefaultTeam(ctx context.Context, slackTeamID, teamKey string) error
}
