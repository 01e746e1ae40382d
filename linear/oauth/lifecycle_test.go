package oauth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

func TestManagerDisconnect(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		prepare  func(mf *managerFixture)
		wantErr  error
		wantGone bool // the stored connection was deleted
	}{
		{name: "connected", prepare: func(mf *managerFixture) { mf.mustConnect() }, wantGone: true},
		{
			name:     "already revoked in Linear",
			prepare:  func(mf *managerFixture) { mf.mustConnect(); mf.srv.RevokeAll() },
			wantGone: true,
		},
		{
			name: "Linear unreachable: nothing deleted, try again",
			prepare: func(mf *managerFixture) {
				mf.mustConnect()
				mf.cfg.RevokeURL = "http://127.0.0.1:1/oauth/revoke" // nothing listens on port 1
				mf.m = mf.manager()
			},
			wantErr: alert.ErrUnavailable,
		},
		{name: "not connected", prepare: func(*managerFixture) {}, wantErr: alert.ErrNotConnected, wantGone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf := newManagerFixture(t)
			tt.prepare(mf)
			before, _ := mf.conns.stored("T1")
			err := mf.record(mf.m.Disconnect(ctx, "T1"))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if _, ok := mf.conns.stored("T1"); ok == tt.wantGone {
				t.Fatalf("connection kept = %t, want %t", ok, !tt.wantGone)
			}
			if !tt.wantGone {
				return
			}
			if before.AccessToken != "" && !graphQLRefused(t, mf.srv, before.AccessToken) {
				t.Error("Linear still accepts the access token")
			}
			if _, err := mf.m.Tracker("T1").Teams(ctx); !errors.Is(mf.record(err), alert.ErrNotConnected) {
				t.Errorf("tracker after disconnect: err = %v, want ErrNotConnected", err)
			}
		})
	}
}

func TestManagerRevoked(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		lookup  bool // the store implements OrgLookup
		org     string
		wantErr error
	}{
		{name: "by org lookup", lookup: true, org: fakelinear.OrgID},
		{name: "by the Slack teams served", org: fakelinear.OrgID},
		{name: "another workspace", lookup: true, org: "other-org", wantErr: alert.ErrNotFound},
		{name: "another workspace, no lookup", org: "other-org", wantErr: alert.ErrNotFound},
		{name: "no org", org: "", wantErr: alert.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf := newManagerFixture(t)
			if tt.lookup {
				mf.store = orgConns{mf.conns}
			}
			mf.m = mf.manager()
			mf.mustConnect()
			// A fresh replica that never served T1 relies on OrgLookup.
			m := mf.m
			if tt.lookup {
				m = mf.manager()
			}
			err := mf.record(m.Revoked(ctx, tt.org))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			_, kept := mf.conns.stored("T1")
			if kept != (tt.wantErr != nil) {
				t.Errorf("connection kept = %t", kept)
			}
		})
	}
}

// TestManagerDeadGrant: a grant revoked in Linear leads to ErrUnauthorized
// (the reconnect message), one mark, one refresh attempt, and no further
// calls to Linear however often users try.
func TestManagerDeadGrant(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		expired bool // the stored access token is due for a refresh
		// GraphQL requests Linear answers before the grant is known dead:
		// a refused access token first forces one refresh. (Workspace asks
		// for the workspace and its recent issues at once: the second may
		// go before the first is refused, so at most two, at least one.)
		wantGraphQL int
	}{
		{name: "refresh refused", expired: true, wantGraphQL: 0},
		{name: "access token refused, then its refresh", expired: false, wantGraphQL: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf := newManagerFixture(t)
			mf.mustConnect()
			tr := mf.m.Tracker("T1")
			mf.srv.RevokeAll()
			if tt.expired {
				mf.conns.update("T1", func(c *alert.Connection) { c.TokenExpiry = mf.now().Add(time.Minute) })
			}
			graphQLBefore := mf.sent.count("/graphql")
			for i := range 6 {
				_, err := tr.Workspace(ctx)
				mf.record(err)
				if !errors.Is(err, alert.ErrUnauthorized) {
					t.Fatalf("call %d: err = %v, want ErrUnauthorized", i, err)
				}
				if msg := alert.UserMessage(err); !strings.Contains(msg, "/proliferate-linear connect") {
					t.Fatalf("call %d: user message %q does not say how to reconnect", i, msg)
				}
			}
			if n := mf.srv.CountTokenRequests("refresh_token"); n != 1 {
				t.Errorf("refresh requests = %d, want 1 (no retry storm)", n)
			}
			if n := mf.sent.count("/graphql") - graphQLBefore; n > tt.wantGraphQL || (tt.wantGraphQL > 0) != (n > 0) {
				t.Errorf("GraphQL requests = %d, want %d at most, and none only if %d", n, tt.wantGraphQL, tt.wantGraphQL)
			}
			want := []mark{{"T1", alert.ConnectionNeedsReconnect, "invalid_grant"}}
			if diff := cmp.Diff(want, mf.conns.allMarks()); diff != "" {
				t.Errorf("marks (-want +got):\n%s", diff)
			}

			// An admin reconnects the same workspace: the tracker works again.
			if _, err := mf.connectAs("T1", "U1"); err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Workspace(ctx); err != nil {
				t.Fatalf("after reconnect: %v", mf.record(err))
			}
		})
	}
}

func TestManagerOneRefreshForConcurrentCalls(t *testing.T) {
	tests := []struct {
		name     string
		replicas int // Managers sharing the store, as replicas share a database
	}{
		{"one replica", 1},
		{"three replicas", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf := newManagerFixture(t)
			mf.mustConnect()
			mf.conns.update("T1", func(c *alert.Connection) { c.TokenExpiry = mf.now().Add(time.Minute) })
			trackers := make([]alert.Tracker, tt.replicas)
			for i := range trackers {
				trackers[i] = mf.manager().Tracker("T1")
			}
			const callers = 20
			errs := make([]error, callers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					<-start
					// Workspace is not cached, so every call reaches Linear.
					_, errs[i] = trackers[i%tt.replicas].Workspace(context.Background())
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("caller %d: %v", i, mf.record(err))
				}
			}
			if n := mf.srv.CountTokenRequests("refresh_token"); n != 1 {
				t.Errorf("refresh requests = %d, want exactly 1", n)
			}
			if c, _ := mf.conns.stored("T1"); c.TokenExpiry.Sub(mf.now()) < 23*time.Hour {
				t.Error("the refreshed token was not stored")
			}
		})
	}
}

func TestTrackerOrFallback(t *testing.T) {
	ctx := context.Background()
	mf := newManagerFixture(t)
	apiKey := linear.New(mf.srv.URL(), &http.Client{Transport: &linear.APIKeyTransport{Key: fakelinear.APIKey}}, nil)
	tr := mf.m.TrackerOr("T1", apiKey)
	lastAuth := func() string {
		t.Helper()
		if _, err := tr.Workspace(ctx); err != nil {
			return "error: " + mf.record(err).Error()
		}
		reqs := mf.srv.Requests()
		return reqs[len(reqs)-1].Auth
	}
	if got := lastAuth(); got != "api-key" {
		t.Errorf("not connected: %s, want the API key", got)
	}
	mf.mustConnect()
	if got := lastAuth(); got != "bearer" {
		t.Errorf("connected: %s, want OAuth", got)
	}
	mf.conns.update("T1", func(c *alert.Connection) { c.Status = alert.ConnectionNeedsReconnect })
	if _, err := tr.Workspace(ctx); !errors.Is(mf.record(err), alert.ErrUnauthorized) {
		t.Errorf("needs reconnect: err = %v, want ErrUnauthorized, not the API key", err)
	}
	if _, err := mf.m.Tracker("T2").Teams(ctx); !errors.Is(mf.record(err), alert.ErrNotConnected) {
		t.Errorf("no fallback, not connected: err = %v, want ErrNotConnected", err)
	}
}
