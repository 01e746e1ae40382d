package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/linear/oauth"
)

const globexID = "9e0b0000-0000-4000-8000-0000000000b2"

// proposeGlobex connects T1 to Acme, then consents for Globex and returns
// the *ReplaceError.
func proposeGlobex(t *testing.T, mf *managerFixture) *oauth.ReplaceError {
	t.Helper()
	if _, ok := mf.conns.stored("T1"); !ok {
		mf.mustConnect()
	}
	mf.srv.SetOrganization(globexID, "Globex", "globex")
	_, err := mf.connectAs("T1", "U2")
	var re *oauth.ReplaceError
	if !errors.As(err, &re) {
		t.Fatalf("connecting another workspace: err = %v, want a *ReplaceError", err)
	}
	return re
}

func TestManagerReplaceNeedsConfirmation(t *testing.T) {
	ctx := context.Background()
	mf := newManagerFixture(t)
	mf.mustConnect()
	if err := mf.m.SetDefaultTeam(ctx, "T1", "ENG"); err != nil {
		t.Fatal(mf.record(err))
	}
	before, _ := mf.conns.stored("T1")
	if _, err := mf.m.Tracker("T1").Teams(ctx); err != nil { // builds (and caches) Acme's client
		t.Fatal(mf.record(err))
	}

	re := proposeGlobex(t, mf)
	if !errors.Is(re, alert.ErrConflict) {
		t.Error("a *ReplaceError is not an ErrConflict")
	}
	got := fmt.Sprintf("%s|%s|%t|%t", re.Current.OrgName, re.Proposed.OrgName,
		re.Current.AccessToken+re.Current.RefreshToken == "", re.Proposed.AccessToken+re.Proposed.RefreshToken == "")
	if want := "Acme|Globex|true|true"; got != want {
		t.Errorf("current|proposed|current redacted|proposed redacted = %s, want %s", got, want)
	}
	if after, _ := mf.conns.stored("T1"); after.OrgID != fakelinear.OrgID || after.AccessToken != before.AccessToken {
		t.Fatal("the connection changed before confirmation")
	}
	for _, s := range []string{re.Error(), fmt.Sprintf("%+v", re)} {
		for _, secret := range mf.conns.secrets() {
			if len(secret) > 8 && strings.Contains(s, secret) {
				t.Fatal("the ReplaceError prints a secret")
			}
		}
	}

	// The confirmation is bound to its Slack team and is no connect state.
	if _, err := mf.m.ConfirmReplace(ctx, "T2", re.ConfirmState); !errors.Is(mf.record(err), alert.ErrNotFound) {
		t.Errorf("confirm from another Slack team: err = %v, want ErrNotFound", err)
	}
	re = proposeGlobex(t, mf)
	if _, err := mf.m.AuthorizeRedirect(ctx, re.ConfirmState); !errors.Is(mf.record(err), alert.ErrNotFound) {
		t.Errorf("confirm state as a connect state: err = %v, want ErrNotFound", err)
	}

	re = proposeGlobex(t, mf)
	conn, err := mf.m.ConfirmReplace(ctx, "T1", re.ConfirmState)
	if err != nil {
		t.Fatalf("ConfirmReplace: %v", mf.record(err))
	}
	want := acme
	want.OrgID, want.OrgName, want.OrgURLKey, want.ConnectedBy = globexID, "Globex", "globex", "U2"
	if diff := cmp.Diff(want, conn, ignoreTimes); diff != "" {
		t.Errorf("replaced connection (-want +got):\n%s", diff)
	}
	if !graphQLRefused(t, mf.srv, before.AccessToken) {
		t.Error("the replaced workspace's grant was not revoked")
	}
	ws, err := mf.m.Tracker("T1").Workspace(ctx)
	if err != nil || ws.OrgName != "Globex" {
		t.Errorf("tracker after replace: workspace %q, err %v; want Globex", ws.OrgName, mf.record(err))
	}
	if _, err := mf.m.ConfirmReplace(ctx, "T1", re.ConfirmState); !errors.Is(mf.record(err), alert.ErrNotFound) {
		t.Errorf("second confirm: err = %v, want ErrNotFound", err)
	}
}

func TestManagerReplaceOutcomes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		run         func(mf *managerFixture) error
		wantOrg     string
		wantRevokes int // requests to Linear's revoke endpoint
		wantErr     error
	}{
		{
			name: "cancelled: the proposed grant is revoked",
			run: func(mf *managerFixture) error {
				return mf.m.CancelReplace(ctx, "T1", proposeGlobex(t, mf).ConfirmState)
			},
			wantOrg: acme.OrgID, wantRevokes: 1,
		},
		{
			name: "expired confirmation",
			run: func(mf *managerFixture) error {
				re := proposeGlobex(t, mf)
				mf.advance(oauth.StateTTL)
				_, err := mf.m.ConfirmReplace(ctx, "T1", re.ConfirmState)
				return err
			},
			wantOrg: acme.OrgID, wantErr: alert.ErrNotFound,
		},
		{
			name: "confirmed by another replica (shared sealer needed)",
			run: func(mf *managerFixture) error {
				re := proposeGlobex(t, mf)
				_, err := mf.manager().ConfirmReplace(ctx, "T1", re.ConfirmState)
				return err
			},
			wantOrg: acme.OrgID, wantErr: alert.ErrNotFound,
		},
		{
			name: "the same workspace again: tokens updated in place, default team kept",
			run: func(mf *managerFixture) error {
				mf.mustConnect()
				if err := mf.m.SetDefaultTeam(ctx, "T1", "OPS"); err != nil {
					return err
				}
				old, _ := mf.conns.stored("T1")
				c, err := mf.connectAs("T1", "U3")
				if err == nil && (c.DefaultTeamKey != "OPS" || c.ConnectedBy != "U3" || !c.CreatedAt.Equal(old.CreatedAt)) {
					t.Errorf("reconnected: default %q, by %q, created kept %t", c.DefaultTeamKey, c.ConnectedBy, c.CreatedAt.Equal(old.CreatedAt))
				}
				if now, _ := mf.conns.stored("T1"); now.RefreshToken == old.RefreshToken {
					t.Error("the tokens were not updated")
				}
				return err
			},
			wantOrg: acme.OrgID,
		},
		{
			name: "the current workspace needs reconnecting: replaced at once",
			run: func(mf *managerFixture) error {
				mf.mustConnect()
				mf.conns.update("T1", func(c *alert.Connection) { c.Status = alert.ConnectionNeedsReconnect })
				mf.srv.SetOrganization(globexID, "Globex", "globex")
				_, err := mf.connectAs("T1", "U1")
				return err
			},
			wantOrg: globexID, wantRevokes: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf := newManagerFixture(t)
			err := mf.record(tt.run(mf))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if c, _ := mf.conns.stored("T1"); c.OrgID != tt.wantOrg {
				t.Errorf("connected org = %s, want %s", c.OrgID, tt.wantOrg)
			}
			if n := mf.sent.count("/oauth/revoke"); n != tt.wantRevokes {
				t.Errorf("revoke requests = %d, want %d", n, tt.wantRevokes)
			}
		})
	}
}
