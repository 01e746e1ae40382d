package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/linear/webhook"
)

// BenchmarkPostAlert measures the handler alone (signature check, JSON
// decode, validation, mapping) with an in-memory accepter.
func BenchmarkPostAlert(b *testing.B) {
	h := New(Config{WebhookSecret: testSecret, DefaultChannel: "C0DEFAULT", Now: func() time.Time { return testNow }},
		Deps{Alerts: &fakeAccepter{}})
	p := validPayload()
	body := mustJSON(b, p)
	ts, sig := SignAlert(testSecret, testNow, body)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/alerts", bytes.NewReader(body))
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkLinearWebhook measures POST /webhooks/linear up to the 200:
// body read, HMAC, JSON and the hand-off to the core (an in-memory fake
// here; the store's side is store's BenchmarkRecordDelivery). Every
// delivery has its own id.
func BenchmarkLinearWebhook(b *testing.B) {
	h := NewHandler(Config{LinearWebhookSecret: linearSecret, Now: func() time.Time { return testNow }},
		Deps{Deliveries: &fakeDeliveries{}})
	body := issueDelivery(b, issueUUID, "completed", testNow, nil)
	hdr := webhook.SignedHeader([]byte(linearSecret), body, "", "Issue")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		req := httptest.NewRequest(http.MethodPost, "/webhooks/linear", bytes.NewReader(body))
		req.Header = hdr.Clone()
		req.Header.Set(webhook.DeliveryHeader, strconv.Itoa(n))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusServiceUnavailable {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
