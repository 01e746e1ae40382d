package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzVerify checks three things. Verify never panics on any header and
// body. A body built from the fuzzed fields, stamped with the current time
// and signed with the secret, always verifies and reads back the fields.
// Changing any single byte of that body makes it fail.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"type":"Issue","webhookTimestamp":1767225600000,"data":{"id":"x"}}`), "00", "Issue", "update", "ENG-1", "i", 0, byte(1))
	f.Add([]byte(`{}`), "zz", "OAuthApp", "revoked", "", "", 5, byte(0xff))
	f.Add([]byte(`[`), Sign(secret, []byte(`[`)), "Comment", "", "\u2028<>&\"", "\x00", 1<<20, byte('"'))
	now := time.UnixMilli(1767225600000)
	v := Verifier{Secret: secret, Now: func() time.Time { return now }}

	f.Fuzz(func(t *testing.T, raw []byte, sig, typ, action, title, id string, pos int, flip byte) {
		// 1. Arbitrary input: no panic, and only a matching MAC verifies.
		h := http.Header{}
		h.Set(SignatureHeader, sig)
		if _, err := v.Verify(h, raw); err == nil && !hmacMatches(sig, raw) {
			t.Fatalf("verified %q with a signature that does not match", raw)
		}

		// 2. A genuine delivery always verifies. json.Marshal turns invalid
		// UTF-8 into U+FFFD, so compare against what it will send.
		for _, s := range []*string{&typ, &action, &title, &id} {
			*s = strings.ToValidUTF8(*s, "\uFFFD")
		}
		if typ == "" {
			typ = TypeIssue
		}
		if id == "" {
			id = "2f0e8a8e-5b4c-4d3e-9f1a-0123456789ab"
		}
		body, err := json.Marshal(map[string]any{
			"type": typ, "action": action, "organizationId": "org",
			"webhookTimestamp": now.UnixMilli(),
			"data":             map[string]any{"id": id, "title": title, "identifier": title},
			"updatedFrom":      map[string]any{"stateId": title},
		})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := v.Verify(SignedHeader(secret, body, "d", typ), body)
		if err != nil {
			t.Fatalf("genuine delivery %s refused: %v", body, err)
		}
		if ev.Type != typ || ev.Action != action || !ev.WebhookTimestamp.Equal(now) {
			t.Fatalf("genuine delivery %s read back as %+v", body, ev)
		}
		if typ == TypeIssue && (ev.Issue == nil || ev.Issue.ID != id || ev.Issue.Title != title) {
			t.Fatalf("issue read back as %+v", ev.Issue)
		}

		// 3. Any single-byte change breaks it.
		if pos < 0 {
			pos = -(pos + 1)
		}
		pos %= len(body)
		if flip == 0 {
			flip = 1
		}
		bad := bytes.Clone(body)
		bad[pos] ^= flip
		if _, err := v.Verify(SignedHeader(secret, body, "d", typ), bad); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("body changed at byte %d verified or failed otherwise: %v", pos, err)
		}
	})
}

// hmacMatches is the reference check, written apart from Verify.
func hmacMatches(sig string, body []byte) bool {
	sig = strings.TrimSpace(sig)
	return len(sig) == 64 && strings.EqualFold(sig, Sign(secret, body))
}

func BenchmarkVerify(b *testing.B) {
	now := time.UnixMilli(1767225600000)
	v := Verifier{Secret: secret, Now: func() time.Time { return now }}
	for _, size := range []int{0, 64 << 10, MaxBody - 1024} {
		pad := strings.Repeat("x", size)
		body := []byte(`{"type":"Issue","action":"update","webhookTimestamp":1767225600000,"data":{"id":"i","description":"` + pad + `"}}`)
		h := SignedHeader(secret, body, "d", "Issue")
		b.Run(strconv.Itoa(len(body)), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := v.Verify(h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
