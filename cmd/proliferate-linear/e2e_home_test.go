package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// homeText is a published Home's blocks with JSON's escapes of &, < and >
// undone, for reading as the mrkdwn it carries.
func homeText(v fakeslack.View) string {
	return strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(string(v.Blocks))
}

// openHome opens user's Home tab (app_home_opened over Socket Mode) and
// waits until the Home published for user shows every one of want.
func openHome(t *testing.T, ctx context.Context, w *world, user string, want ...string) fakeslack.View {
	t.Helper()
	ack, err := w.Slack.OpenHome(ctx, user)
	if err != nil {
		t.Fatalf("open home: %v", err)
	}
	if ack.Latency <= 0 || ack.Latency >= 3*time.Second {
		t.Errorf("app_home_opened acked after %v; Slack allows 3 s", ack.Latency)
	}
	return waitHome(t, ctx, w, user, want...)
}

// waitHome waits until the Home published for user shows every one of want.
func waitHome(t *testing.T, ctx context.Context, w *world, user string, want ...string) fakeslack.View {
	t.Helper()
	var v fakeslack.View
	if err := w.Slack.Wait(ctx, func() bool {
		var ok bool
		v, ok = w.Slack.Home(user)
		if !ok {
			return false
		}
		for _, s := range want {
			if !strings.Contains(homeText(v), s) {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatalf("%s's Home never showed all of %q: %v\n%s", user, want, err, homeText(v))
	}
	return v
}

// TestE2EHome runs the real Main: after an alert → create loop, the user
// who opens the Home tab gets it published naming the Linear workspace,
// the alert channel and the issue with its state; with Linear at 2 s per
// request the first publish still comes at once, before Linear answers
// anything, and the refreshed one after.
func TestE2EHome(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := startTestWorld(t, dbURL(t))
			res, err := walkAlert(ctx, w, demoAlert(), io.Discard)
			if err != nil {
				t.Fatalf("walk: %v", err)
			}
			is := w.Linear.Issues()[0]
			home := openHome(t, ctx, w, demoUser, "*Linear workspace:* Acme", "<#"+demoChannel+">",
				"|"+res.Identifier+">", "*"+is.State.Name+"*", "created by <@"+demoUser+">")
			if home.Type != "home" || home.User != demoUser {
				t.Errorf("home = %s for %s", home.Type, home.User)
			}
			if strings.Contains(homeText(home), "Checking Linear") {
				t.Errorf("the refreshed Home still says it is checking Linear")
			}

			// The fake shows a published Home a moment before it records
			// the call: wait for both of this open's publishes (stored,
			// refreshed) to be counted before counting the next ones.
			if err := w.Slack.Wait(ctx, func() bool { return len(w.Slack.Calls("views.publish")) >= 2 }); err != nil {
				t.Fatalf("the first open published %d times, want 2: %v", len(w.Slack.Calls("views.publish")), err)
			}

			// Linear holds every request: the Home is published from the
			// store before Linear has answered any.
			release := w.Linear.Hold()
			defer release()
			answered := w.Linear.CountRequests("")
			published := len(w.Slack.Calls("views.publish"))
			if _, err := w.Slack.OpenHome(ctx, demoUser); err != nil {
				t.Fatal(err)
			}
			if err := w.Slack.Wait(ctx, func() bool { return len(w.Slack.Calls("views.publish")) > published }); err != nil {
				t.Fatal(err)
			}
			if n := w.Linear.CountRequests("") - answered; n != 0 {
				t.Errorf("Linear answered %d requests before the first publish, want 0", n)
			}
			first, _ := w.Slack.Home(demoUser)
			for _, want := range []string{"Checking Linear", "<#" + demoChannel + ">", "|" + res.Identifier + ">", "*" + is.State.Name + "*"} {
				if !strings.Contains(homeText(first), want) {
					t.Errorf("first publish lacks %q:\n%s", want, homeText(first))
				}
			}
			// Then, once Linear answers, the refreshed Home.
			if err := w.Slack.Wait(ctx, func() bool { return w.Linear.InFlight() > 0 }); err != nil {
				t.Fatalf("the refresh never asked Linear: %v", err)
			}
			release()
			if err := w.Slack.Wait(ctx, func() bool {
				v, _ := w.Slack.Home(demoUser)
				return len(w.Slack.Calls("views.publish")) >= published+2 && !strings.Contains(homeText(v), "Checking Linear")
			}); err != nil {
				t.Fatalf("no refreshed Home: %v", err)
			}
			if n := w.Linear.CountRequests("") - answered; n == 0 {
				t.Errorf("the refresh asked Linear nothing")
			}
			second, _ := w.Slack.Home(demoUser)
			if !strings.Contains(homeText(second), "Acme") {
				t.Errorf("refreshed Home lacks the workspace:\n%s", homeText(second))
			}
			envs, calls := w.Slack.Envelopes(), w.Slack.Calls("views.publish")
			opened := envs[len(envs)-1].SentAt
			t.Logf("figures with Linear holding its answers: app_home_opened → first views.publish %v, → refreshed %v",
				round(calls[published].At.Sub(opened)), round(calls[published+1].At.Sub(opened)))
		})
	}
}

// connectOAuth connects Linear from Slack as adminUser through the
// browser flow.
func connectOAuth(t *testing.T, ctx context.Context, w *world) {
	t.Helper()
	link := buttonURL(slash(t, ctx, w, adminUser, "connect").Blocks)
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Connected to Acme") {
		t.Fatalf("callback page %d: %s", resp.StatusCode, page)
	}
}

// TestE2EHomeAdminDisconnect: with OAuth, a member's Home shows the
// connection without controls; an admin disconnects from the Home, which
// then says so and offers Connect.
func TestE2EHomeAdminDisconnect(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := oauthWorld(t, dbURL(t))
			connectOAuth(t, ctx, w)

			member := openHome(t, ctx, w, demoUser, "*Linear workspace:* Acme", "OAuth, by <@"+adminUser+">")
			if strings.Contains(string(member.Blocks), `"disconnect_linear"`) || strings.Contains(string(member.Blocks), `"connect_linear"`) {
				t.Errorf("a member's Home offers the controls:\n%s", homeText(member))
			}

			home := openHome(t, ctx, w, adminUser, "*Linear workspace:* Acme", `"action_id":"disconnect_linear"`)
			if _, err := w.Slack.ClickViewButton(ctx, adminUser, home.ID, "disconnect_linear"); err != nil {
				t.Fatal(err)
			}
			after := waitHome(t, ctx, w, adminUser, "Disconnected from Acme", "*Linear:* not connected", `"action_id":"connect_linear"`)
			if strings.Contains(string(after.Blocks), `"disconnect_linear"`) {
				t.Errorf("the Home still offers Disconnect:\n%s", homeText(after))
			}
			if _, err := w.Main.Manager.Connection(ctx, w.Main.SlackTeamID); !errors.Is(err, alert.ErrNotConnected) {
				t.Errorf("after Disconnect from the Home, Connection = %v, want ErrNotConnected", err)
			}
			if _, err := w.Main.Service.Workspace(ctx); !errors.Is(err, alert.ErrNotConnected) {
				t.Errorf("Linear after Disconnect from the Home: %v, want ErrNotConnected", err)
			}
		})
	}
}
