package webhook

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestParseRoundTrip replays every fixture the way the HTTP layer does
// after a crash: verified when it arrived, stored, and parsed again a day
// later, when Verify would call it stale. Parse reads back the very Event
// Verify returned, bar the delivery id, which is a header.
func TestParseRoundTrip(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".json" {
			continue
		}
		n++
		t.Run(strings.TrimSuffix(e.Name(), ".json"), func(t *testing.T) {
			b := fixture(t, e.Name())
			want, err := verifierAt(sent).Verify(SignedHeader(secret, b, delivery, ""), b)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			stored := bytes.Clone(b)
			if _, err := verifierAt(sent.Add(24*time.Hour)).Verify(SignedHeader(secret, stored, delivery, ""), stored); !errors.Is(err, ErrStale) {
				t.Fatalf("a day later Verify = %v, want ErrStale (the case Parse exists for)", err)
			}
			got, err := Parse(stored)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.DeliveryID != "" {
				t.Errorf("Parse set DeliveryID %q; the id is not in the body", got.DeliveryID)
			}
			want.DeliveryID = ""
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse differs from Verify (-verify +parse):\n%s", diff)
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d fixtures found", n)
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"not an object", []byte(`["Issue"]`)},
		{"not JSON", []byte(`{"type":`)},
		{"no type", body("", sent, "")},
		{"no timestamp", []byte(`{"type":"Issue","data":{"id":"i"}}`)},
		{"timestamp not a number", []byte(`{"type":"Comment","webhookTimestamp":"soon"}`)},
		{"issue without data", body(TypeIssue, sent, "")},
		{"issue without id", body(TypeIssue, sent, `,"data":{"title":"x"}`)},
		{"updatedFrom not an object", body("Comment", sent, `,"updatedFrom":[1]`)},
		{"larger than MaxBody", body("Comment", sent, `,"pad":"`+strings.Repeat("x", MaxBody)+`"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse(tt.body)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %+v, %v; want ErrMalformed", ev.Type, err)
			}
		})
	}
}

// TestParseSkipsSignatureAndTime: what Parse leaves out is exactly what a
// replay lacks.
func TestParseSkipsSignatureAndTime(t *testing.T) {
	b := body("Comment", sent.Add(-365*24*time.Hour), "")
	ev, err := Parse(b)
	if err != nil {
		t.Fatalf("a year-old unsigned body: %v", err)
	}
	if !ev.WebhookTimestamp.Equal(sent.Add(-365 * 24 * time.Hour)) {
		t.Errorf("WebhookTimestamp = %v", ev.WebhookTimestamp)
	}
}

// FuzzParse checks that Parse never panics and agrees with Verify: a body
// Parse reads, signed and checked at its own timestamp, verifies to the
// same Event; a body Parse refuses, Verify refuses as malformed; and
// parsing an Event's Raw again gives the same Event. The seed corpus in
// testdata/fuzz/FuzzParse holds a stored Issue delivery.
func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".json" {
			b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`{"type":"Issue","webhookTimestamp":1,"data":{"id":"i"},"updatedFrom":null}`))
	f.Add([]byte(` {"type":"OAuthApp","action":"revoked","webhookTimestamp":1.5e12} `))
	f.Add([]byte(`{"type":"Issue","webhookTimestamp":"253402300799999","data":{"id":"\u0000"}}`))

	f.Fuzz(func(t *testing.T, b []byte) {
		ev, perr := Parse(b)
		at := time.UnixMilli(1767225600000)
		if perr == nil {
			at = ev.WebhookTimestamp
		}
		vev, verr := verifierAt(at).Verify(SignedHeader(secret, b, delivery, ""), b)
		if perr != nil {
			if !errors.Is(perr, ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", perr)
			}
			if !errors.Is(verr, ErrMalformed) {
				t.Fatalf("Parse refused %q (%v) but Verify said %v", b, perr, verr)
			}
			return
		}
		if verr != nil {
			t.Fatalf("Parse read %q but Verify refused it: %v", b, verr)
		}
		vev.DeliveryID = ""
		if diff := cmp.Diff(vev, ev); diff != "" {
			t.Fatalf("Parse and Verify differ on %q (-verify +parse):\n%s", b, diff)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(%q) again: %v", b, err)
		}
		if diff := cmp.Diff(ev, again); diff != "" {
			t.Fatalf("parsing the same body again differs (-first +again):\n%s", diff)
		}
	})
}
