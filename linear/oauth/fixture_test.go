package oauth_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/linear/oauth"
)

const (
	clientID     = "client-1"
	clientSecret = "shh-client-secret"
	redirectURL  = "https://bot.example/api/v1/integrations/linear/callback"
	workspace    = "org-1"
)

// fixture is a fake Linear with its OAuth app registered, the in-memory
// stores, and a log. When the test ends it checks that no token, verifier
// or client secret reached the log or any error the test recorded.
type fixture struct {
	t      *testing.T
	srv    *fakelinear.Server
	cfg    oauth.Config
	states *memStates
	tokens *memTokens
	log    *slog.Logger

	mu     sync.Mutex
	logBuf bytes.Buffer
	errs   []string
	codes  []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, srv: fakelinear.Seeded(), states: newMemStates(), tokens: newMemTokens()}
	t.Cleanup(f.srv.Close)
	f.srv.SetOAuthClient(clientID, clientSecret, redirectURL)
	f.cfg = oauth.Config{
		ClientID: clientID, ClientSecret: clientSecret, RedirectURL: redirectURL,
		AuthorizeURL: f.srv.OAuthAuthorizeURL(), TokenURL: f.srv.OAuthTokenURL(), RevokeURL: f.srv.OAuthRevokeURL(),
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	}
	f.log = slog.New(slog.NewTextHandler(lockedWriter{f}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(f.checkNoLeaks)
	return f
}

type lockedWriter struct{ f *fixture }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	return w.f.logBuf.Write(p)
}

// record keeps err's text for the leak check and returns err.
func (f *fixture) record(err error) error {
	if err != nil {
		f.mu.Lock()
		f.errs = append(f.errs, err.Error(), slog.Any("err", err).String())
		f.mu.Unlock()
	}
	return err
}

func (f *fixture) checkNoLeaks() {
	f.mu.Lock()
	defer f.mu.Unlock()
	secrets := append(append(f.tokens.secrets(), f.states.secrets()...), f.codes...)
	secrets = append(secrets, clientSecret)
	texts := append([]string{f.logBuf.String()}, f.errs...)
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, text := range texts {
			if strings.Contains(text, s) {
				f.t.Errorf("a secret (%d chars) appears in a log line or error: %q", len(s), text)
			}
		}
	}
}

// noRedirect is a browser that stops at the first redirect, so the test can
// read Location.
var noRedirect = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// authorize plays the admin's browser at Linear's consent screen and
// returns the query Linear redirects back with.
func (f *fixture) authorize(authURL string) url.Values {
	f.t.Helper()
	resp, err := noRedirect.Get(authURL)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		f.t.Fatalf("authorize: HTTP %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		f.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURL {
		f.t.Fatalf("redirected to %s, want %s", got, redirectURL)
	}
	q := loc.Query()
	f.mu.Lock()
	f.codes = append(f.codes, q.Get("code"))
	f.mu.Unlock()
	return q
}

// connect runs the whole flow and stores the token pair, as the callback
// handler will.
func (f *fixture) connect() *oauth2.Token {
	f.t.Helper()
	ctx := context.Background()
	now := time.Now()
	u, err := f.cfg.Begin(ctx, f.states, "T1", "U1", now)
	if err != nil {
		f.t.Fatal(err)
	}
	_, tok, err := f.cfg.Complete(ctx, f.states, f.authorize(u), now)
	if err != nil {
		f.t.Fatalf("complete: %v", f.record(err))
	}
	f.tokens.put(workspace, tok)
	return tok
}

func (f *fixture) source() *oauth.TokenSource {
	return oauth.NewTokenSource(context.Background(), f.cfg, f.tokens, workspace, f.log)
}
