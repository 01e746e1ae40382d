package httpapi

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/linear/webhook"
)

// FuzzPayload feeds arbitrary bodies to the decoder and validator: they
// must never panic, and any error must name a field.
func FuzzPayload(f *testing.F) {
	f.Add([]byte(`{"issue_id":"a","url":"https://x/e/1","event_count":3,"exception":{"type":"E"}}`))
	f.Add([]byte(`{"issue_id":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"first_seen":"2025-13-40T99:00:00Z","channel":"C\u0000"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePayload(body)
		if err == nil {
			_, err = p.toAlert("C0DEFAULT")
		}
		if err != nil && !strings.Contains(err.Error(), ": ") {
			t.Fatalf("error %q names no field", err)
		}
	})
}

// FuzzLinearWebhook drives POST /webhooks/linear with arbitrary bodies and
// headers, signed correctly or not. The handler must never panic (a
// recovered panic would answer 500), must answer only 200, 400 or 401, and
// must never store anything unless the signature is valid.
func FuzzLinearWebhook(f *testing.F) {
	issue := issueDelivery(f, issueUUID, "completed", testNow, func(_, d map[string]any) { d["completedAt"] = "2025-03-04T05:00:00Z" })
	f.Add(issue, true, "", "d-1")
	f.Add(issue, false, webhook.Sign([]byte(linearSecret), issue), "d-1")
	f.Add(issue, false, webhook.Sign([]byte("wrong"), issue), "d-2")
	f.Add(issue, true, "", "")
	f.Add(issueDelivery(f, issueUUID, "started", testNow.Add(-2*time.Minute), nil), true, "", "d-3")
	f.Add(mustJSON(f, map[string]any{"type": "OAuthApp", "action": "revoked", "webhookTimestamp": testNow.UnixMilli(), "organizationId": "o"}), true, "", "d-4")
	f.Add([]byte(`{"type":"Issue","action":"update","webhookTimestamp":1e400,"data":{"id":"x"}}`), true, "", "d-5")
	f.Add([]byte(`{"type":"Issue","action":"update","webhookTimestamp":1741064767000,"data":{"id":"x","state":{"type":"canceled"},"canceledAt":7}}`), true, "", "d-6")
	f.Add([]byte("\x00\xff"), false, "zz", "\x7f")
	f.Fuzz(func(t *testing.T, body []byte, sign bool, sig, delivery string) {
		if len(body) > webhook.MaxBody {
			t.Skip()
		}
		if sign {
			sig = webhook.Sign([]byte(linearSecret), body)
		}
		deliveries := &fakeDeliveries{revocations: true}
		h := NewHandler(Config{LinearWebhookSecret: linearSecret, Now: func() time.Time { return testNow }},
			Deps{Deliveries: deliveries})
		req := httptest.NewRequest(http.MethodPost, "/webhooks/linear", bytes.NewReader(body))
		req.Header.Set(webhook.SignatureHeader, sig)
		req.Header.Set(webhook.DeliveryHeader, delivery)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got, _ := hex.DecodeString(strings.TrimSpace(sig))
		valid := hmac.Equal(got, mustHex(webhook.Sign([]byte(linearSecret), body)))
		applied := len(deliveries.Accepted())
		switch {
		case rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		case !valid && rec.Code != http.StatusUnauthorized:
			t.Fatalf("invalid signature answered %d: %s", rec.Code, rec.Body)
		case !valid && applied != 0:
			t.Fatalf("invalid signature, yet %d deliveries stored", applied)
		case applied > 1:
			t.Fatalf("one delivery stored %d times", applied)
		case applied == 1 && !strings.Contains(rec.Body.String(), `"accepted"`):
			t.Fatalf("stored, but answered %s", rec.Body)
		}
	})
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
