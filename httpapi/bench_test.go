package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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
