package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLoggerDurationsInMillis: durations reach the log as milliseconds
// under a _ms key, in both formats and inside groups; other values are
// untouched.
func TestLoggerDurationsInMillis(t *testing.T) {
	var buf bytes.Buffer
	log := Config{LogFormat: "json"}.NewLogger(&buf)
	log.Info("waited",
		"wait", 1500*time.Millisecond,
		"ack_ms", 250*time.Microsecond, // already suffixed: not doubled
		"attempt", 3,
		slog.Group("slack", "backoff", 2*time.Minute),
		"label", "1s")
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	want := map[string]any{"wait_ms": 1500.0, "ack_ms": 0.25, "attempt": 3.0, "label": "1s"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v (line %s)", k, got[k], v, buf.String())
		}
	}
	if g, _ := got["slack"].(map[string]any); g["backoff_ms"] != 120000.0 {
		t.Errorf("slack.backoff_ms = %#v, want 120000 (line %s)", g["backoff_ms"], buf.String())
	}
	for _, k := range []string{"wait", "backoff", "ack_ms_ms"} {
		if _, ok := got[k]; ok {
			t.Errorf("key %q still present: %s", k, buf.String())
		}
	}

	buf.Reset()
	Config{LogFormat: "text"}.NewLogger(&buf).Info("waited", "wait", 1500*time.Millisecond)
	if line := buf.String(); !strings.Contains(line, "wait_ms=1500 ") && !strings.HasSuffix(strings.TrimSpace(line), "wait_ms=1500") {
		t.Errorf("text line = %q, want wait_ms=1500", line)
	}
}

// TestSecretVariables: the list is every variable Load reads as a secret,
// and each of them refuses being set twice (value and _FILE).
func TestSecretVariables(t *testing.T) {
	got := SecretVariables()
	for _, want := range []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "PROLIFERATE_WEBHOOK_SECRET", "DATABASE_URL",
		"ENCRYPTION_KEY", "LINEAR_API_KEY", "LINEAR_CLIENT_SECRET", "API_TOKEN", "LINEAR_WEBHOOK_SECRET"} {
		if !slices.Contains(got, want) {
			t.Errorf("SecretVariables() = %v, missing %s", got, want)
		}
	}
	for _, not := range []string{"SLACK_API_URL", "HTTP_ADDR", "LINEAR_CLIENT_ID"} {
		if slices.Contains(got, not) {
			t.Errorf("SecretVariables() lists %s, which is not a secret", not)
		}
	}
	for _, name := range got {
		_, err := Load(env(map[string]string{name: "x", name + "_FILE": "/run/secrets/x"}), files(nil))
		if err == nil || !strings.Contains(err.Error(), "set both") {
			t.Errorf("%s and %s_FILE both set: Load = %v, want a set-both error", name, name, err)
		}
	}
}
