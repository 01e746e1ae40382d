package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/proliferate/proliferate-linear/alert"
)

// TokenStore persists one token pair per Linear workspace, shared by every
// replica. Package store implements it on SQLite and PostgreSQL.
type TokenStore interface {
	// WithRefreshLock runs fn while holding the workspace's refresh lock (a
	// row lock, SELECT ... FOR UPDATE, on PostgreSQL; a write transaction on
	// SQLite), passing the token stored now (nil if none), and persists
	// fn's result before releasing the lock and returning it. fn may return
	// current unchanged. When fn fails nothing is written and its error is
	// returned.
	WithRefreshLock(ctx context.Context, workspaceID string, fn func(current *oauth2.Token) (*oauth2.Token, error)) (*oauth2.Token, error)
	// Token returns the stored token: an error wrapping
	// alert.ErrNotConnected if there is none, and may return one wrapping
	// alert.ErrUnauthorized for a connection marked as needing reconnection.
	Token(ctx context.Context, workspaceID string) (*oauth2.Token, error)
	// MarkNeedsReconnect records that the workspace's grant is dead
	// (revoked, or its refresh token refused), so users are told to
	// reconnect. reason is an OAuth error code or a short phrase, never a
	// token.
	MarkNeedsReconnect(ctx context.Context, workspaceID string, reason string) error
}

// TokenSource hands out a Linear workspace's access token, refreshing it
// ahead of expiry. It is safe for concurrent use, and any number of
// TokenSources (one per replica) may share a TokenStore: refreshes are
// serialised by the store's lock, and each re-reads the token inside it, so
// a token another replica has just refreshed is used, not refreshed again.
//
// When Linear refuses the refresh token (invalid_grant, or HTTP 401) the
// source marks the connection as needing reconnection, once, and from then
// on fails fast with an error wrapping alert.ErrUnauthorized, without
// calling Linear, until a reconnect stores a new token pair.
type TokenSource struct {
	ctx   context.Context
	cfg   Config
	store TokenStore
	ws    string
	log   *slog.Logger
	now   func() time.Time

	// sem lets one goroutine at a time take the slow path (store read or
	// refresh) while waiting callers can still give up on their context.
	sem chan struct{}

	// lifetime is how long the last token this source obtained was valid
	// when issued (nanoseconds; 0 until its first refresh). It caps the
	// refresh margin at half a lifetime: a token that lives less than the
	// margin would otherwise be refreshed on every call.
	lifetime atomic.Int64

	mu       sync.Mutex
	cached   *oauth2.Token
	rejected string // an access token Linear refused; never handed out again
	forced   string // the access token a refresh forced by a refusal produced
	failed   error  // the grant is dead; set until a reconnect
	failedRT string // the refresh token that was refused
}

var _ oauth2.TokenSource = (*TokenSource)(nil)

// NewTokenSource returns the token source of one Linear workspace. ctx is
// used by Token, which oauth2.TokenSource gives no context of its own;
// TokenContext (which Transport uses) takes the request's. log may be nil.
func NewTokenSource(ctx context.Context, cfg Config, store TokenStore, workspaceID string, log *slog.Logger) *TokenSource {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TokenSource{
		ctx: ctx, cfg: cfg, store: store, ws: workspaceID, now: time.Now,
		log: log.With("linear_workspace", workspaceID),
		sem: make(chan struct{}, 1),
	}
}

// Token implements oauth2.TokenSource with the context given to
// NewTokenSource.
func (s *TokenSource) Token() (*oauth2.Token, error) { return s.TokenContext(s.ctx) }

// TokenContext returns a token with more than the refresh margin left
// (Config.RefreshBefore, at most half a token's lifetime),
// refreshing it if needed. Errors wrap alert.ErrNotConnected (no token
// stored), alert.ErrUnauthorized (reconnect needed) or, temporary,
// alert.ErrUnavailable.
func (s *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if t := s.fresh(); t != nil {
		return t, nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, alert.Temporary(fmt.Errorf("linear oauth token: %w: %w", alert.ErrUnavailable, ctx.Err()), 0)
	}
	defer func() { <-s.sem }()
	if t := s.fresh(); t != nil { // another goroutine refreshed while we waited
		return t, nil
	}
	return s.slow(ctx)
}

// usable says t may be handed out: not refused, and valid for longer than
// the refresh margin. A zero Expiry (a legacy long-lived token) never
// expires.
func (s *TokenSource) usable(t *oauth2.Token, rejected string) bool {
	if t == nil || t.AccessToken == "" || t.AccessToken == rejected {
		return false
	}
	return t.Expiry.IsZero() || t.Expiry.Sub(s.now()) > s.margin()
}

// margin is how long before expiry a token is refreshed: Config's
// RefreshBefore, at most half the lifetime of the tokens Linear issues
// (known after the first refresh).
func (s *TokenSource) margin() time.Duration {
	m := s.cfg.refreshBefore()
	if life := time.Duration(s.lifetime.Load()); life > 0 {
		m = min(m, life/2)
	}
	return m
}

// learnLifetime records the lifetime of a token just issued: its
// expires_in, or failing that its expiry from now.
func (s *TokenSource) learnLifetime(t *oauth2.Token) {
	life := time.Duration(t.ExpiresIn) * time.Second
	if life <= 0 && !t.Expiry.IsZero() {
		life = t.Expiry.Sub(s.now())
	}
	if life > 0 {
		s.lifetime.Store(int64(life))
	}
}

// fresh is the fast path: the cached token, if usable.
func (s *TokenSource) fresh() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil || !s.usable(s.cached, s.rejected) {
		return nil
	}
	t := *s.cached
	return &t
}

// slow reads the stored token and, if it is not usable, refreshes it under
// the store's lock. The caller holds sem.
func (s *TokenSource) slow(ctx context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	failed, failedRT, rejected := s.failed, s.failedRT, s.rejected
	s.mu.Unlock()

	cur, err := s.store.Token(ctx, s.ws)
	switch {
	case errors.Is(err, alert.ErrUnauthorized):
		s.fail(ctx, err, "", "") // marked already, by us or another replica
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("linear oauth token: %w", err)
	case failed != nil && cur.RefreshToken == failedRT:
		return nil, failed // still the dead grant: no call to Linear
	case failed != nil:
		s.mu.Lock()
		s.failed, s.failedRT, s.rejected, s.forced = nil, "", "", ""
		s.mu.Unlock()
		s.log.InfoContext(ctx, "linear reconnected: using the new token")
	}
	if s.usable(cur, rejected) {
		s.keep(cur, false)
		return cur, nil
	}

	var refreshed bool
	var fnErr error
	var usedRT string
	tok, err := s.store.WithRefreshLock(ctx, s.ws, func(cur *oauth2.Token) (*oauth2.Token, error) {
		if s.usable(cur, rejected) { // refreshed meanwhile, maybe by another replica
			return cur, nil
		}
		if cur == nil {
			fnErr = fmt.Errorf("linear oauth refresh: %w", alert.ErrNotConnected)
			return nil, fnErr
		}
		usedRT = cur.RefreshToken
		if cur.RefreshToken == "" {
			fnErr = &Error{Op: "refresh", Code: "no_refresh_token", Kind: alert.ErrUnauthorized}
			return nil, fnErr
		}
		refreshed = true
		nt, err := s.cfg.oauth2().TokenSource(s.cfg.ctx(ctx), &oauth2.Token{RefreshToken: cur.RefreshToken}).Token()
		if err != nil {
			fnErr = err
			if refusedGrant(err) {
				s.cfg.refreshed(RefreshRefused)
			} else {
				s.cfg.refreshed(RefreshFailed)
			}
			return nil, err
		}
		s.cfg.refreshed(RefreshOK)
		s.learnLifetime(nt)
		return nt, nil
	})
	if err == nil {
		s.keep(tok, refreshed && rejected != "")
		if refreshed {
			s.log.InfoContext(ctx, "linear token refreshed", "expires", tok.Expiry)
		}
		return tok, nil
	}
	if fnErr == nil {
		if refreshed {
			// Linear has rotated the refresh token but the store lost the
			// new one: the next refresh will be refused.
			s.log.ErrorContext(ctx, "linear token refreshed but not stored; reconnecting may be needed", "err", err)
		}
		return nil, fmt.Errorf("linear oauth refresh: store: %w", err)
	}
	return nil, s.refreshError(ctx, fnErr, usedRT)
}

// refreshError classifies a failed refresh; a dead grant marks the
// connection for reconnection.
func (s *TokenSource) refreshError(ctx context.Context, err error, refreshToken string) error {
	var oe *Error
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &oe):
	case errors.As(err, &re) && refusedGrant(err):
		oe = &Error{Op: "refresh", Code: re.ErrorCode, Kind: alert.ErrUnauthorized}
		if re.Response != nil {
			oe.StatusCode = re.Response.StatusCode
		}
	case errors.Is(err, alert.ErrNotConnected):
		return err
	default:
		err = tokenError("refresh", err, alert.ErrUnavailable)
		s.log.WarnContext(ctx, "linear token refresh failed", "err", err)
		return err
	}
	reason := oe.Code
	if reason == "" {
		reason = fmt.Sprintf("HTTP %d", oe.StatusCode)
	}
	s.fail(ctx, oe, refreshToken, reason)
	return oe
}

// refusedGrant says Linear refused the refresh token itself (invalid_grant
// or HTTP 401): no retry helps, the workspace must reconnect.
func refusedGrant(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized)
}

// fail records a dead grant; when reason is not empty it also marks the
// connection in the store, once per failure.
func (s *TokenSource) fail(ctx context.Context, err error, refreshToken, reason string) {
	s.mu.Lock()
	if s.failed != nil {
		s.mu.Unlock()
		return
	}
	s.failed, s.failedRT, s.cached = err, refreshToken, nil
	s.mu.Unlock()
	if reason == "" {
		return
	}
	s.log.WarnContext(ctx, "linear connection needs reconnecting", "reason", reason)
	if merr := s.store.MarkNeedsReconnect(ctx, s.ws, reason); merr != nil {
		s.log.ErrorContext(ctx, "could not mark the linear connection for reconnection", "err", merr)
	}
}

// keep caches t; forced says it came from a refresh forced by a refusal.
func (s *TokenSource) keep(t *oauth2.Token, forced bool) {
	c := *t
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cached = &c
	if forced {
		s.forced = t.AccessToken
	}
}

// reject is told by Transport that Linear refused accessToken (HTTP 401 or
// AUTHENTICATION_ERROR). The first refusal of a token forces one refresh;
// a refusal of the token that refresh produced means the grant is dead.
func (s *TokenSource) reject(ctx context.Context, accessToken string) {
	s.mu.Lock()
	if s.failed != nil || accessToken == "" || accessToken == s.rejected {
		s.mu.Unlock()
		return
	}
	if accessToken != s.forced {
		s.rejected = accessToken
		s.mu.Unlock()
		s.log.WarnContext(ctx, "linear refused the access token; it will be refreshed")
		return
	}
	var rt string
	if s.cached != nil {
		rt = s.cached.RefreshToken
	}
	s.mu.Unlock()
	s.fail(ctx, &Error{Op: "graphql", StatusCode: http.StatusUnauthorized, Code: "token_refused", Kind: alert.ErrUnauthorized},
		rt, "access token refused after a refresh")
}
