package fakelinear

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Lifetimes of what the fake's OAuth endpoints issue. Linear's access
// tokens live 24 hours and its token endpoint answers expires_in 86399
// (https://linear.app/developers/oauth-2-0-authentication); Linear does not
// document the code's lifetime, so the fake takes RFC 6749 §4.1.2's
// recommended maximum of ten minutes.
const (
	AccessTokenTTL = 86399 * time.Second
	codeTTL        = 10 * time.Minute
)

// linearScopes are the scopes Linear's authorize endpoint knows.
var linearScopes = []string{"read", "write", "issues:create", "comments:create", "timeSchedule:write", "admin"}

// oauthState is the fake's OAuth side: one registered client, the codes it
// handed out and the grants (a refresh token and its access tokens) they
// became. The Server's mu guards it.
type oauthState struct {
	clientID, secret, redirectURL string

	codes    map[string]*authCode
	grants   []*grant
	denyNext int
	requests map[string]int // token requests by grant_type
}

type authCode struct {
	clientID, redirectURI, challenge string
	scopes                           []string
	expires                          time.Time
	used                             bool
	grant                            *grant // what the code became, revoked on replay
}

type grant struct {
	scopes  []string
	refresh string               // the only valid refresh token; rotated on use
	access  map[string]time.Time // access token → expiry
	revoked bool
}

// route sends /oauth/* to the OAuth endpoints and everything else to the
// GraphQL handler, after dropping access tokens the clock says are expired.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth/authorize":
		s.serveAuthorize(w, r)
	case "/oauth/token":
		s.serveToken(w, r)
	case "/oauth/revoke":
		s.serveRevoke(w, r)
	default:
		s.expireByClock()
		s.serveHTTP(w, r)
	}
}

// SetOAuthClient registers the one OAuth application the fake accepts.
func (s *Server) SetOAuthClient(id, secret, redirectURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.clientID, s.oauth.secret, s.oauth.redirectURL = id, secret, redirectURL
}

// OAuthAuthorizeURL is the fake's https://linear.app/oauth/authorize.
func (s *Server) OAuthAuthorizeURL() string { return s.ts.URL + "/oauth/authorize" }

// OAuthTokenURL is the fake's https://api.linear.app/oauth/token.
func (s *Server) OAuthTokenURL() string { return s.ts.URL + "/oauth/token" }

// OAuthRevokeURL is the fake's https://api.linear.app/oauth/revoke.
func (s *Server) OAuthRevokeURL() string { return s.ts.URL + "/oauth/revoke" }

// DenyNextAuthorize makes the next valid authorize request answer as if the
// user clicked Deny: a redirect with error=access_denied.
func (s *Server) DenyNextAuthorize() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.denyNext++
}

// CountTokenRequests counts the requests to the token endpoint with the
// given grant_type ("authorization_code", "refresh_token"); "" counts all.
// Rejected requests count too.
func (s *Server) CountTokenRequests(grantType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if grantType == "" {
		n := 0
		for _, c := range s.oauth.requests {
			n += c
		}
		return n
	}
	return s.oauth.requests[grantType]
}

// RevokeAll revokes every grant, as a user removing the app in Linear's
// settings would: access and refresh tokens stop working.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.oauth.grants {
		s.revokeGrant(g)
	}
}

// ExpireAccessTokens ends every issued access token now, as if 24 hours
// had passed; refresh tokens stay valid.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.oauth.grants {
		for at := range g.access {
			delete(s.tokens, at)
			delete(g.access, at)
		}
	}
}

// expireByClock drops access tokens whose expiry the server's clock (see
// WithClock) has passed.
func (s *Server) expireByClock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, g := range s.oauth.grants {
		for at, exp := range g.access {
			if !now.Before(exp) {
				delete(s.tokens, at)
				delete(g.access, at)
			}
		}
	}
}

// serveAuthorize answers as Linear's consent screen would after the user
// clicked Allow (or Deny). Following RFC 6749 §4.1.2.1, a bad client_id or
// redirect_uri gets an error page, never a redirect; other errors go back
// to the client's redirect_uri with error= and state=.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &s.oauth
	if o.clientID == "" || q.Get("client_id") != o.clientID {
		http.Error(w, "Invalid client_id", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("redirect_uri") != o.redirectURL {
		http.Error(w, "Invalid redirect_uri", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		params.Set("state", q.Get("state"))
		u := *redirect
		u.RawQuery = params.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code, desc string) {
		back(url.Values{"error": {code}, "error_description": {desc}})
	}
	scopes, bad := parseScopes(q.Get("scope"))
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
	case bad != "":
		// Linear's scope is comma separated; "read write" (what
		// golang.org/x/oauth2 sends by default) lands here.
		fail("invalid_scope", "unknown scope "+strconv.Quote(bad))
	case q.Get("state") == "":
		fail("invalid_request", "state is required")
	case q.Get("code_challenge_method") != "S256" || !validPKCE(q.Get("code_challenge"), 43):
		fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
	case q.Has("actor") && !slices.Contains([]string{"user", "app"}, q.Get("actor")):
		fail("invalid_request", "actor must be user or app")
	case q.Has("prompt") && q.Get("prompt") != "consent":
		fail("invalid_request", "prompt must be consent")
	case o.denyNext > 0:
		o.denyNext--
		fail("access_denied", "The user denied the request")
	default:
		code := randomHex(20)
		if o.codes == nil {
			o.codes = map[string]*authCode{}
		}
		o.codes[code] = &authCode{
			clientID: o.clientID, redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"),
			scopes: scopes, expires: s.now().Add(codeTTL),
		}
		back(url.Values{"code": {code}})
	}
}

// parseScopes splits Linear's comma-separated scope list; bad is the first
// entry Linear would not know.
func parseScopes(raw string) (scopes []string, bad string) {
	if raw == "" {
		return nil, "(empty)"
	}
	for sc := range strings.SplitSeq(raw, ",") {
		if !slices.Contains(linearScopes, sc) {
			return nil, sc
		}
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	if !slices.Contains(scopes, "read") { // "This scope will always be present."
		scopes = append([]string{"read"}, scopes...)
	}
	return scopes, ""
}

// validPKCE checks a code_challenge or code_verifier: RFC 7636 §4.1 allows
// 43 to 128 characters of [A-Za-z0-9-._~].
func validPKCE(v string, minLen int) bool {
	if len(v) < minLen || len(v) > 128 {
		return false
	}
	return strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r))
	}) < 0
}

// tokenResponse is the token endpoint's success body, Linear's shape: its
// scope comes back space separated although the request's was comma
// separated.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
}

// serveToken is Linear's POST /oauth/token: grant_type authorization_code
// (with PKCE) or refresh_token. The client authenticates with HTTP Basic or
// with client_id and client_secret form fields (golang.org/x/oauth2 may try
// either). A refresh rotates the refresh token: the old one is then
// invalid_grant, as with Linear.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &s.oauth
	if o.requests == nil {
		o.requests = map[string]int{}
	}
	o.requests[f.Get("grant_type")]++

	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if o.clientID == "" || !equal(id, o.clientID) || !equal(secret, o.secret) {
		status := http.StatusBadRequest
		if basic { // RFC 6749 §5.2: 401 when the client tried HTTP Basic.
			status = http.StatusUnauthorized
		}
		writeOAuthError(w, status, "invalid_client", "Client authentication failed")
		return
	}
	var g *grant
	switch f.Get("grant_type") {
	case "authorization_code":
		c := o.codes[f.Get("code")]
		switch {
		case c == nil || !s.now().Before(c.expires):
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid authorization code")
			return
		case c.used:
			// RFC 6749 §4.1.2: a replayed code revokes what it issued.
			if c.grant != nil {
				s.revokeGrant(c.grant)
			}
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Authorization code already used")
			return
		}
		c.used = true // one attempt per code, right or wrong
		if f.Get("redirect_uri") != c.redirectURI {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match")
			return
		}
		v := f.Get("code_verifier")
		sum := sha256.Sum256([]byte(v))
		if !validPKCE(v, 43) || !equal(base64.RawURLEncoding.EncodeToString(sum[:]), c.challenge) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
			return
		}
		g = &grant{scopes: c.scopes, access: map[string]time.Time{}}
		c.grant = g
		o.grants = append(o.grants, g)
	case "refresh_token":
		rt := f.Get("refresh_token")
		for _, cand := range o.grants {
			if !cand.revoked && rt != "" && equal(cand.refresh, rt) {
				g = cand
				break
			}
		}
		if g == nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid refresh token")
			return
		}
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}
	// Earlier access tokens of the grant stay valid until they expire.
	at, rt := "lin_oat_"+randomHex(32), "lin_ort_"+randomHex(32)
	ttl := cmp.Or(s.accessTTL, AccessTokenTTL)
	g.refresh = rt
	g.access[at] = s.now().Add(ttl)
	s.tokens[at] = true
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(tokenResponse{
		AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second),
		Scope: strings.Join(g.scopes, " "), RefreshToken: rt,
	})
}

// SetAccessTokenTTL makes the access tokens issued from now on live d
// (zero: AccessTokenTTL, Linear's 24 hours).
func (s *Server) SetAccessTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessTTL = d
}

// serveRevoke is Linear's POST /oauth/revoke: the token comes as the token
// form field or as `Authorization: Bearer`; access or refresh, it revokes
// the whole grant. An unknown or already revoked token is a 400, as Linear
// answers "unable to revoke".
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	tok := r.PostForm.Get("token")
	if h := r.Header.Get("Authorization"); tok == "" && strings.HasPrefix(h, "Bearer ") {
		tok = strings.TrimPrefix(h, "Bearer ")
	}
	if tok == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.oauth.grants {
		if g.revoked {
			continue
		}
		if _, ok := g.access[tok]; ok || equal(g.refresh, tok) {
			s.revokeGrant(g)
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	writeOAuthError(w, http.StatusBadRequest, "invalid_token", "Unable to revoke token")
}

// revokeGrant ends a grant's access and refresh tokens. The caller holds s.mu.
func (s *Server) revokeGrant(g *grant) {
	g.revoked = true
	g.refresh = ""
	for at := range g.access {
		delete(s.tokens, at)
		delete(g.access, at)
	}
}

// writeOAuthError answers in RFC 6749 §5.2's shape, {"error": ...}.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// equal compares secrets in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b)
}
