package bot

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// TestViewsCalls: views.open and views.update send slack-go's request,
// keep the view's id and hash from the answer, and turn Slack's errors
// into slack-go's error types, as the callers (slackCode, classify) expect.
func TestViewsCalls(t *testing.T) {
	t.Parallel()
	type request struct {
		path, auth string
		body       map[string]any
	}
	var got request
	answer := func(w http.ResponseWriter) {}
	seen := make(chan request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := request{path: r.URL.Path, auth: r.Header.Get("Authorization")}
		data, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(data, &req.body)
		seen <- req
		answer(w)
	}))
	defer srv.Close()
	b, err := New(Config{BotToken: "xoxb-test", APIURL: srv.URL + "/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	modal := infoModal("hello", modalMeta{AlertID: 1, CreationID: "c"})

	answer = func(w http.ResponseWriter) {
		// Only the id and hash are kept of the view Slack echoes.
		_, _ = io.WriteString(w, `{"ok":true,"view":{"id":"V1","hash":"h1","blocks":[{"type":"brand_new","x":1}]}}`)
	}
	v, err := b.viewsOpen(t.Context(), "T.1", modal)
	if err != nil || v.ID != "V1" || v.Hash != "h1" {
		t.Fatalf("views.open = %+v, %v; want V1 h1", v, err)
	}
	got = <-seen
	if got.path != "/views.open" || got.auth != "Bearer xoxb-test" || got.body["trigger_id"] != "T.1" || got.body["view"] == nil {
		t.Errorf("views.open sent %s %q %v", got.path, got.auth, got.body)
	}
	if _, err := b.viewsUpdate(t.Context(), modal, "h1", "V1"); err != nil {
		t.Fatal(err)
	}
	got = <-seen
	if got.path != "/views.update" || got.body["hash"] != "h1" || got.body["view_id"] != "V1" {
		t.Errorf("views.update sent %s %v", got.path, got.body)
	}
	if _, err := b.viewsUpdate(t.Context(), modal, "", "V1"); err != nil {
		t.Fatal(err)
	}
	got = <-seen
	if _, ok := got.body["hash"]; ok {
		t.Errorf("views.update without a hash sent one: %v", got.body)
	}

	answer = func(w http.ResponseWriter) {
		_, _ = io.WriteString(w, `{"ok":false,"error":"hash_conflict","response_metadata":{"messages":["[ERROR] stale"]}}`)
	}
	_, err = b.viewsUpdate(t.Context(), modal, "old", "V1")
	<-seen
	var se slack.SlackErrorResponse
	if slackCode(err) != "hash_conflict" || !errors.As(err, &se) || len(se.ResponseMetadata.Messages) != 1 {
		t.Errorf("conflict = %#v, want hash_conflict with its messages", err)
	}

	answer = func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	var rl *slack.RateLimitedError
	if _, err := b.viewsOpen(t.Context(), "T.2", modal); !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Errorf("429 = %v, want RateLimitedError 7s", err)
	}
	<-seen
	answer = func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }
	var sc slack.StatusCodeError
	if _, err := b.viewsOpen(t.Context(), "T.3", modal); !errors.As(err, &sc) || sc.Code != http.StatusBadGateway {
		t.Errorf("502 = %v, want StatusCodeError", err)
	}
	<-seen
	if _, err := b.viewsOpen(t.Context(), "", modal); !errors.Is(err, slack.ErrParametersMissing) {
		t.Errorf("no trigger = %v", err)
	}
}
