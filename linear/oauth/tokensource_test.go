package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/linear/oauth"
)

func TestTokenSourceUsesStoredTokenWhileFresh(t *testing.T) {
	f := newFixture(t)
	first := f.connect()
	ts := f.source()
	for range 3 {
		tok, err := ts.Token()
		if err != nil {
			t.Fatal(f.record(err))
		}
		if tok.AccessToken != first.AccessToken {
			t.Fatal("a fresh token was replaced")
		}
	}
	if n := f.srv.CountTokenRequests("refresh_token"); n != 0 {
		t.Errorf("refresh requests = %d, want 0", n)
	}
}

func TestTokenSourceRefreshesAheadOfExpiry(t *testing.T) {
	tests := []struct {
		name        string
		left        time.Duration
		before      time.Duration // Config.RefreshBefore
		wantRefresh bool
	}{
		{"six minutes left, default margin", 6 * time.Minute, 0, false},
		{"four minutes left, default margin", 4 * time.Minute, 0, true},
		{"already expired", -time.Minute, 0, true},
		{"twenty minutes left, 30 minute margin", 20 * time.Minute, 30 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.cfg.RefreshBefore = tt.before
			outcomes := recordRefreshes(&f.cfg)
			old := f.connect()
			f.tokens.expireIn(workspace, tt.left)
			tok, err := f.source().Token()
			if err != nil {
				t.Fatal(f.record(err))
			}
			n := f.srv.CountTokenRequests("refresh_token")
			if got := outcomes(); len(got) != n || n == 1 && got[0] != oauth.RefreshOK {
				t.Errorf("OnRefresh told %q for %d refreshes, want one %q each", got, n, oauth.RefreshOK)
			}
			if got := n == 1; got != tt.wantRefresh || n > 1 {
				t.Fatalf("refresh requests = %d, want refresh %t", n, tt.wantRefresh)
			}
			if !tt.wantRefresh {
				return
			}
			stored := f.tokens.stored(workspace)
			if tok.AccessToken == old.AccessToken || stored.AccessToken != tok.AccessToken {
				t.Error("the new access token was not returned and stored")
			}
			if stored.RefreshToken == old.RefreshToken || stored.RefreshToken == "" {
				t.Error("the rotated refresh token was not stored")
			}
			if left := time.Until(stored.Expiry); left < 23*time.Hour {
				t.Errorf("stored token expires in %v, want about 24 h", left)
			}
			// Linear rotated the refresh token: the old one is dead.
			_, err = oldRefresh(f, old.RefreshToken)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
				t.Errorf("old refresh token: err = %v, want invalid_grant", err)
			}
			if graphQLRefused(t, f.srv, tok.AccessToken) {
				t.Error("the new access token does not work for GraphQL")
			}
		})
	}
}

// oldRefresh tries a refresh token directly with x/oauth2.
func oldRefresh(f *fixture, rt string) (*oauth2.Token, error) {
	c := &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: f.srv.OAuthTokenURL(), AuthStyle: oauth2.AuthStyleInParams}}
	return c.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
}

func TestTokenSourceOneRefreshForManyCallers(t *testing.T) {
	tests := []struct {
		name     string
		replicas int // TokenSources sharing the store, as replicas share a database
	}{
		{"one replica", 1},
		{"two replicas", 2},
		{"five replicas", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.connect()
			f.tokens.expireIn(workspace, time.Minute)
			sources := make([]*oauth.TokenSource, tt.replicas)
			for i := range sources {
				sources[i] = f.source()
			}
			const callers = 20
			start := make(chan struct{})
			got := make([]string, callers)
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					<-start
					tok, err := sources[i%tt.replicas].TokenContext(context.Background())
					errs[i] = f.record(err)
					if tok != nil {
						got[i] = tok.AccessToken
					}
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("caller %d: %v", i, err)
				}
				if got[i] != got[0] {
					t.Fatalf("caller %d got another token than caller 0", i)
				}
			}
			if n := f.srv.CountTokenRequests("refresh_token"); n != 1 {
				t.Errorf("refresh requests = %d, want exactly 1", n)
			}
			if f.tokens.stored(workspace).AccessToken != got[0] {
				t.Error("callers got a token that is not the stored one")
			}
		})
	}
}

func TestTokenSourceRevokedRefreshToken(t *testing.T) {
	f := newFixture(t)
	f.connect()
	f.srv.RevokeAll()
	f.tokens.expireIn(workspace, time.Minute)
	outcomes := recordRefreshes(&f.cfg)
	ts := f.source()
	for i := range 5 {
		_, err := ts.Token()
		f.record(err)
		if !errors.Is(err, alert.ErrUnauthorized) {
			t.Fatalf("call %d: err = %v, want ErrUnauthorized", i, err)
		}
		var temp *alert.TemporaryError
		if errors.As(err, &temp) {
			t.Fatalf("call %d: a dead grant is not temporary: %v", i, err)
		}
	}
	if n := f.srv.CountTokenRequests("refresh_token"); n != 1 {
		t.Errorf("refresh requests = %d, want 1 (no retry storm)", n)
	}
	if got := f.tokens.marked(workspace); len(got) != 1 || got[0] != "invalid_grant" {
		t.Errorf("MarkNeedsReconnect calls = %q, want one invalid_grant", got)
	}
	if got := outcomes(); !slices.Equal(got, []string{oauth.RefreshRefused}) {
		t.Errorf("OnRefresh told %q, want one %q", got, oauth.RefreshRefused)
	}

	// A reconnect stores a new pair; the source picks it up by itself.
	f.connect()
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("after reconnect: %v", f.record(err))
	}
	if tok.AccessToken != f.tokens.stored(workspace).AccessToken {
		t.Error("after reconnect the source does not hand out the new token")
	}
	if got := len(f.tokens.marked(workspace)); got != 1 {
		t.Errorf("MarkNeedsReconnect calls = %d after reconnect, want still 1", got)
	}
}

func TestTokenSourceNotConnected(t *testing.T) {
	f := newFixture(t)
	_, err := f.source().Token()
	if !errors.Is(f.record(err), alert.ErrNotConnected) {
		t.Fatalf("err = %v, want ErrNotConnected", err)
	}
}

func TestTokenSourceNetworkError(t *testing.T) {
	f := newFixture(t)
	f.connect()
	f.tokens.expireIn(workspace, time.Minute)
	f.cfg.TokenURL = "http://127.0.0.1:1/oauth/token" // nothing listens on port 1
	outcomes := recordRefreshes(&f.cfg)
	_, err := f.source().Token()
	var temp *alert.TemporaryError
	if !errors.As(f.record(err), &temp) || !errors.Is(err, alert.ErrUnavailable) {
		t.Fatalf("err = %v, want a temporary ErrUnavailable", err)
	}
	if got := f.tokens.marked(workspace); len(got) != 0 {
		t.Errorf("a network error marked the connection: %q", got)
	}
	if got := outcomes(); !slices.Equal(got, []string{oauth.RefreshFailed}) {
		t.Errorf("OnRefresh told %q, want one %q", got, oauth.RefreshFailed)
	}
}

// recordRefreshes sets cfg.OnRefresh and returns what it was told so far.
func recordRefreshes(cfg *oauth.Config) func() []string {
	var mu sync.Mutex
	var got []string
	cfg.OnRefresh = func(outcome string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, outcome)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// TestGraphQLRefusal drives the linear client through Transport: Linear
// refusing an access token forces one refresh; refusing again, or a dead
// refresh token, marks the connection once and stops calling Linear.
func TestGraphQLRefusal(t *testing.T) {
	tests := []struct {
		name        string
		breakIt     func(srv *fakelinear.Server)
		wantOK      []bool // outcome of successive Teams calls
		wantRefresh int
		wantMarks   int
	}{
		{
			name:    "access token ended early, refresh works",
			breakIt: func(srv *fakelinear.Server) { srv.ExpireAccessTokens() },
			wantOK:  []bool{true, true, true}, // refreshed and retried at once

			wantRefresh: 1,
		},
		{
			name:        "app removed in Linear",
			breakIt:     func(srv *fakelinear.Server) { srv.RevokeAll() },
			wantOK:      []bool{false, false, false, false},
			wantRefresh: 1,
			wantMarks:   1,
		},
		{
			name:        "Linear keeps answering 401",
			breakIt:     func(srv *fakelinear.Server) { srv.FailNext("listTeams", 100, fakelinear.Unauthorized) },
			wantOK:      []bool{false, false, false, false},
			wantRefresh: 1,
			wantMarks:   1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.connect()
			ts := f.source()
			client := linear.New(f.srv.URL(), &http.Client{Transport: oauth.Transport(ts, nil), Timeout: 5 * time.Second}, f.log)
			ctx := context.Background()
			if _, err := client.Teams(ctx); err != nil {
				t.Fatalf("before: %v", f.record(err))
			}
			tt.breakIt(f.srv)
			for i, want := range tt.wantOK {
				_, err := client.Teams(ctx)
				f.record(err)
				if (err == nil) != want {
					t.Fatalf("call %d: err = %v, want ok %t", i, err, want)
				}
				if err != nil && !errors.Is(err, alert.ErrUnauthorized) {
					t.Fatalf("call %d: err = %v, want ErrUnauthorized", i, err)
				}
			}
			if n := f.srv.CountTokenRequests("refresh_token"); n != tt.wantRefresh {
				t.Errorf("refresh requests = %d, want %d", n, tt.wantRefresh)
			}
			if got := f.tokens.marked(workspace); len(got) != tt.wantMarks {
				t.Errorf("MarkNeedsReconnect calls = %q, want %d", got, tt.wantMarks)
			}
		})
	}
}

// TestTokenSourceShortLivedTokens: a token that lives less than the
// 5-minute refresh margin is refreshed once, not on every call: the margin
// is at most half a token's lifetime.
func TestTokenSourceShortLivedTokens(t *testing.T) {
	f := newFixture(t)
	f.srv.SetAccessTokenTTL(2 * time.Minute)
	f.connect()
	ts := f.source()
	var last string
	for i := range 5 {
		tok, err := ts.Token()
		if err != nil {
			t.Fatal(f.record(err))
		}
		if i > 0 && tok.AccessToken != last {
			t.Errorf("call %d got a new access token", i+1)
		}
		last = tok.AccessToken
		if left := time.Until(tok.Expiry); left < time.Minute {
			t.Errorf("token handed out with %v left, want more than half its 2 min lifetime", left)
		}
	}
	if n := f.srv.CountTokenRequests("refresh_token"); n != 1 {
		t.Errorf("refresh requests = %d, want 1 (the connect's 2-minute token is inside the default margin)", n)
	}
}
