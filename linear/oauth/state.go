package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/proliferate/proliferate-linear/alert"
)

// StateTTL is how long a connect link stays usable: long enough to log in
// to Linear and click Allow, short enough that a leaked link goes stale.
const StateTTL = 10 * time.Minute

// ErrDenied is returned by Complete when the admin clicked Deny on Linear's
// consent screen (error=access_denied, RFC 6749 §4.1.2.1).
var ErrDenied = errors.New("linear access was denied")

// Pending is a connect flow under way: the random state sent to Linear, the
// PKCE verifier that must come back with the code, and who started it.
type Pending struct {
	State       string
	Verifier    string
	SlackTeamID string
	SlackUserID string
	ExpiresAt   time.Time
}

// String keeps the verifier out of logs.
func (p Pending) String() string {
	return fmt.Sprintf("oauth.Pending{team: %s, user: %s, expires: %s}", p.SlackTeamID, p.SlackUserID, p.ExpiresAt.Format(time.RFC3339))
}

// GoString keeps the verifier out of %#v.
func (p Pending) GoString() string { return p.String() }

// NewPending starts a connect flow for a Slack team and user: 32 random
// bytes of state (base64url, so it needs no escaping in a URL) and a fresh
// PKCE verifier, expiring StateTTL after now.
func NewPending(teamID, userID string, now time.Time) (Pending, error) {
	if teamID == "" || userID == "" {
		return Pending{}, fmt.Errorf("linear oauth state: empty slack team or user: %w", alert.ErrInvalid)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Pending{}, fmt.Errorf("linear oauth state: %w", err)
	}
	return Pending{
		State:       base64.RawURLEncoding.EncodeToString(b),
		Verifier:    oauth2.GenerateVerifier(),
		SlackTeamID: teamID,
		SlackUserID: userID,
		ExpiresAt:   now.Add(StateTTL),
	}, nil
}

// StateStore keeps pending connect flows where every replica sees them: the
// callback may reach another replica than the one that made the link.
type StateStore interface {
	// SavePending stores p.
	SavePending(ctx context.Context, p Pending) error
	// TakePending returns and deletes the pending flow of state: single
	// use. An unknown, used or expired (ExpiresAt not after now) state is
	// an error wrapping alert.ErrNotFound.
	TakePending(ctx context.Context, state string, now time.Time) (Pending, error)
}

// Begin starts a connect flow for a Slack team and user, stores it, and
// returns the Linear URL to send the admin's browser to.
func (c Config) Begin(ctx context.Context, states StateStore, teamID, userID string, now time.Time) (string, error) {
	p, err := NewPending(teamID, userID, now)
	if err != nil {
		return "", err
	}
	if err := states.SavePending(ctx, p); err != nil {
		return "", fmt.Errorf("linear oauth begin: %w", err)
	}
	return c.AuthCodeURL(p.State, p.Verifier), nil
}

// Complete finishes a connect flow from the callback's query: it takes the
// state (single use, even when the rest fails), then exchanges the code
// with the stored verifier. Errors: alert.ErrNotFound for an unknown,
// replayed or expired state; ErrDenied when the admin clicked Deny;
// alert.ErrInvalid when Linear refused the code. The Pending says which
// Slack team and user the new connection belongs to.
func (c Config) Complete(ctx context.Context, states StateStore, query url.Values, now time.Time) (Pending, *oauth2.Token, error) {
	state := query.Get("state")
	if state == "" {
		return Pending{}, nil, fmt.Errorf("linear oauth callback: no state: %w", alert.ErrNotFound)
	}
	p, err := states.TakePending(ctx, state, now)
	if err != nil {
		return Pending{}, nil, fmt.Errorf("linear oauth callback: %w", err)
	}
	if !now.Before(p.ExpiresAt) { // do not rely on every store checking
		return Pending{}, nil, fmt.Errorf("linear oauth callback: state expired: %w", alert.ErrNotFound)
	}
	switch e := query.Get("error"); {
	case e == "access_denied":
		return p, nil, fmt.Errorf("linear oauth callback: %w", ErrDenied)
	case e != "":
		if len(e) > 64 { // the query is the browser's, so anyone's
			e = e[:64]
		}
		return p, nil, &Error{Op: "authorize", Code: e, Kind: alert.ErrInvalid}
	case query.Get("code") == "":
		return p, nil, fmt.Errorf("linear oauth callback: no code: %w", alert.ErrInvalid)
	}
	tok, err := c.Exchange(ctx, query.Get("code"), p.Verifier)
	if err != nil {
		return p, nil, err
	}
	return p, tok, nil
}
