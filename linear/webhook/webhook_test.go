package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	secret = []byte("lin_wh_test_8f3a1c")
	// sent is the webhookTimestamp of every fixture in testdata.
	sent = time.UnixMilli(1767225600000)
)

const delivery = "c0ffee00-1234-4abc-8def-000000000001"

func verifierAt(now time.Time) Verifier {
	return Verifier{Secret: secret, Now: func() time.Time { return now }}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// body builds a minimal delivery sent at ts.
func body(typ string, ts time.Time, extra string) []byte {
	return fmt.Appendf(nil, `{"action":"create","type":%q,"organizationId":"org-1","webhookTimestamp":%d%s}`, typ, ts.UnixMilli(), extra)
}

func TestVerify(t *testing.T) {
	good := fixture(t, "issue_update_state.json")
	signed := SignedHeader(secret, good, delivery, "Issue")
	with := func(name, value string) http.Header {
		h := signed.Clone()
		if value == "" {
			h.Del(name)
		} else {
			h.Set(name, value)
		}
		return h
	}
	tampered := bytes.Replace(good, []byte(`"Done"`), []byte(`"Todo"`), 1)
	sig := signed.Get(SignatureHeader)

	tests := []struct {
		name    string
		v       Verifier
		header  http.Header
		body    []byte
		wantErr error // nil: must verify.
	}{
		{"good signature", verifierAt(sent), signed, good, nil},
		{"upper-case hex", verifierAt(sent), with(SignatureHeader, strings.ToUpper(sig)), good, nil},
		{"signature with spaces", verifierAt(sent), with(SignatureHeader, " "+sig+" "), good, nil},
		{"59s late", verifierAt(sent.Add(59 * time.Second)), signed, good, nil},
		{"59s early", verifierAt(sent.Add(-59 * time.Second)), signed, good, nil},
		{"exactly 60s late", verifierAt(sent.Add(60 * time.Second)), signed, good, nil},
		{"wrong secret", Verifier{Secret: []byte("other"), Now: verifierAt(sent).Now}, signed, good, ErrBadSignature},
		{"tampered body", verifierAt(sent), signed, tampered, ErrBadSignature},
		{"body with trailing newline", verifierAt(sent), signed, append(bytes.Clone(good), '\n'), ErrBadSignature},
		{"missing header", verifierAt(sent), with(SignatureHeader, ""), good, ErrBadSignature},
		{"non-hex header", verifierAt(sent), with(SignatureHeader, strings.Repeat("zz", 32)), good, ErrBadSignature},
		{"short header", verifierAt(sent), with(SignatureHeader, sig[:62]), good, ErrBadSignature},
		{"sha256= prefix", verifierAt(sent), with(SignatureHeader, "sha256="+sig), good, ErrBadSignature},
		{"signature of empty body", verifierAt(sent), with(SignatureHeader, Sign(secret, nil)), good, ErrBadSignature},
		{"61s old", verifierAt(sent.Add(61 * time.Second)), signed, good, ErrStale},
		{"an hour old", verifierAt(sent.Add(time.Hour)), signed, good, ErrStale},
		{"61s in the future", verifierAt(sent.Add(-61 * time.Second)), signed, good, ErrStale},
		{"custom skew", Verifier{Secret: secret, Now: verifierAt(sent.Add(5 * time.Minute)).Now, MaxSkew: 10 * time.Minute}, signed, good, nil},
		{"no secret", Verifier{Now: verifierAt(sent).Now}, signed, good, ErrNoSecret},
		{"too large", verifierAt(sent), signed, make([]byte, MaxBody+1), ErrMalformed},
		{"bad delivery id", verifierAt(sent), with(DeliveryHeader, "a b"), good, ErrMalformed},
		{"long delivery id", verifierAt(sent), with(DeliveryHeader, strings.Repeat("d", 129)), good, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := tt.v.Verify(tt.header, tt.body)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if ev.Issue == nil || ev.Issue.Identifier != "ENG-123" {
					t.Errorf("verified event lost its issue: %+v", ev.Issue)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(Event{}, ev, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Verify returned an event with its error:\n%s", diff)
			}
			if strings.Contains(err.Error(), string(secret)) || strings.Contains(err.Error(), "Done") {
				t.Errorf("error text leaks the secret or the body: %v", err)
			}
		})
	}
}

func TestVerifyMalformedBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"empty", ``},
		{"not json", `hello`},
		{"array", `[{"type":"Issue"}]`},
		{"truncated", `{"type":"Issue","webhookTimestamp":1767225600000`},
		{"no type", `{"action":"create","webhookTimestamp":1767225600000}`},
		{"type not a string", `{"type":1,"webhookTimestamp":1767225600000}`},
		{"missing timestamp", `{"action":"create","type":"Comment"}`},
		{"null timestamp", `{"type":"Comment","webhookTimestamp":null}`},
		{"timestamp not a number", `{"type":"Comment","webhookTimestamp":"soon"}`},
		{"timestamp negative", `{"type":"Comment","webhookTimestamp":-1}`},
		{"timestamp huge", `{"type":"Comment","webhookTimestamp":1e300}`},
		{"updatedFrom not an object", `{"type":"Issue","action":"update","webhookTimestamp":1767225600000,"data":{"id":"i"},"updatedFrom":[1]}`},
		{"issue without data", `{"type":"Issue","action":"update","webhookTimestamp":1767225600000}`},
		{"issue with null data", `{"type":"Issue","action":"update","webhookTimestamp":1767225600000,"data":null}`},
		{"issue data not an object", `{"type":"Issue","action":"update","webhookTimestamp":1767225600000,"data":"x"}`},
		{"issue without id", `{"type":"Issue","action":"update","webhookTimestamp":1767225600000,"data":{"identifier":"ENG-1"}}`},
		{"issue state of wrong type", `{"type":"Issue","action":"update","webhookTimestamp":1767225600000,"data":{"id":"i","state":"Done"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.body)
			_, err := verifierAt(sent).Verify(SignedHeader(secret, b, delivery, ""), b)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify(%s) error = %v, want ErrMalformed", tt.body, err)
			}
		})
	}
}

func TestDeliveryIDFallsBackToSignature(t *testing.T) {
	b := body("Comment", sent, `,"data":{"id":"c"}`)
	h := SignedHeader(secret, b, "", "")
	ev, err := verifierAt(sent).Verify(h, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sig:" + Sign(secret, b); ev.DeliveryID != want {
		t.Errorf("DeliveryID = %q, want %q", ev.DeliveryID, want)
	}
}

func TestVerifierHidesSecret(t *testing.T) {
	v := Verifier{Secret: secret}
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v)} {
		if strings.Contains(s, string(secret)) || strings.Contains(s, fmt.Sprint(secret)) {
			t.Errorf("formatted verifier shows the secret: %s", s)
		}
	}
}

func TestSignedHeader(t *testing.T) {
	b := []byte(`{}`)
	got := SignedHeader(secret, b, "d-1", "Issue")
	want := http.Header{
		"Content-Type":     {"application/json; charset=utf-8"},
		"Linear-Signature": {Sign(secret, b)},
		"Linear-Delivery":  {"d-1"},
		"Linear-Event":     {"Issue"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SignedHeader mismatch (-want +got):\n%s", diff)
	}
	// A known vector, so Sign cannot drift from HMAC-SHA256/hex unnoticed:
	// printf '{}' | openssl dgst -sha256 -hmac lin_wh_test_8f3a1c
	if got, want := Sign(secret, b), "52002dbc49e8a82713e3a17b8ff2762b9c794413eec36b711493ebc1c7c5a935"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
