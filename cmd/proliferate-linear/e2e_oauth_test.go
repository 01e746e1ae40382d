package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

const (
	adminUser   = "U0ADMIN"
	adminDM     = "D0ADMIN" // the fake's DM channel with adminUser.
	apiToken    = "api-token-0123456789abcdef0123456789abcdef"
	oauthID     = "linear-client-id"
	oauthSecret = "linear-client-secret"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// oauthWorld is the bot with Linear OAuth and no API key, against the
// fakes' OAuth endpoints.
func oauthWorld(t *testing.T, dbURL string) (*world, context.Context) {
	t.Helper()
	public := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	w, err := startWorld(ctx, dbURL, testLogger(t), testPace, func(w *world, env map[string]string) {
		w.Linear.SetOAuthClient(oauthID, oauthSecret, public+"/api/v1/integrations/linear/callback")
		w.Slack.AddUser(fakeslack.User{ID: adminUser, Name: "grace", IsAdmin: true})
		env["LINEAR_API_KEY"] = ""
		env["LINEAR_CLIENT_ID"] = oauthID
		env["LINEAR_CLIENT_SECRET"] = oauthSecret
		env["PUBLIC_URL"] = public
		env["HTTP_ADDR"] = strings.TrimPrefix(public, "http://")
		env["LINEAR_OAUTH_AUTHORIZE_URL"] = w.Linear.OAuthAuthorizeURL()
		env["LINEAR_OAUTH_TOKEN_URL"] = w.Linear.OAuthTokenURL()
		env["LINEAR_OAUTH_REVOKE_URL"] = w.Linear.OAuthRevokeURL()
		env["API_TOKEN"] = apiToken
		env["LINEAR_POLL_INTERVAL"] = "0"
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(w.Close)
	return w, ctx
}

// slash runs /proliferate-linear text as user and returns the reply the
// bot sent to the response_url.
func slash(t *testing.T, ctx context.Context, w *world, user, text string) fakeslack.Response {
	t.Helper()
	before := len(w.Slack.Responses())
	if _, err := w.Slack.SlashCommand(ctx, user, demoChannel, "/proliferate-linear", text); err != nil {
		t.Fatalf("/proliferate-linear %s: %v", text, err)
	}
	var r fakeslack.Response
	if err := w.Slack.Wait(ctx, func() bool {
		rs := w.Slack.Responses()
		for _, x := range rs[min(before, len(rs)):] {
			if x.User == user {
				r = x
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("no reply to /proliferate-linear %s: %v", text, err)
	}
	return r
}

func replyText(r fakeslack.Response) string { return r.Text + string(r.Blocks) }

// buttonURL is the url of the first link button in blocks.
func buttonURL(blocks json.RawMessage) string {
	var u string
	walkElements(blocks, func(el map[string]any) {
		if s, ok := el["url"].(string); ok && u == "" && el["type"] == "button" {
			u = s
		}
	})
	return u
}

// TestE2EOAuthLifecycle connects Linear from Slack through the browser
// flow, creates an issue with the OAuth token, survives a token refresh
// with rotation, turns a revoked grant into the reconnect message without
// a retry storm, and disconnects keeping the links.
func TestE2EOAuthLifecycle(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := oauthWorld(t, dbURL(t))

			// Not connected yet: Linear calls say so.
			if r := slash(t, ctx, w, demoUser, "test"); !strings.Contains(replyText(r), "connect") {
				t.Errorf("test before connecting = %q, want the connect hint", replyText(r))
			}
			// Members may not connect; admins get a single-use link.
			if r := slash(t, ctx, w, demoUser, "connect"); !strings.Contains(replyText(r), "Only Slack workspace admins and owners") {
				t.Errorf("non-admin connect = %q, want a polite refusal", replyText(r))
			}
			link := buttonURL(slash(t, ctx, w, adminUser, "connect").Blocks)
			if !strings.Contains(link, "/api/v1/integrations/linear/connect?state=") {
				t.Fatalf("connect link = %q", link)
			}

			// The admin's browser: our connect → Linear authorize (consent)
			// → our callback.
			resp, err := http.Get(link)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Connected to Acme") {
				t.Fatalf("callback page %d: %s", resp.StatusCode, page)
			}
			// The callback URL cannot be replayed.
			replay, err := http.Get(resp.Request.URL.String())
			if err != nil {
				t.Fatal(err)
			}
			replay.Body.Close()
			if replay.StatusCode == http.StatusOK {
				t.Errorf("a replayed callback was accepted")
			}
			// The admin is asked for the default team in a DM.
			if err := w.Slack.Wait(ctx, func() bool {
				ms := w.Slack.Messages(adminDM)
				return len(ms) > 0 && strings.Contains(ms[0].Text+string(ms[0].Blocks), "default")
			}); err != nil {
				t.Errorf("no default-team question in the admin's DM: %v", err)
			}
			if r := slash(t, ctx, w, adminUser, "default-team eng"); !strings.Contains(replyText(r), "ENG") {
				t.Errorf("default-team = %q", replyText(r))
			}
			conn, err := w.Main.Manager.Connection(ctx, w.Main.SlackTeamID)
			if err != nil || conn.OrgName != "Acme" || conn.DefaultTeamKey != "ENG" || conn.ConnectedBy != adminUser {
				t.Errorf("connection = %+v, %v", conn, err)
			}

			// The whole loop runs on the OAuth token.
			res, err := walkAlert(ctx, w, demoAlert(), nopWriter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range w.Linear.Requests() {
				if r.OperationName != "createIssue" {
					continue
				}
				if r.Auth != "bearer" {
					t.Errorf("createIssue authenticated with %q, want the OAuth bearer token", r.Auth)
				}
				// actor=app: the issue shows the Slack user who asked.
				in, _ := r.Variables["issue"].(map[string]any)
				if in["createAsUser"] != "ada" || !strings.HasSuffix(fmt.Sprint(in["displayIconUrl"]), demoUser+"_72.png") {
					t.Errorf("createAsUser/displayIconUrl = %v/%v, want the Slack user ada", in["createAsUser"], in["displayIconUrl"])
				}
			}

			// Linear ends the access token early: concurrent calls (Workspace
			// is never cached) share one refresh and are retried with the new
			// token, so none fails.
			w.Linear.ExpireAccessTokens()
			refreshes := w.Linear.CountTokenRequests("refresh_token")
			var wg sync.WaitGroup
			for range 5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := w.Main.Service.Workspace(ctx); err != nil {
						t.Errorf("workspace after expiry: %v", err)
					}
				}()
			}
			wg.Wait()
			if n := w.Linear.CountTokenRequests("refresh_token") - refreshes; n != 1 {
				t.Errorf("%d refresh requests for 5 concurrent calls, want 1", n)
			}
			if _, err := w.Main.Service.Workspace(ctx); err != nil {
				t.Errorf("workspace on the refreshed token: %v", err)
			}
			// /metrics: every refresh Linear answered, the connection healthy.
			check(t, scrape(t, ctx, w), []expect{
				{"proliferate_linear_linear_oauth_refreshes_total", l("outcome", "ok"), float64(w.Linear.CountTokenRequests("refresh_token"))},
				{"proliferate_linear_linear_oauth_refreshes_total", l("outcome", "refused"), 0},
				{"proliferate_linear_linear_oauth_needs_reconnect", nil, 0},
			})

			// Revoked in Linear: the reconnect message, marked once, and no
			// retry storm against the token endpoint.
			w.Linear.RevokeAll()
			if r := slash(t, ctx, w, demoUser, "test"); !strings.Contains(replyText(r), "reconnect") {
				t.Errorf("test after revoke = %q, want the reconnect message", replyText(r))
			}
			tokenCalls := w.Linear.CountTokenRequests("refresh_token")
			for range 3 {
				if _, err := w.Main.Service.Workspace(ctx); !errors.Is(err, alert.ErrUnauthorized) {
					t.Errorf("workspace after revoke = %v, want ErrUnauthorized", err)
				}
			}
			if n := w.Linear.CountTokenRequests("refresh_token") - tokenCalls; n != 0 {
				t.Errorf("%d more refresh requests after the grant was revoked, want 0", n)
			}
			if r := slash(t, ctx, w, demoUser, "status"); !strings.Contains(strings.ToLower(replyText(r)), "reconnect") {
				t.Errorf("status = %q, want it to say a reconnect is needed", replyText(r))
			}
			// /metrics: Linear still refreshed (the grant's access tokens
			// were revoked, and then the fresh one too), and the connection
			// is marked.
			check(t, scrape(t, ctx, w), []expect{
				{"proliferate_linear_linear_oauth_refreshes_total", l("outcome", "ok"), float64(w.Linear.CountTokenRequests("refresh_token"))},
				{"proliferate_linear_linear_oauth_refreshes_total", l("outcome", "refused"), 0},
				{"proliferate_linear_linear_oauth_needs_reconnect", nil, 1},
			})

			// Disconnect through the REST API: tokens gone, links kept.
			req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, "http://"+w.Main.Addr()+"/api/v1/integrations/linear/disconnect", nil)
			req.Header.Set("Authorization", "Bearer "+apiToken)
			dr, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			dr.Body.Close()
			if dr.StatusCode != http.StatusOK {
				t.Errorf("disconnect: %d", dr.StatusCode)
			}
			if _, err := w.Main.Manager.Connection(ctx, w.Main.SlackTeamID); !errors.Is(err, alert.ErrNotConnected) {
				t.Errorf("after disconnect Connection = %v, want ErrNotConnected", err)
			}
			if l, err := w.Main.Service.Link(ctx, "prl_9f2c1a"); err != nil || l.Identifier != res.Identifier {
				t.Errorf("the link was not kept: %+v, %v", l, err)
			}
		})
	}
}
