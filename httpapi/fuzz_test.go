package httpapi

import (
	"strings"
	"testing"
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
