package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Headers of a signed alert request.
const (
	TimestampHeader = "X-Proliferate-Timestamp"
	SignatureHeader = "X-Proliferate-Signature"
)

// MaxClockSkew is how far the request timestamp may be from the server's
// clock, either way. It bounds how long a captured request can be replayed.
const MaxClockSkew = 5 * time.Minute

// signatureScheme prefixes each signature; other schemes in the header are
// ignored, so Proliferate can add one without breaking this receiver.
const signatureScheme = "v1="

// SignAlert signs body as Proliferate does: the timestamp header is ts in
// Unix seconds, the signature header is "v1=" + hex(HMAC-SHA256(secret,
// "v1:" + timestamp + ":" + body)). The demo and the tests sign requests
// with it.
func SignAlert(secret string, ts time.Time, body []byte) (timestampHeader, signatureHeader string) {
	timestampHeader = strconv.FormatInt(ts.Unix(), 10)
	return timestampHeader, signatureScheme + hex.EncodeToString(mac([]byte(secret), timestampHeader, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	writeSigned(m, timestamp, body)
	return m.Sum(nil)
}

// writeSigned writes what a signature covers: "v1:" + timestamp + ":" + body.
func writeSigned(m hash.Hash, timestamp string, body []byte) {
	var prefix [32]byte
	m.Write(append(append(append(prefix[:0], "v1:"...), timestamp...), ':'))
	m.Write(body)
}

// macs keeps keyed HMACs of one secret for reuse: keying one costs two
// SHA-256 blocks and a few allocations per request otherwise.
type macs struct {
	secret []byte
	pool   sync.Pool
}

func newMACs(secret []byte) *macs {
	m := &macs{secret: secret}
	m.pool.New = func() any { return hmac.New(sha256.New, m.secret) }
	return m
}

// sum is mac(secret, timestamp, body), into out.
func (m *macs) sum(out *[sha256.Size]byte, timestamp string, body []byte) {
	h := m.pool.Get().(hash.Hash)
	h.Reset()
	writeSigned(h, timestamp, body)
	h.Sum(out[:0])
	m.pool.Put(h)
}

// authError is a reason a request is not authenticated (401). Its message
// names the header; it never contains the secret or a computed MAC.
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

// checkTimestamp reads the timestamp header and rejects a request too far
// from now, before the body is read: a stale request costs nothing more.
func checkTimestamp(header string, now time.Time) (string, error) {
	if header == "" {
		return "", &authError{"missing " + TimestampHeader + " header"}
	}
	if len(header) > 12 || strings.Trim(header, "0123456789") != "" {
		return "", &authError{TimestampHeader + ": must be Unix seconds"}
	}
	secs, err := strconv.ParseInt(header, 10, 64)
	if err != nil {
		return "", &authError{TimestampHeader + ": must be Unix seconds"}
	}
	skew := now.Sub(time.Unix(secs, 0))
	if skew > MaxClockSkew || skew < -MaxClockSkew {
		return "", &authError{TimestampHeader + ": more than 5 minutes from the server's clock (stale or replayed request, or a clock out of sync)"}
	}
	return header, nil
}

// checkSignature accepts the request when any "v1=" value in the header
// (comma separated, so a sender rotating its secret can send one per
// secret) is the MAC of timestamp and body. Comparison is constant time.
func checkSignature(m *macs, header, timestamp string, body []byte) error {
	if header == "" {
		return &authError{"missing " + SignatureHeader + " header"}
	}
	var want, got [sha256.Size]byte
	m.sum(&want, timestamp, body)
	found := false
	for part := range strings.SplitSeq(header, ",") {
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(part), signatureScheme)
		if !ok || hex.DecodedLen(len(hexSig)) != len(got) {
			continue // not v1, or not a SHA-256 MAC's length.
		}
		if _, err := hex.Decode(got[:], []byte(hexSig)); err != nil {
			continue
		}
		// Keep looking after a match so the time taken does not say which
		// value matched.
		if hmac.Equal(got[:], want[:]) {
			found = true
		}
	}
	if !found {
		return &authError{SignatureHeader + ": no valid v1 signature for this body and timestamp"}
	}
	return nil
}

var errNoSecret = errors.New("webhook secret not configured")
