package oauth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/proliferate/proliferate-linear/alert"
)

// Disconnect revokes the Slack team's grant at Linear and deletes the
// stored connection. Error↔issue links are kept. A grant Linear no longer
// knows counts as revoked; when Linear cannot be reached nothing is deleted
// and the error (temporary alert.ErrUnavailable) says to try again.
func (m *Manager) Disconnect(ctx context.Context, slackTeamID string) error {
	log := m.log.With("slack_team", slackTeamID)
	// Under the lock, so no refresh rotates the token being revoked.
	cur, err := m.store.WithConnectionLock(ctx, slackTeamID, func(cur alert.Connection) (alert.Connection, error) {
		if cur.SlackTeamID == "" {
			return alert.Connection{}, alert.ErrNotConnected
		}
		if err := m.revoke(ctx, cur); err != nil {
			return alert.Connection{}, err
		}
		return cur, nil
	})
	if err != nil {
		return fmt.Errorf("linear disconnect: %w", err)
	}
	if err := m.store.DeleteConnection(ctx, slackTeamID); err != nil {
		return fmt.Errorf("linear disconnect: %w", err)
	}
	m.forget(slackTeamID)
	log.InfoContext(ctx, "linear disconnected", "linear_org", cur.OrgID)
	return nil
}

// Revoked handles Linear's OAuthApp revoked webhook for organization orgID:
// the grant is already dead at Linear, so the connection to that workspace
// is deleted. An error wrapping alert.ErrNotFound says no connection is to
// that workspace.
func (m *Manager) Revoked(ctx context.Context, orgID string) error {
	if orgID == "" {
		return fmt.Errorf("linear revoked: no organization: %w", alert.ErrNotFound)
	}
	teams, err := m.teamsOf(ctx, orgID)
	if err != nil {
		return err
	}
	found := false
	for _, team := range teams {
		c, err := m.store.Connection(ctx, team)
		switch {
		case errors.Is(err, alert.ErrNotConnected):
			continue
		case err != nil:
			return fmt.Errorf("linear revoked: %w", err)
		case c.OrgID != orgID:
			continue
		}
		if err := m.store.DeleteConnection(ctx, team); err != nil {
			return fmt.Errorf("linear revoked: %w", err)
		}
		m.forget(team)
		found = true
		m.log.InfoContext(ctx, "linear access revoked in Linear; connection deleted", "slack_team", team, "linear_org", orgID)
	}
	if !found {
		return fmt.Errorf("linear revoked: no connection to organization %s: %w", orgID, alert.ErrNotFound)
	}
	return nil
}

// teamsOf lists the Slack teams that may be connected to orgID.
func (m *Manager) teamsOf(ctx context.Context, orgID string) ([]string, error) {
	if ol, ok := m.store.(OrgLookup); ok {
		c, err := ol.ConnectionByOrg(ctx, orgID)
		if errors.Is(err, alert.ErrNotConnected) {
			return nil, fmt.Errorf("linear revoked: no connection to organization %s: %w", orgID, alert.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("linear revoked: %w", err)
		}
		return []string{c.SlackTeamID}, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	teams := make([]string, 0, len(m.known))
	for t := range m.known {
		teams = append(teams, t)
	}
	return teams, nil
}

// revoke revokes c's grant; a grant Linear does not know is already gone.
func (m *Manager) revoke(ctx context.Context, c alert.Connection) error {
	// Either token revokes the whole grant; the refresh token outlives
	// the access token.
	tok := cmp.Or(c.RefreshToken, c.AccessToken)
	if tok == "" {
		return nil
	}
	if err := m.oauth.Revoke(ctx, tok); err != nil && !errors.Is(err, alert.ErrNotFound) {
		return err
	}
	return nil
}

// revokeQuietly revokes a grant nobody will use again, logging a failure.
func (m *Manager) revokeQuietly(ctx context.Context, c alert.Connection, log *slog.Logger) {
	if err := m.revoke(ctx, c); err != nil {
		log.WarnContext(ctx, "could not revoke an unused linear grant", "err", err)
	}
}
