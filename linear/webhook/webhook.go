// Package webhook verifies and reads Linear webhook deliveries
// (https://linear.app/developers/webhooks). It does no I/O and holds no
// state: the HTTP layer reads the request, calls Verifier.Verify with the
// raw body, and acts on the Event.
//
// How an HTTP handler should use it:
//
//  1. Read at most MaxBody bytes: r.Body = http.MaxBytesReader(w, r.Body,
//     MaxBody), then io.ReadAll. Do not decode the JSON first: the
//     signature covers the exact bytes Linear sent.
//  2. ev, err := verifier.Verify(r.Header, body). On ErrBadSignature answer
//     401; on ErrStale or ErrMalformed answer 400. Never log the body or the
//     secret; the error text carries neither.
//  3. Check ev.OrganizationID is the connected workspace; ignore others.
//  4. Dedupe on ev.DeliveryID (a unique constraint in the store) and store
//     the work the delivery calls for in the same transaction, then answer
//     200 at once and do the work afterwards: Linear waits 5 s for the 200
//     and otherwise retries the delivery, and never resends a delivery it
//     got a 200 for, so the work must survive the process.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Header names Linear sets on every delivery.
const (
	// SignatureHeader carries the hex HMAC-SHA256 of the raw body, keyed
	// with the webhook's signing secret.
	SignatureHeader = "Linear-Signature"
	// DeliveryHeader carries an id unique to the delivery; retries of a
	// delivery repeat it.
	DeliveryHeader = "Linear-Delivery"
	// EventHeader names the entity type ("Issue", "OAuthApp", …). It is not
	// signed, so Verify reads the type from the signed body instead.
	EventHeader = "Linear-Event"
)

// MaxBody is the largest body Verify accepts. An Issue delivery carries
// the whole issue, description included; 1 MiB leaves ample room while
// bounding what an unauthenticated sender can make the server hash.
const MaxBody = 1 << 20

// DefaultMaxSkew is how far webhookTimestamp may be from now. Linear's
// guidance (and its SDK's verifier) reject deliveries more than a minute
// off, which bounds how long a captured delivery can be replayed.
const DefaultMaxSkew = 60 * time.Second

// maxDeliveryIDLen bounds Linear-Delivery (a UUID in practice) before it
// is stored as a dedupe key.
const maxDeliveryIDLen = 128

// Errors Verify returns, wrapped with detail; match them with errors.Is.
var (
	// ErrBadSignature: the Linear-Signature header is missing, is not a hex
	// SHA-256 MAC, or does not match the body.
	ErrBadSignature = errors.New("webhook: bad signature")
	// ErrStale: webhookTimestamp is further than MaxSkew from now, in the
	// past (a replay or a slow retry) or in the future.
	ErrStale = errors.New("webhook: timestamp out of range")
	// ErrMalformed: the body is too large, is not the JSON Linear sends, or
	// lacks a required field.
	ErrMalformed = errors.New("webhook: malformed delivery")
	// ErrNoSecret: the Verifier has no signing secret (a configuration
	// error); nothing can verify.
	ErrNoSecret = errors.New("webhook: no signing secret configured")
)

// Verifier checks deliveries of one Linear webhook. The zero MaxSkew means
// DefaultMaxSkew and a nil Now means time.Now. A Verifier is a value with
// no mutable state; it is safe for concurrent use.
type Verifier struct {
	// Secret is the webhook's signing secret, as shown by Linear.
	Secret []byte
	// Now tells the time; tests set it.
	Now func() time.Time
	// MaxSkew bounds |now - webhookTimestamp|.
	MaxSkew time.Duration
}

// Verify authenticates a delivery and reads it. It checks, in this order:
// the body's size, the signature over the raw body (compared in constant
// time, before any JSON is decoded), the JSON shape, and the timestamp. The
// returned Event is valid only when err is nil.
func (v Verifier) Verify(header http.Header, body []byte) (Event, error) {
	if len(v.Secret) == 0 {
		return Event{}, ErrNoSecret
	}
	if len(body) > MaxBody {
		return Event{}, fmt.Errorf("body of %d bytes exceeds %d: %w", len(body), MaxBody, ErrMalformed)
	}
	if err := v.checkSignature(header.Get(SignatureHeader), body); err != nil {
		return Event{}, err
	}
	// The size was checked above, before hashing; Parse checks it again
	// for its own callers.
	ev, err := Parse(body)
	if err != nil {
		return Event{}, err
	}
	if err := v.checkTime(ev.WebhookTimestamp); err != nil {
		return Event{}, err
	}
	ev.DeliveryID, err = deliveryID(header.Get(DeliveryHeader), header.Get(SignatureHeader))
	if err != nil {
		return Event{}, err
	}
	return ev, nil
}

func (v Verifier) checkSignature(sig string, body []byte) error {
	sig = strings.TrimSpace(sig)
	if sig == "" {
		return fmt.Errorf("missing %s header: %w", SignatureHeader, ErrBadSignature)
	}
	if len(sig) != 2*sha256.Size {
		return fmt.Errorf("%s is not a hex SHA-256 MAC: %w", SignatureHeader, ErrBadSignature)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%s is not hex: %w", SignatureHeader, ErrBadSignature)
	}
	if !hmac.Equal(got, mac(v.Secret, body)) {
		return fmt.Errorf("%s does not match the body: %w", SignatureHeader, ErrBadSignature)
	}
	return nil
}

func (v Verifier) checkTime(ts time.Time) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	// Parse bounds ts to a few centuries, so the difference cannot overflow.
	d := now().Sub(ts)
	if d > skew || d < -skew {
		return fmt.Errorf("webhookTimestamp is %s from now, more than %s: %w", d.Round(time.Millisecond), skew, ErrStale)
	}
	return nil
}

// deliveryID validates Linear-Delivery. Linear always sends it; when a
// sender does not, the signature stands in, so that a replay of the exact
// same body still dedupes.
func deliveryID(id, sig string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "sig:" + strings.ToLower(strings.TrimSpace(sig)), nil
	}
	if len(id) > maxDeliveryIDLen {
		return "", fmt.Errorf("%s longer than %d bytes: %w", DeliveryHeader, maxDeliveryIDLen, ErrMalformed)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return "", fmt.Errorf("%s has a non-printable byte: %w", DeliveryHeader, ErrMalformed)
		}
	}
	return id, nil
}

func mac(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns what Linear puts in Linear-Signature for body: the
// lower-case hex HMAC-SHA256 of the raw bytes keyed with secret. Tests, the
// demo and the fake Linear use it to send deliveries Verify accepts.
func Sign(secret []byte, body []byte) string {
	return hex.EncodeToString(mac(secret, body))
}

// SignedHeader builds the headers of a delivery as Linear sends them:
// Content-Type, Linear-Signature, Linear-Delivery and Linear-Event
// (omitted when empty), for fakes and tests.
func SignedHeader(secret, body []byte, deliveryID, eventType string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set(SignatureHeader, Sign(secret, body))
	if deliveryID != "" {
		h.Set(DeliveryHeader, deliveryID)
	}
	if eventType != "" {
		h.Set(EventHeader, eventType)
	}
	return h
}

// String keeps the secret out of %v and %+v.
func (v Verifier) String() string {
	return fmt.Sprintf("webhook.Verifier{Secret: [redacted], MaxSkew: %s}", v.MaxSkew)
}

// GoString keeps the secret out of %#v.
func (v Verifier) GoString() string { return v.String() }
