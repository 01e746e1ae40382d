package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSignAlertKnownVector(t *testing.T) {
	t.Parallel()
	// Computed independently: Python hmac.new(secret, b'v1:1700000000:' + body, sha256).
	ts, sig := SignAlert(testSecret, time.Unix(1700000000, 0), []byte(`{"issue_id":"abc"}`))
	if ts != "1700000000" {
		t.Errorf("timestamp header = %q", ts)
	}
	if want := "v1=5d83ef29aa442bccd7da9140bead0b1f00721becf32394f4c0cbc3f8eced50fc"; sig != want {
		t.Errorf("signature header = %q, want %q", sig, want)
	}
}

func TestAlertAuthentication(t *testing.T) {
	t.Parallel()
	body := mustJSON(t, validPayload())
	goodTS, goodSig := SignAlert(testSecret, testNow, body)
	_, otherSecretSig := SignAlert("another-secret-0123456", testNow, body)
	_, otherBodySig := SignAlert(testSecret, testNow, []byte(`{"issue_id":"other"}`))
	unix := func(d time.Duration) string { return strconv.FormatInt(testNow.Add(d).Unix(), 10) }
	signedAt := func(d time.Duration) (string, string) { return SignAlert(testSecret, testNow.Add(d), body) }
	oldTS, oldSig := signedAt(-5*time.Minute - time.Second)
	futTS, futSig := signedAt(5*time.Minute + time.Second)
	edgeTS, edgeSig := signedAt(-5 * time.Minute)

	tests := []struct {
		name       string
		ts, sig    string
		wantStatus int
		wantErr    string
	}{
		{"good", goodTS, goodSig, http.StatusAccepted, ""},
		{"upper-case hex", goodTS, "v1=" + strings.ToUpper(strings.TrimPrefix(goodSig, "v1=")), http.StatusAccepted, ""},
		{"rotation: one of several values matches", goodTS, otherSecretSig + ", " + goodSig, http.StatusAccepted, ""},
		{"unknown scheme ignored beside v1", goodTS, "v0=abcd," + goodSig, http.StatusAccepted, ""},
		{"exactly 5 minutes old", edgeTS, edgeSig, http.StatusAccepted, ""},
		{"missing signature", goodTS, "", http.StatusUnauthorized, "missing X-Proliferate-Signature"},
		{"missing timestamp", "", goodSig, http.StatusUnauthorized, "missing X-Proliferate-Timestamp"},
		{"wrong secret", goodTS, otherSecretSig, http.StatusUnauthorized, "X-Proliferate-Signature: no valid v1 signature"},
		{"signature of another body", goodTS, otherBodySig, http.StatusUnauthorized, "no valid v1 signature"},
		{"signature without scheme", goodTS, strings.TrimPrefix(goodSig, "v1="), http.StatusUnauthorized, "no valid v1 signature"},
		{"signature not hex", goodTS, "v1=zzzz", http.StatusUnauthorized, "no valid v1 signature"},
		{"truncated signature", goodTS, goodSig[:len(goodSig)-2], http.StatusUnauthorized, "no valid v1 signature"},
		{"other scheme only", goodTS, "v2=" + strings.TrimPrefix(goodSig, "v1="), http.StatusUnauthorized, "no valid v1 signature"},
		{"timestamp changed after signing", unix(time.Second), goodSig, http.StatusUnauthorized, "no valid v1 signature"},
		{"too old", oldTS, oldSig, http.StatusUnauthorized, "X-Proliferate-Timestamp: more than 5 minutes"},
		{"too far in the future", futTS, futSig, http.StatusUnauthorized, "X-Proliferate-Timestamp: more than 5 minutes"},
		{"timestamp in milliseconds", strconv.FormatInt(testNow.UnixMilli(), 10), goodSig, http.StatusUnauthorized, "X-Proliferate-Timestamp: "},
		{"timestamp not a number", "yesterday", goodSig, http.StatusUnauthorized, "X-Proliferate-Timestamp: must be Unix seconds"},
		{"negative timestamp", "-" + goodTS, goodSig, http.StatusUnauthorized, "X-Proliferate-Timestamp: must be Unix seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := defaultHarness(t)
			headers := map[string]string{}
			if tt.ts != "" {
				headers[TimestampHeader] = tt.ts
			}
			if tt.sig != "" {
				headers[SignatureHeader] = tt.sig
			}
			resp := h.do(t, http.MethodPost, "/api/v1/alerts", body, headers)
			if resp.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %v)", resp.status, tt.wantStatus, resp.body)
			}
			calls := len(h.acc.Calls())
			if tt.wantStatus != http.StatusAccepted {
				if calls != 0 {
					t.Errorf("Accept called %d times for a rejected request", calls)
				}
				if msg, _ := resp.body["error"].(string); !strings.Contains(msg, tt.wantErr) {
					t.Errorf("error = %q, want it to contain %q", msg, tt.wantErr)
				}
				if logs := h.logs.String(); strings.Contains(logs, strings.TrimPrefix(goodSig, "v1=")) || strings.Contains(logs, testSecret) {
					t.Errorf("logs contain a signature or the secret:\n%s", logs)
				}
				return
			}
			if calls != 1 {
				t.Errorf("Accept called %d times, want 1", calls)
			}
		})
	}
}

func TestAlertRefusedWithoutSecret(t *testing.T) {
	t.Parallel()
	// An empty HMAC key would let anyone sign; the endpoint must refuse.
	h := newHarness(t, Config{DefaultChannel: "C0DEFAULT"}, Deps{})
	body := mustJSON(t, validPayload())
	ts, sig := SignAlert("", testNow, body)
	resp := h.do(t, http.MethodPost, "/api/v1/alerts", body, map[string]string{TimestampHeader: ts, SignatureHeader: sig})
	if resp.status != http.StatusServiceUnavailable || len(h.acc.Calls()) != 0 {
		t.Fatalf("status = %d, Accept calls = %d; want 503 and none", resp.status, len(h.acc.Calls()))
	}
}

// TestAlertSignaturesOneAfterAnother: the keyed MACs are reused across
// requests, so each request's check must start from the key alone,
// whatever the one before it hashed (good or bad, another body, another
// timestamp), on several connections at once.
func TestAlertSignaturesOneAfterAnother(t *testing.T) {
	t.Parallel()
	h := defaultHarness(t)
	body := mustJSON(t, validPayload())
	other := mustJSON(t, map[string]any{"issue_id": "other", "url": "https://x/e/2", "trigger": "spike"})
	goodTS, goodSig := SignAlert(testSecret, testNow, body)
	laterTS, laterSig := SignAlert(testSecret, testNow.Add(time.Minute), other)
	_, wrongSig := SignAlert("another-secret-0123456", testNow, body)
	steps := []struct {
		body    []byte
		ts, sig string
		want    int
	}{
		{body, goodTS, goodSig, http.StatusAccepted},
		{body, goodTS, wrongSig, http.StatusUnauthorized},
		{other, laterTS, laterSig, http.StatusAccepted},
		{other, goodTS, laterSig, http.StatusUnauthorized},
		{body, goodTS, goodSig, http.StatusAccepted},
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				for i, s := range steps {
					resp := h.do(t, http.MethodPost, "/api/v1/alerts", s.body,
						map[string]string{TimestampHeader: s.ts, SignatureHeader: s.sig})
					if resp.status != s.want {
						t.Errorf("step %d: status %d, want %d (%v)", i, resp.status, s.want, resp.body)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if n := len(h.acc.Calls()); n != 4*5*3 {
		t.Errorf("Accept called %d times, want %d", n, 4*5*3)
	}
}
