package fakelinear_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

const (
	oaID       = "cid"
	oaSecret   = "csecret"
	oaRedirect = "https://bot.example/callback"
	oaVerifier = "verifier-verifier-verifier-verifier-verifier-0123"
	viewerQ    = `query viewerQ { viewer { id } }`
)

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authParams is a valid authorize query; tests change one thing.
func authParams() url.Values {
	return url.Values{
		"client_id": {oaID}, "redirect_uri": {oaRedirect}, "response_type": {"code"},
		"scope": {"read,write,issues:create"}, "state": {"st-1"}, "actor": {"app"}, "prompt": {"consent"},
		"code_challenge": {challenge(oaVerifier)}, "code_challenge_method": {"S256"},
	}
}

// authorize GETs the authorize endpoint without following the redirect.
func authorize(t *testing.T, srv *fakelinear.Server, q url.Values) (int, url.Values) {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(srv.OAuthAuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), oaRedirect+"?") {
		t.Fatalf("redirect to %q", resp.Header.Get("Location"))
	}
	return resp.StatusCode, loc.Query()
}

type tokenAnswer struct {
	status       int
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

// postForm POSTs form to an OAuth endpoint; basic sends the client's
// credentials as HTTP Basic instead of form fields.
func postForm(t *testing.T, endpoint string, form url.Values, basic bool) tokenAnswer {
	t.Helper()
	if !basic && form.Get("client_id") == "" {
		form.Set("client_id", oaID)
		form.Set("client_secret", oaSecret)
	}
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(oaID, oaSecret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := tokenAnswer{status: resp.StatusCode}
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return a
}

func newOAuthServer(opts ...fakelinear.Option) *fakelinear.Server {
	srv := fakelinear.Seeded(opts...)
	srv.SetOAuthClient(oaID, oaSecret, oaRedirect)
	return srv
}

// codeGrant authorizes and exchanges, returning the token answer.
func codeGrant(t *testing.T, srv *fakelinear.Server, basic bool) tokenAnswer {
	t.Helper()
	_, q := authorize(t, srv, authParams())
	return postForm(t, srv.OAuthTokenURL(), url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {oaRedirect}, "code_verifier": {oaVerifier},
	}, basic)
}

func TestOAuthAuthorize(t *testing.T) {
	srv := newOAuthServer()
	defer srv.Close()
	tests := []struct {
		name       string
		change     func(url.Values)
		deny       bool
		wantStatus int
		wantError  string // error= in the redirect; "" means a code
	}{
		{name: "valid", change: func(url.Values) {}, wantStatus: 302},
		{name: "deny", change: func(url.Values) {}, deny: true, wantStatus: 302, wantError: "access_denied"},
		{name: "space separated scopes", change: func(q url.Values) { q.Set("scope", "read write") }, wantStatus: 302, wantError: "invalid_scope"},
		{name: "unknown scope", change: func(q url.Values) { q.Set("scope", "read,everything") }, wantStatus: 302, wantError: "invalid_scope"},
		{name: "no PKCE", change: func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, wantStatus: 302, wantError: "invalid_request"},
		{name: "plain PKCE", change: func(q url.Values) { q.Set("code_challenge_method", "plain") }, wantStatus: 302, wantError: "invalid_request"},
		{name: "no state", change: func(q url.Values) { q.Del("state") }, wantStatus: 302, wantError: "invalid_request"},
		{name: "bad actor", change: func(q url.Values) { q.Set("actor", "robot") }, wantStatus: 302, wantError: "invalid_request"},
		{name: "implicit flow", change: func(q url.Values) { q.Set("response_type", "token") }, wantStatus: 302, wantError: "unsupported_response_type"},
		{name: "unknown client: no redirect", change: func(q url.Values) { q.Set("client_id", "other") }, wantStatus: 400},
		{name: "unregistered redirect: no redirect", change: func(q url.Values) { q.Set("redirect_uri", "https://evil.example/") }, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authParams()
			tt.change(q)
			if tt.deny {
				srv.DenyNextAuthorize()
			}
			status, back := authorize(t, srv, q)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", status, tt.wantStatus)
			}
			if status != http.StatusFound {
				return
			}
			if back.Get("error") != tt.wantError {
				t.Errorf("error = %q, want %q", back.Get("error"), tt.wantError)
			}
			if tt.wantError == "" && back.Get("code") == "" {
				t.Error("no code")
			}
			if q.Has("state") && back.Get("state") != q.Get("state") {
				t.Errorf("state = %q, want it echoed", back.Get("state"))
			}
		})
	}
}

func TestOAuthTokenCodeGrant(t *testing.T) {
	tests := []struct {
		name  string
		basic bool
	}{{"client secret in form", false}, {"client secret as basic auth", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newOAuthServer()
			defer srv.Close()
			a := codeGrant(t, srv, tt.basic)
			got := tokenAnswer{status: a.status, TokenType: a.TokenType, ExpiresIn: a.ExpiresIn, Scope: a.Scope}
			want := tokenAnswer{status: 200, TokenType: "Bearer", ExpiresIn: 86399, Scope: "read write issues:create"}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(tokenAnswer{})); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if a.AccessToken == "" || a.RefreshToken == "" {
				t.Fatal("no tokens")
			}
			if got := post(t, srv, "Bearer "+a.AccessToken, viewerQ, nil); got.status != 200 {
				t.Errorf("GraphQL with the issued token: HTTP %d", got.status)
			}
		})
	}
}

func TestOAuthTokenRefusals(t *testing.T) {
	tests := []struct {
		name       string
		form       func(code string) url.Values
		wantStatus int
		wantError  string
	}{
		{"wrong verifier", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {oaRedirect}, "code_verifier": {strings.Repeat("x", 43)}}
		}, 400, "invalid_grant"},
		{"no verifier", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {oaRedirect}}
		}, 400, "invalid_grant"},
		{"other redirect_uri", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {"https://x/"}, "code_verifier": {oaVerifier}}
		}, 400, "invalid_grant"},
		{"unknown code", func(string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {oaRedirect}, "code_verifier": {oaVerifier}}
		}, 400, "invalid_grant"},
		{"wrong client secret", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {oaRedirect}, "code_verifier": {oaVerifier},
				"client_id": {oaID}, "client_secret": {"wrong"}}
		}, 400, "invalid_client"},
		{"password grant", func(string) url.Values {
			return url.Values{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}}
		}, 400, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newOAuthServer()
			defer srv.Close()
			_, q := authorize(t, srv, authParams())
			a := postForm(t, srv.OAuthTokenURL(), tt.form(q.Get("code")), false)
			if a.status != tt.wantStatus || a.Error != tt.wantError || a.AccessToken != "" {
				t.Errorf("got HTTP %d %q (token %t), want HTTP %d %q", a.status, a.Error, a.AccessToken != "", tt.wantStatus, tt.wantError)
			}
		})
	}
}

func TestOAuthCodeReplayRevokes(t *testing.T) {
	srv := newOAuthServer()
	defer srv.Close()
	_, q := authorize(t, srv, authParams())
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {oaRedirect}, "code_verifier": {oaVerifier}}
	first := postForm(t, srv.OAuthTokenURL(), form, false)
	if first.status != 200 {
		t.Fatalf("first exchange: HTTP %d %s", first.status, first.Error)
	}
	if again := postForm(t, srv.OAuthTokenURL(), form, false); again.Error != "invalid_grant" {
		t.Fatalf("replay: %q, want invalid_grant", again.Error)
	}
	if got := post(t, srv, "Bearer "+first.AccessToken, viewerQ, nil); got.status == 200 {
		t.Error("tokens from a replayed code still work")
	}
	if n := srv.CountTokenRequests("authorization_code"); n != 2 {
		t.Errorf("CountTokenRequests = %d, want 2", n)
	}
}

func TestOAuthRefreshRotates(t *testing.T) {
	srv := newOAuthServer()
	defer srv.Close()
	a := codeGrant(t, srv, false)
	b := postForm(t, srv.OAuthTokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.RefreshToken}}, true)
	if b.status != 200 || b.RefreshToken == a.RefreshToken || b.AccessToken == a.AccessToken {
		t.Fatalf("refresh: HTTP %d %s; want a new pair", b.status, b.Error)
	}
	old := postForm(t, srv.OAuthTokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.RefreshToken}}, false)
	if old.status != 400 || old.Error != "invalid_grant" {
		t.Errorf("old refresh token: HTTP %d %q, want 400 invalid_grant", old.status, old.Error)
	}
	if got := post(t, srv, "Bearer "+b.AccessToken, viewerQ, nil); got.status != 200 {
		t.Errorf("new access token: HTTP %d", got.status)
	}
	if n := srv.CountTokenRequests("refresh_token"); n != 2 {
		t.Errorf("CountTokenRequests(refresh_token) = %d, want 2", n)
	}
	if n := srv.CountTokenRequests(""); n != 3 {
		t.Errorf("CountTokenRequests() = %d, want 3", n)
	}
}

func TestOAuthRevoke(t *testing.T) {
	tests := []struct {
		name   string
		form   func(a tokenAnswer) url.Values
		bearer bool // send the access token as Authorization: Bearer
	}{
		{name: "access token as form field", form: func(a tokenAnswer) url.Values { return url.Values{"token": {a.AccessToken}} }},
		{name: "refresh token as form field", form: func(a tokenAnswer) url.Values { return url.Values{"token": {a.RefreshToken}} }},
		{name: "access token as bearer", form: func(tokenAnswer) url.Values { return url.Values{} }, bearer: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newOAuthServer()
			defer srv.Close()
			a := codeGrant(t, srv, false)
			for i, want := range []int{200, 400} { // the second time Linear no longer knows the token
				req, _ := http.NewRequest(http.MethodPost, srv.OAuthRevokeURL(), strings.NewReader(tt.form(a).Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if tt.bearer {
					req.Header.Set("Authorization", "Bearer "+a.AccessToken)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("revoke %d: HTTP %d, want %d", i, resp.StatusCode, want)
				}
			}
			if got := post(t, srv, "Bearer "+a.AccessToken, viewerQ, nil); got.status == 200 {
				t.Error("revoked access token still works")
			}
			r := postForm(t, srv.OAuthTokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.RefreshToken}}, false)
			if r.Error != "invalid_grant" {
				t.Errorf("revoked refresh token: %q, want invalid_grant", r.Error)
			}
		})
	}
}

func TestOAuthAccessTokenExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	tests := []struct {
		name   string
		expire func(srv *fakelinear.Server)
	}{
		{"clock passes 24 hours", func(*fakelinear.Server) { advance(fakelinear.AccessTokenTTL) }},
		{"ExpireAccessTokens", func(srv *fakelinear.Server) { srv.ExpireAccessTokens() }},
		{"RevokeAll", func(srv *fakelinear.Server) { srv.RevokeAll() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newOAuthServer(fakelinear.WithClock(clock))
			defer srv.Close()
			a := codeGrant(t, srv, false)
			advance(time.Hour)
			if got := post(t, srv, "Bearer "+a.AccessToken, viewerQ, nil); got.status != 200 {
				t.Fatalf("an hour in: HTTP %d", got.status)
			}
			tt.expire(srv)
			got := post(t, srv, "Bearer "+a.AccessToken, viewerQ, nil)
			if got.status == 200 || ext(got, "code") != "AUTHENTICATION_ERROR" {
				t.Errorf("after expiry: HTTP %d %v, want AUTHENTICATION_ERROR", got.status, ext(got, "code"))
			}
			r := postForm(t, srv.OAuthTokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.RefreshToken}}, false)
			revoked := tt.name == "RevokeAll"
			if (r.status == 200) == revoked {
				t.Errorf("refresh after %s: HTTP %d %q", tt.name, r.status, r.Error)
			}
		})
	}
}
