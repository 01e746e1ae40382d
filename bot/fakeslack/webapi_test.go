package fakeslack

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"
)

// rawCall posts body to method with contentType and optional bearer token,
// returning the decoded answer.
func rawCall(t *testing.T, srv *Server, method, contentType, bearer, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL()+method, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAuthAndEncodings(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, method, ctype, bearer, body string
		want                              map[string]any
	}{
		{"json body with bearer", "chat.postMessage", "application/json; charset=utf-8", "xoxb-fake",
			`{"channel":"C1","text":"hi","blocks":[{"type":"divider"}]}`, map[string]any{"ok": true}},
		{"form token field", "chat.postMessage", form, "", "token=xoxb-fake&channel=C1&text=hi", map[string]any{"ok": true}},
		{"json blocks as string", "chat.postMessage", "application/json", "xoxb-fake",
			`{"channel":"C1","blocks":"[{\"type\":\"divider\"}]"}`, map[string]any{"ok": true}},
		{"no token", "chat.postMessage", form, "", "channel=C1&text=hi", map[string]any{"ok": false, "error": "not_authed"}},
		{"wrong token", "chat.postMessage", form, "xoxb-wrong", "channel=C1&text=hi", map[string]any{"ok": false, "error": "invalid_auth"}},
		{"app token on chat", "chat.postMessage", form, "xapp-fake", "channel=C1&text=hi", map[string]any{"ok": false, "error": "not_allowed_token_type"}},
		{"bot token on connections.open", "apps.connections.open", "application/json", "xoxb-fake", "", map[string]any{"ok": false, "error": "not_allowed_token_type"}},
		{"unknown method", "chat.fly", form, "xoxb-fake", "", map[string]any{"ok": false, "error": "unknown_method"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rawCall(t, srv, tt.method, tt.ctype, tt.bearer, tt.body)
			for _, k := range []string{"ts", "channel", "message", "response_metadata"} {
				delete(got, k)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
	if n := len(srv.Messages("C1")); n != 3 {
		t.Errorf("messages posted = %d, want 3", n)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	api := newAPI(srv)
	ctx := testCtx(t)
	srv.RateLimit("chat.postMessage", 2, 1500*time.Millisecond)
	for i := range 2 {
		_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) {
			t.Fatalf("call %d: err = %v, want *slack.RateLimitedError", i, err)
		}
		if rl.RetryAfter != 2*time.Second {
			t.Errorf("RetryAfter = %v, want 2s (rounded up)", rl.RetryAfter)
		}
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); err != nil {
		t.Fatalf("third call: %v", err)
	}
	if _, err := api.AuthTestContext(ctx); err != nil {
		t.Errorf("other methods must not be limited: %v", err)
	}
	var statuses []int
	for _, c := range srv.Calls("chat.postMessage") {
		statuses = append(statuses, c.Status)
	}
	if diff := cmp.Diff([]int{429, 429, 200}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestInfoMethods(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{BotUserID: "UBOT9"})
	api := newAPI(srv)
	ctx := testCtx(t)
	auth, err := api.AuthTestContext(ctx)
	if err != nil || auth.UserID != "UBOT9" || auth.TeamID != "T0001" {
		t.Errorf("auth.test = %+v, %v", auth, err)
	}
	u, err := api.GetUserInfoContext(ctx, "U1")
	if err != nil || !u.IsAdmin || u.IsOwner || u.Name != "alice" {
		t.Errorf("users.info = %+v, %v", u, err)
	}
	if _, err := api.GetUserInfoContext(ctx, "U404"); err == nil || err.Error() != "user_not_found" {
		t.Errorf("unknown user: %v", err)
	}
	ch, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "C1"})
	if err != nil || ch.Name != "alerts" {
		t.Errorf("conversations.info = %+v, %v", ch, err)
	}
	if got := srv.Calls("users.info")[0].Params; got.Get("user") != "U1" {
		t.Errorf("recorded params = %v", url.Values(got))
	}
}

// TestCallRecordedWithItsEffects: whoever sees what a Web API call did (a
// posted message) also finds the call in Calls, with its final status,
// since tests wait on the one and count the other.
func TestCallRecordedWithItsEffects(t *testing.T) {
	t.Parallel()
	srv := newServer(t, Options{})
	api := newAPI(srv)
	ctx := testCtx(t)
	const posts = 60
	errs := make(chan error, 1)
	go func() {
		for i := range posts {
			if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText(fmt.Sprint("m", i), false)); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	// Spin rather than poll: the gap this looks for was a few instructions
	// wide, between the handler's unlock and the call's record.
	for seen := 0; seen < posts; {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("post: %v", err)
			}
			errs <- nil
		default:
		}
		n := len(srv.Messages("C1"))
		if n == seen {
			runtime.Gosched()
			continue
		}
		seen = n
		calls := srv.Calls("chat.postMessage")
		if len(calls) < n {
			t.Fatalf("%d messages visible but %d chat.postMessage calls recorded", n, len(calls))
		}
		if c := calls[n-1]; c.Status != http.StatusOK || c.Error != "" {
			t.Fatalf("call %d recorded as %d %q", n, c.Status, c.Error)
		}
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
