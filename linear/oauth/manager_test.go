package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/linear/oauth"
)

// acme is the connection the seeded fake yields for T1 and U1, without
// tokens and times.
var acme = alert.Connection{
	SlackTeamID: "T1", OrgID: fakelinear.OrgID, OrgName: "Acme", OrgURLKey: "acme",
	UserName: "Ada Lovelace", UserEmail: "ada@acme.test", Scopes: "read write issues:create",
	Status: alert.ConnectionActive, ConnectedBy: "U1",
}

var ignoreTimes = cmpopts.IgnoreFields(alert.Connection{}, "TokenExpiry", "CreatedAt", "UpdatedAt")

func TestManagerConnectFlow(t *testing.T) {
	mf := newManagerFixture(t)
	ctx := context.Background()

	state := mf.link("T1", "U1")
	first, err := mf.m.AuthorizeRedirect(ctx, state)
	if err != nil {
		t.Fatal(mf.record(err))
	}
	// The connect link may be loaded twice: the state stays until the callback.
	again, err := mf.m.AuthorizeRedirect(ctx, state)
	if err != nil || again != first {
		t.Fatalf("second AuthorizeRedirect = %v, %v; want the same URL", err, mf.record(err))
	}
	u, err := url.Parse(first)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(mf.conns.verifier(state)))
	q := u.Query()
	got := map[string]string{"state": q.Get("state"), "code_challenge": q.Get("code_challenge"),
		"code_challenge_method": q.Get("code_challenge_method"), "scope": q.Get("scope"), "actor": q.Get("actor")}
	want := map[string]string{"state": state, "code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]),
		"code_challenge_method": "S256", "scope": "read,write,issues:create", "actor": "app"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("authorize URL (-want +got):\n%s", diff)
	}

	conn, err := mf.m.Complete(ctx, mf.authorize(first))
	if err != nil {
		t.Fatalf("Complete: %v", mf.record(err))
	}
	if diff := cmp.Diff(acme, conn, ignoreTimes); diff != "" {
		t.Errorf("connection (-want +got):\n%s", diff)
	}
	stored, _ := mf.conns.stored("T1")
	if stored.AccessToken == "" || stored.RefreshToken == "" {
		t.Error("the tokens were not stored")
	}
	if left := stored.TokenExpiry.Sub(mf.now()); left < 23*time.Hour {
		t.Errorf("stored token expires in %v, want about 24 h", left)
	}
	if _, err := mf.m.AuthorizeRedirect(ctx, state); !errors.Is(mf.record(err), alert.ErrNotFound) {
		t.Errorf("AuthorizeRedirect after the callback: err = %v, want ErrNotFound", err)
	}

	teams, err := mf.m.Tracker("T1").Teams(ctx)
	if err != nil {
		t.Fatalf("Teams: %v", mf.record(err))
	}
	if diff := cmp.Diff([]string{"ENG", "OPS"}, teamKeys(teams)); diff != "" {
		t.Errorf("teams (-want +got):\n%s", diff)
	}
	reqs := mf.srv.Requests()
	if last := reqs[len(reqs)-1]; last.Auth != "bearer" {
		t.Errorf("Teams authenticated with %q, want bearer", last.Auth)
	}
	got2, err := mf.m.Connection(ctx, "T1")
	if err != nil || got2.AccessToken != "" || got2.RefreshToken != "" {
		t.Errorf("Connection = tokens shown %t, err %v; want no tokens", got2.AccessToken+got2.RefreshToken != "", err)
	}
	if !mf.m.Connected(ctx, "T1") || mf.m.Connected(ctx, "T2") {
		t.Error("Connected: want T1 yes, T2 no")
	}
}

func teamKeys(teams []alert.Team) []string {
	var keys []string
	for _, t := range teams {
		keys = append(keys, t.Key)
	}
	return keys
}

func TestManagerRefusedCallbacks(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// run drives the flow to the refusal and returns its error.
		run           func(mf *managerFixture) error
		wantErr       error
		wantConnected bool // a first, good callback connected
	}{
		{
			name: "replayed state",
			run: func(mf *managerFixture) error {
				q := mf.consent("T1", "U1")
				if _, err := mf.m.Complete(ctx, q); err != nil {
					t.Fatalf("first callback: %v", mf.record(err))
				}
				_, err := mf.m.Complete(ctx, q)
				return err
			},
			wantErr:       alert.ErrNotFound,
			wantConnected: true,
		},
		{
			name: "callback after the state expired",
			run: func(mf *managerFixture) error {
				q := mf.consent("T1", "U1")
				mf.advance(oauth.StateTTL + time.Second)
				_, err := mf.m.Complete(ctx, q)
				return err
			},
			wantErr: alert.ErrNotFound,
		},
		{
			name: "connect link opened after it expired",
			run: func(mf *managerFixture) error {
				state := mf.link("T1", "U1")
				mf.advance(oauth.StateTTL)
				_, err := mf.m.AuthorizeRedirect(ctx, state)
				return err
			},
			wantErr: alert.ErrNotFound,
		},
		{
			name: "unknown state",
			run: func(mf *managerFixture) error {
				_, err := mf.m.AuthorizeRedirect(ctx, "made-up")
				return err
			},
			wantErr: alert.ErrNotFound,
		},
		{
			name: "admin clicked Deny",
			run: func(mf *managerFixture) error {
				mf.srv.DenyNextAuthorize()
				_, err := mf.m.Complete(ctx, mf.consent("T1", "U1"))
				return err
			},
			wantErr: oauth.ErrDenied,
		},
		{
			name: "no public URL",
			run: func(mf *managerFixture) error {
				m := oauth.NewManager(oauth.ManagerConfig{OAuth: mf.cfg}, mf.conns)
				_, err := m.ConnectURL(ctx, "T1", "U1")
				return err
			},
			wantErr: alert.ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf := newManagerFixture(t)
			err := mf.record(tt.run(mf))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := mf.m.Connected(ctx, "T1"); got != tt.wantConnected {
				t.Errorf("connected = %t, want %t", got, tt.wantConnected)
			}
		})
	}
}

func TestManagerSetDefaultTeam(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, key, want string
		wantErr         error
	}{
		{name: "exact key", key: "OPS", want: "OPS"},
		{name: "any case, stored as Linear spells it", key: " eng ", want: "ENG"},
		{name: "unknown team", key: "NOPE", want: "ENG", wantErr: alert.ErrInvalid},
		{name: "empty clears", key: "", want: ""},
	}
	mf := newManagerFixture(t)
	if err := mf.m.SetDefaultTeam(ctx, "T1", "ENG"); !errors.Is(mf.record(err), alert.ErrNotConnected) {
		t.Fatalf("before connecting: err = %v, want ErrNotConnected", err)
	}
	mf.mustConnect()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := mf.m.SetDefaultTeam(ctx, "T1", "ENG"); err != nil {
				t.Fatal(mf.record(err))
			}
			err := mf.record(mf.m.SetDefaultTeam(ctx, "T1", tt.key))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if c, _ := mf.m.Connection(ctx, "T1"); c.DefaultTeamKey != tt.want {
				t.Errorf("default team = %q, want %q", c.DefaultTeamKey, tt.want)
			}
		})
	}
}
