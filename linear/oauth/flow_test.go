package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/linear/oauth"
)

func TestAuthCodeURL(t *testing.T) {
	verifier := oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	tests := []struct {
		name string
		cfg  oauth.Config
		want url.Values
		base string
	}{
		{
			name: "defaults are Linear's endpoint and scopes",
			cfg:  oauth.Config{ClientID: "cid", ClientSecret: "sec", RedirectURL: redirectURL},
			base: "https://linear.app/oauth/authorize",
			want: url.Values{
				"client_id": {"cid"}, "redirect_uri": {redirectURL}, "response_type": {"code"},
				"scope": {"read,write,issues:create"}, "state": {"st"}, "actor": {"app"}, "prompt": {"consent"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"},
			},
		},
		{
			name: "custom scopes stay comma separated",
			cfg:  oauth.Config{ClientID: "cid", RedirectURL: redirectURL, AuthorizeURL: "http://fake/oauth/authorize", Scopes: []string{"read", "comments:create"}},
			base: "http://fake/oauth/authorize",
			want: url.Values{
				"client_id": {"cid"}, "redirect_uri": {redirectURL}, "response_type": {"code"},
				"scope": {"read,comments:create"}, "state": {"st"}, "actor": {"app"}, "prompt": {"consent"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.cfg.AuthCodeURL("st", verifier))
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Scheme + "://" + u.Host + u.Path; got != tt.base {
				t.Errorf("base = %s, want %s", got, tt.base)
			}
			if diff := cmp.Diff(tt.want, u.Query()); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			if u.Query().Has("client_secret") {
				t.Error("the client secret is in the authorize URL")
			}
		})
	}
}

func TestNewPending(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	a, err := oauth.NewPending("T1", "U1", now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := oauth.NewPending("T1", "U1", now)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(a.State)
	if err != nil || len(raw) != 32 {
		t.Errorf("state %q: %d bytes, err %v; want 32 bytes of base64url", a.State, len(raw), err)
	}
	if a.State == b.State || a.Verifier == b.Verifier {
		t.Error("two pending flows share a state or verifier")
	}
	if want := now.Add(10 * time.Minute); !a.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", a.ExpiresAt, want)
	}
	if _, err := oauth.NewPending("", "U1", now); !errors.Is(err, alert.ErrInvalid) {
		t.Errorf("empty team: err = %v, want ErrInvalid", err)
	}
}

func TestConnect(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// run starts a flow and returns the callback query and the time
		// the callback arrives.
		run     func(f *fixture) (url.Values, time.Time)
		wantErr error
	}{
		{
			name: "allow",
			run: func(f *fixture) (url.Values, time.Time) {
				u, _ := f.cfg.Begin(ctx, f.states, "T1", "U1", time.Now())
				return f.authorize(u), time.Now()
			},
		},
		{
			name: "deny",
			run: func(f *fixture) (url.Values, time.Time) {
				f.srv.DenyNextAuthorize()
				u, _ := f.cfg.Begin(ctx, f.states, "T1", "U1", time.Now())
				return f.authorize(u), time.Now()
			},
			wantErr: oauth.ErrDenied,
		},
		{
			name: "replayed state",
			run: func(f *fixture) (url.Values, time.Time) {
				u, _ := f.cfg.Begin(ctx, f.states, "T1", "U1", time.Now())
				q := f.authorize(u)
				if _, _, err := f.cfg.Complete(ctx, f.states, q, time.Now()); err != nil {
					t.Fatalf("first callback: %v", f.record(err))
				}
				return q, time.Now()
			},
			wantErr: alert.ErrNotFound,
		},
		{
			name: "expired state",
			run: func(f *fixture) (url.Values, time.Time) {
				u, _ := f.cfg.Begin(ctx, f.states, "T1", "U1", time.Now())
				return f.authorize(u), time.Now().Add(oauth.StateTTL + time.Second)
			},
			wantErr: alert.ErrNotFound,
		},
		{
			name: "forged state",
			run: func(f *fixture) (url.Values, time.Time) {
				u, _ := f.cfg.Begin(ctx, f.states, "T1", "U1", time.Now())
				q := f.authorize(u)
				q.Set("state", "forged")
				return q, time.Now()
			},
			wantErr: alert.ErrNotFound,
		},
		{
			name: "code from another flow (its verifier does not match)",
			run: func(f *fixture) (url.Values, time.Time) {
				u1, _ := f.cfg.Begin(ctx, f.states, "T1", "U1", time.Now())
				u2, _ := f.cfg.Begin(ctx, f.states, "T1", "U1", time.Now())
				q1, q2 := f.authorize(u1), f.authorize(u2)
				q1.Set("code", q2.Get("code"))
				return q1, time.Now()
			},
			wantErr: alert.ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			q, at := tt.run(f)
			p, tok, err := f.cfg.Complete(ctx, f.states, q, at)
			f.record(err)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Complete: err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if p.SlackTeamID != "T1" || p.SlackUserID != "U1" {
				t.Errorf("pending = %v, want team T1 user U1", p)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Type() != "Bearer" {
				t.Errorf("token: access %t, refresh %t, type %q", tok.AccessToken != "", tok.RefreshToken != "", tok.Type())
			}
			if left := time.Until(tok.Expiry); left < 23*time.Hour || left > 24*time.Hour {
				t.Errorf("token expires in %v, want about 24 h", left)
			}
			if got := tok.Extra("scope"); got != "read write issues:create" {
				t.Errorf("scope = %v", got)
			}
		})
	}
}

func TestExchangeWrongVerifier(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p, err := oauth.NewPending("T1", "U1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	q := f.authorize(f.cfg.AuthCodeURL(p.State, p.Verifier))
	_, err = f.cfg.Exchange(ctx, q.Get("code"), oauth2.GenerateVerifier())
	var oe *oauth.Error
	if !errors.As(f.record(err), &oe) || oe.Code != "invalid_grant" || !errors.Is(err, alert.ErrInvalid) {
		t.Fatalf("err = %v, want an invalid_grant *oauth.Error wrapping ErrInvalid", err)
	}
	if n := f.srv.CountTokenRequests("authorization_code"); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		token func(*oauth2.Token) string
	}{
		{"access token", func(t *oauth2.Token) string { return t.AccessToken }},
		{"refresh token", func(t *oauth2.Token) string { return t.RefreshToken }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tok := f.connect()
			if err := f.cfg.Revoke(ctx, tt.token(tok)); err != nil {
				t.Fatalf("revoke: %v", f.record(err))
			}
			// The access token no longer works for GraphQL...
			if !graphQLRefused(t, f.srv, tok.AccessToken) {
				t.Error("the revoked access token still works for GraphQL")
			}
			// ...nor does the refresh token.
			ts := (&oauth2.Config{ClientID: clientID, ClientSecret: clientSecret,
				Endpoint: oauth2.Endpoint{TokenURL: f.srv.OAuthTokenURL(), AuthStyle: oauth2.AuthStyleInParams}}).
				TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken})
			_, err := ts.Token()
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
				t.Errorf("refresh after revoke: err = %v, want invalid_grant", err)
			}
			// Revoking again: Linear no longer knows the token.
			if err := f.record(f.cfg.Revoke(ctx, tt.token(tok))); !errors.Is(err, alert.ErrNotFound) {
				t.Errorf("second revoke: err = %v, want ErrNotFound", err)
			}
		})
	}
}

// graphQLRefused says the fake refuses bearer for a GraphQL query.
func graphQLRefused(t *testing.T, srv *fakelinear.Server, bearer string) bool {
	t.Helper()
	hc := &http.Client{Transport: oauth.Transport(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: bearer}), nil)}
	resp, err := hc.Post(srv.URL(), "application/json",
		strings.NewReader(`{"query":"query viewerQ { viewer { id } }","operationName":"viewerQ"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode != http.StatusOK
}

func TestSecretsStayOutOfFormatting(t *testing.T) {
	cfg := oauth.Config{ClientID: "cid", ClientSecret: "s3cret-value"}
	p, err := oauth.NewPending("T1", "U1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, secret string
		v            any
	}{
		{"config", cfg.ClientSecret, cfg},
		{"pending verifier", p.Verifier, p},
		{"pending state", p.State, p},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
				if got := fmt.Sprintf(verb, tt.v); strings.Contains(got, tt.secret) {
					t.Errorf("%s prints the secret: %s", verb, got)
				}
			}
		})
	}
}
