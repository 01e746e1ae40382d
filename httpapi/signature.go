package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
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
	m.Write([]byte("v1:" + timestamp + ":"))
	m.Write(body)
	return m.Sum(nil)
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
func checkSignature(secret []byte, header, timestamp string, body []byte) error {
	if header == "" {
		return &authError{"missing " + SignatureHeader + " header"}
	}
	want := mac(secret, timestamp, body)
	found := false
	for part := range strings.SplitSeq(header, ",") {
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(part), signatureScheme)
		if !ok {
			continue
		}
		got, err := hex.DecodeString(hexSig)
		if err != nil {
			continue
		}
		// Keep looking after a match so the time taken does not say which
		// value matched.
		if hmac.Equal(got, want) {
			found = true
		}
	}
	if !found {
		return &authError{SignatureHeader + ": no valid v1 signature for this body and timestamp"}
	}
	return nil
}

var errNoSecret = errors.New("webhook secret not configured")
