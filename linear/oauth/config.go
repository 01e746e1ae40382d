// Package oauth connects a Linear workspace with OAuth 2.0: the authorize
// URL (comma-separated scopes, actor=app, PKCE S256), the code exchange,
// single-use connect states, a refreshing token source that serialises
// refreshes per workspace across goroutines and replicas, and revocation.
//
// Linear's OAuth is described at
// https://linear.app/developers/oauth-2-0-authentication: access tokens
// live 24 hours and every refresh returns a new refresh token, so each new
// pair must be stored before it is used.
//
// Manager ties these together for the rest of the service: it implements
// alert.Connector (connect link, callback, replacing another workspace,
// disconnect, Linear-side revocation) and hands out the connected
// alert.Tracker. Persistence is the caller's: ConnectionStore (and the
// lower-level StateStore and TokenStore, which Manager adapts it to) are
// declared here and implemented by package store.
package oauth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/proliferate/proliferate-linear/alert"
)

// Linear's OAuth endpoints.
const (
	AuthorizeURL = "https://linear.app/oauth/authorize"
	TokenURL     = "https://api.linear.app/oauth/token"
	RevokeURL    = "https://api.linear.app/oauth/revoke"
)

// DefaultScopes are what the bot needs: read teams and issues, write
// attachments, create issues.
var DefaultScopes = []string{"read", "write", "issues:create"}

// DefaultRefreshBefore is how long before expiry a token is refreshed.
const DefaultRefreshBefore = 5 * time.Minute

// Config is one Linear OAuth application. The zero value of every URL field
// means Linear's own endpoint; Scopes nil means DefaultScopes.
type Config struct {
	ClientID     string
	ClientSecret string
	// RedirectURL is the callback registered with the application,
	// PUBLIC_URL + /api/v1/integrations/linear/callback.
	RedirectURL string

	AuthorizeURL, TokenURL, RevokeURL string
	Scopes                            []string

	// HTTPClient sends token and revoke requests; nil means a client with a
	// 15 s timeout.
	HTTPClient *http.Client
	// RefreshBefore is how long before its expiry a token source refreshes
	// a token; zero means DefaultRefreshBefore.
	RefreshBefore time.Duration
	// OnRefresh, when set, is told the outcome of every refresh a token
	// source asked Linear for (metrics): RefreshOK, RefreshFailed (it will
	// be tried again) or RefreshRefused (the grant is dead: reconnect).
	OnRefresh func(outcome string)
}

// Refresh outcomes, for Config.OnRefresh.
const (
	RefreshOK      = "ok"
	RefreshFailed  = "failed"
	RefreshRefused = "refused"
)

func (c Config) refreshed(outcome string) {
	if c.OnRefresh != nil {
		c.OnRefresh(outcome)
	}
}

// String keeps the client secret out of %v and %+v.
func (c Config) String() string {
	return fmt.Sprintf("oauth.Config{ClientID: %q, ClientSecret: [redacted], RedirectURL: %q}", c.ClientID, c.RedirectURL)
}

// GoString keeps the client secret out of %#v.
func (c Config) GoString() string { return c.String() }

func (c Config) oauth2() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		RedirectURL:  c.RedirectURL,
		Endpoint: oauth2.Endpoint{
			AuthURL:  cmp.Or(c.AuthorizeURL, AuthorizeURL),
			TokenURL: cmp.Or(c.TokenURL, TokenURL),
			// Linear documents client_id and client_secret as form fields.
			// Saying so spares auto-detection's second request, which on a
			// refresh would replay a refresh token.
			AuthStyle: oauth2.AuthStyleInParams,
		},
		// Scopes stays empty: x/oauth2 joins scopes with spaces and Linear
		// wants commas, so AuthCodeURL sets the parameter itself.
	}
}

func (c Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return &http.Client{Timeout: 15 * time.Second}
}

// ctx carries the HTTP client to x/oauth2, which looks for it there.
func (c Config) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
}

func (c Config) refreshBefore() time.Duration { return cmp.Or(c.RefreshBefore, DefaultRefreshBefore) }

// AuthCodeURL is where the admin's browser goes to connect Linear: response
// type code, the scopes comma separated, actor=app (issues show as created
// by the app, https://linear.app/developers/oauth-actor-authorization),
// prompt=consent (the consent screen every time, so another workspace can
// be picked), state, and the PKCE S256 challenge of verifier.
func (c Config) AuthCodeURL(state, verifier string) string {
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	return c.oauth2().AuthCodeURL(state,
		oauth2.SetAuthURLParam("scope", strings.Join(scopes, ",")),
		oauth2.SetAuthURLParam("actor", "app"),
		oauth2.SetAuthURLParam("prompt", "consent"),
		oauth2.S256ChallengeOption(verifier),
	)
}

// Exchange trades an authorization code for the first token pair. A code
// Linear refuses (unknown, used, expired, wrong verifier) is an *Error
// wrapping alert.ErrInvalid; an unreachable Linear alert.ErrUnavailable,
// temporary.
func (c Config) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	tok, err := c.oauth2().Exchange(c.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, tokenError("exchange", err, alert.ErrInvalid)
	}
	return tok, nil
}

// Revoke revokes token (access or refresh; Linear revokes the whole grant)
// at Linear's revoke endpoint. A token Linear does not know (already
// revoked) is an *Error wrapping alert.ErrNotFound, which a disconnect can
// treat as done.
func (c Config) Revoke(ctx context.Context, token string) error {
	form := url.Values{"token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cmp.Or(c.RevokeURL, RevokeURL), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("linear oauth revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return alert.Temporary(fmt.Errorf("linear oauth revoke: %w: %w", alert.ErrUnavailable, redact(err)), 0)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500:
		return alert.Temporary(&Error{Op: "revoke", StatusCode: resp.StatusCode, Kind: alert.ErrUnavailable}, 0)
	default:
		return &Error{Op: "revoke", StatusCode: resp.StatusCode, Kind: alert.ErrNotFound}
	}
}

// Error is a refusal from Linear's OAuth endpoints. It carries the OAuth
// error code, never a token or the response body, and unwraps to the alert
// sentinel it maps to.
type Error struct {
	Op         string // "exchange", "refresh" or "revoke"
	StatusCode int
	Code       string // RFC 6749 §5.2 error, e.g. "invalid_grant"
	Kind       error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("linear oauth %s: HTTP %d", e.Op, e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Kind != nil {
		s += ": " + e.Kind.Error()
	}
	return s
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Kind }

// tokenError maps an x/oauth2 token endpoint error: a refusal (4xx) to an
// *Error wrapping refused, a 5xx or a network failure to a temporary
// alert.ErrUnavailable.
func tokenError(op string, err error, refused error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return alert.Temporary(fmt.Errorf("linear oauth %s: %w: %w", op, alert.ErrUnavailable, redact(err)), 0)
	}
	e := &Error{Op: op, Code: re.ErrorCode, Kind: refused}
	if re.Response != nil {
		e.StatusCode = re.Response.StatusCode
	}
	if e.StatusCode >= 500 || (e.StatusCode == 0 && e.Code == "") {
		e.Kind = alert.ErrUnavailable
		return alert.Temporary(e, 0)
	}
	return e
}

// redact keeps an error's kind but drops text that might hold a URL query
// (*url.Error prints its URL; ours carry no secrets, but a misconfigured
// token URL could).
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
	}
	return err
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(url)"
	}
	u.RawQuery, u.User, u.Fragment = "", nil, ""
	return u.String()
}
