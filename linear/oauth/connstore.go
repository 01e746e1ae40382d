package oauth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/proliferate/proliferate-linear/alert"
)

// ConnectionStore persists the installation's Linear connection (one per
// Slack team) and the pending connect flows, shared by every replica.
// Package store implements it on SQLite and PostgreSQL, sealing tokens and
// verifiers (AES-256-GCM) before they touch the disk.
type ConnectionStore interface {
	// SaveConnection inserts or replaces the connection of c.SlackTeamID.
	SaveConnection(ctx context.Context, c alert.Connection) error
	// Connection returns the connection of a Slack team: an error wrapping
	// alert.ErrNotConnected if there is none.
	Connection(ctx context.Context, slackTeamID string) (alert.Connection, error)
	// DeleteConnection deletes the connection and its tokens. Error↔issue
	// links live elsewhere and are kept. Deleting nothing is not an error.
	DeleteConnection(ctx context.Context, slackTeamID string) error
	// MarkConnection sets the connection's status and the reason for it
	// (an OAuth error code or a short phrase, never a token).
	MarkConnection(ctx context.Context, slackTeamID string, status alert.ConnectionStatus, reason string) error
	// SetDefaultTeam records the team key preselected in the create modal;
	// alert.ErrNotConnected if there is no connection.
	SetDefaultTeam(ctx context.Context, slackTeamID, teamKey string) error
	// WithConnectionLock runs fn while holding the Slack team's connection
	// lock (SELECT ... FOR UPDATE on PostgreSQL, a write transaction on
	// SQLite), passing the connection stored now, and saves fn's result, as
	// SaveConnection would, before releasing the lock and returning it. fn
	// may return current unchanged. When fn fails nothing is written and its
	// error is returned as is. With no connection it does not call fn and
	// returns an error wrapping alert.ErrNotConnected: a token refresh racing
	// a disconnect must not bring the tokens back (see lockOrCreate for the
	// connect path).
	WithConnectionLock(ctx context.Context, slackTeamID string, fn func(current alert.Connection) (alert.Connection, error)) (alert.Connection, error)
	// SavePendingAuth stores a pending connect flow under state.
	SavePendingAuth(ctx context.Context, state, slackTeamID, slackUserID, verifier string, expiresAt time.Time) error
	// TakePendingAuth returns and deletes the pending flow of state: single
	// use. An unknown, used or expired (expiresAt not after now) state is an
	// error wrapping alert.ErrNotFound.
	TakePendingAuth(ctx context.Context, state string, now time.Time) (slackTeamID, slackUserID, verifier string, expiresAt time.Time, err error)
}

// OrgLookup is implemented by a ConnectionStore that can find a connection
// by its Linear organization, which Linear's OAuthApp revoked webhook names.
// Without it Manager.Revoked checks the Slack teams it has served.
type OrgLookup interface {
	// ConnectionByOrg returns the connection to Linear organization orgID:
	// an error wrapping alert.ErrNotConnected if there is none.
	ConnectionByOrg(ctx context.Context, orgID string) (alert.Connection, error)
}

// stashPrefix marks a pending entry that holds a proposed replacement
// connection (see Manager.ConfirmReplace) rather than a PKCE verifier, so
// neither kind of state can be spent as the other.
const stashPrefix = "replace:"

// pendingStates adapts a ConnectionStore to StateStore.
type pendingStates struct{ s ConnectionStore }

var _ StateStore = pendingStates{}

func (p pendingStates) SavePending(ctx context.Context, pe Pending) error {
	return p.s.SavePendingAuth(ctx, pe.State, pe.SlackTeamID, pe.SlackUserID, pe.Verifier, pe.ExpiresAt)
}

func (p pendingStates) TakePending(ctx context.Context, state string, now time.Time) (Pending, error) {
	team, user, verifier, exp, err := p.s.TakePendingAuth(ctx, state, now)
	if err != nil {
		return Pending{}, err
	}
	if strings.HasPrefix(verifier, stashPrefix) {
		return Pending{}, fmt.Errorf("linear oauth state: a replace confirmation, not a connect flow: %w", alert.ErrNotFound)
	}
	return Pending{State: state, Verifier: verifier, SlackTeamID: team, SlackUserID: user, ExpiresAt: exp}, nil
}

// connTokens adapts a ConnectionStore to TokenStore; the workspace ID is the
// Slack team ID.
type connTokens struct{ s ConnectionStore }

var _ TokenStore = connTokens{}

// errNeedsReconnect is what a connection marked as needing reconnection
// yields instead of its token.
func errNeedsReconnect(c alert.Connection) error {
	reason := c.StatusReason
	if reason == "" {
		reason = "needs reconnect"
	}
	return fmt.Errorf("linear connection of %s: %s: %w", c.SlackTeamID, reason, alert.ErrUnauthorized)
}

// usableConn says c holds tokens, or why not.
func usableConn(c alert.Connection, team string) error {
	switch {
	case c.SlackTeamID == "" || c.AccessToken == "" && c.RefreshToken == "":
		return fmt.Errorf("linear connection of %s: %w", team, alert.ErrNotConnected)
	case c.Status == alert.ConnectionNeedsReconnect:
		return errNeedsReconnect(c)
	}
	return nil
}

func (a connTokens) Token(ctx context.Context, team string) (*oauth2.Token, error) {
	c, err := a.s.Connection(ctx, team)
	if err != nil {
		return nil, fmt.Errorf("linear connection of %s: %w", team, err)
	}
	if err := usableConn(c, team); err != nil {
		return nil, err
	}
	return connToken(c), nil
}

func (a connTokens) WithRefreshLock(ctx context.Context, team string, fn func(*oauth2.Token) (*oauth2.Token, error)) (*oauth2.Token, error) {
	saved, err := a.s.WithConnectionLock(ctx, team, func(c alert.Connection) (alert.Connection, error) {
		// Checked again under the lock: a disconnect or a refusal seen by
		// another replica may have landed since Token was read.
		if err := usableConn(c, team); err != nil {
			return alert.Connection{}, err
		}
		cur := connToken(c)
		nt, err := fn(cur)
		if err != nil {
			return alert.Connection{}, err
		}
		if nt == cur {
			return c, nil
		}
		c.AccessToken, c.TokenExpiry = nt.AccessToken, nt.Expiry
		if nt.RefreshToken != "" { // x/oauth2 keeps the old one when none came back
			c.RefreshToken = nt.RefreshToken
		}
		if sc, ok := nt.Extra("scope").(string); ok && sc != "" {
			c.Scopes = sc
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return connToken(saved), nil
}

func (a connTokens) MarkNeedsReconnect(ctx context.Context, team, reason string) error {
	return a.s.MarkConnection(ctx, team, alert.ConnectionNeedsReconnect, reason)
}

// connToken is c's token pair as x/oauth2 holds it.
func connToken(c alert.Connection) *oauth2.Token {
	return &oauth2.Token{AccessToken: c.AccessToken, RefreshToken: c.RefreshToken, Expiry: c.TokenExpiry, TokenType: "Bearer"}
}

// tokenConn copies a new token pair into c.
func tokenConn(c alert.Connection, t *oauth2.Token) alert.Connection {
	c.AccessToken, c.RefreshToken, c.TokenExpiry = t.AccessToken, t.RefreshToken, t.Expiry
	if sc, ok := t.Extra("scope").(string); ok {
		c.Scopes = sc
	}
	return c
}
