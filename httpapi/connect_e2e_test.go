package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/linear/oauth"
	"github.com/proliferate/proliferate-linear/secret"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// The real connection lifecycle fits the interface the handlers declare.
var _ Integration = (*oauth.Manager)(nil)

// TestConnectEndToEnd drives the connect flow through the HTTP handlers
// with the real *oauth.Manager on the real store (SQLite, and PostgreSQL
// when configured) against the fake Linear's OAuth endpoints: the REST
// connect link, the redirect to Linear, Linear's redirect to the callback,
// the success page, a replayed callback, and disconnect. It runs a first
// connect, and a reconnect of a workspace whose grant Linear revoked.
func TestConnectEndToEnd(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		for _, reconnect := range []bool{false, true} {
			name := dc.Name + "/first connect"
			if reconnect {
				name = dc.Name + "/reconnect"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				connectEndToEnd(t, dc, reconnect)
			})
		}
	}
}

func connectEndToEnd(t *testing.T, dc storetest.Case, reconnect bool) {
	fl := fakelinear.Seeded()
	t.Cleanup(fl.Close)
	db := dc.Open(t)
	key, err := secret.GenerateKey(1)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := secret.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	db.SetKeyring(kr)
	if reconnect {
		// Connected before; Linear has since refused the grant.
		err := db.SaveConnection(context.Background(), alert.Connection{
			SlackTeamID: testTeam, OrgID: fakelinear.OrgID, OrgName: "Acme", OrgURLKey: "acme",
			AccessToken: "revoked-access-token", RefreshToken: "revoked-refresh-token",
			Status: alert.ConnectionNeedsReconnect, StatusReason: "invalid_grant", ConnectedBy: "U1",
			CreatedAt: time.Now(), UpdatedAt: time.Now(),
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// The handler is built once the server's URL (the redirect
	// URI's base) is known.
	var h *Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	fl.SetOAuthClient("client-1", "client-secret-1", srv.URL+CallbackPath)
	hc := &http.Client{Timeout: 5 * time.Second}
	m := oauth.NewManager(oauth.ManagerConfig{
		OAuth: oauth.Config{
			ClientID: "client-1", ClientSecret: "client-secret-1", RedirectURL: srv.URL + CallbackPath,
			AuthorizeURL: fl.OAuthAuthorizeURL(), TokenURL: fl.OAuthTokenURL(), RevokeURL: fl.OAuthRevokeURL(),
		},
		PublicURL: srv.URL, LinearAPIURL: fl.URL(), HTTPClient: hc, Sealer: kr,
	}, db)
	logs := &syncBuffer{}
	connected := make(chan alert.Connection, 1)
	h = NewHandler(Config{APIToken: apiToken, SlackTeamID: testTeam, Log: slog.New(slog.NewJSONHandler(logs, nil))},
		Deps{Integration: m, OnConnected: func(_ context.Context, c alert.Connection) { connected <- c }})
	t.Cleanup(func() { _ = h.Close(context.Background()) })

	api := func(method, path string) (int, map[string]string) {
		req, _ := http.NewRequest(method, srv.URL+integrationBase+path, nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}

	status, body := api(http.MethodGet, "/connect")
	if status != http.StatusOK || !strings.HasPrefix(body["url"], srv.URL+ConnectPath+"?state=") {
		t.Fatalf("connect link: status %d body %v", status, body)
	}

	// The admin's browser: connect link → Linear (who says Allow) →
	// callback, following the redirects.
	resp, err := hc.Get(body["url"])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Connected to Acme. You can return to Slack.") {
		t.Fatalf("callback: status %d page:\n%s\nlog:\n%s", resp.StatusCode, page, logs)
	}
	callbackURL := resp.Request.URL.String()
	if !strings.Contains(callbackURL, CallbackPath+"?") || !strings.Contains(callbackURL, "code=") {
		t.Fatalf("the flow ended at %s, not the callback", resp.Request.URL.Path)
	}
	select {
	case c := <-connected:
		if c.OrgID != fakelinear.OrgID || c.SlackTeamID != testTeam || c.AccessToken != "" {
			t.Errorf("OnConnected got org %s team %s (token present: %t)", c.OrgID, c.SlackTeamID, c.AccessToken != "")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnConnected was not called")
	}

	// The same callback again (a reload, or a stolen URL): refused.
	resp, err = hc.Get(callbackURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(page), "already used or has expired") {
		t.Errorf("replayed callback: status %d page:\n%s", resp.StatusCode, page)
	}
	if strings.Contains(logs.String(), resp.Request.URL.Query().Get("code")) {
		t.Error("the authorization code reached the log")
	}

	for _, want := range []string{"disconnected", "not_connected"} {
		if status, body := api(http.MethodDelete, "/disconnect"); status != http.StatusOK || body["status"] != want {
			t.Errorf("disconnect: status %d body %v, want 200 %s", status, body, want)
		}
	}
	if n := fl.CountTokenRequests("authorization_code"); n != 1 {
		t.Errorf("%d code exchanges, want 1", n)
	}
}
