// Package secret encrypts small secrets (OAuth tokens, API keys) for storage
// at rest with AES-256-GCM.
//
// A sealed value is text: "v<version>:" followed by the standard base64 of
// nonce|ciphertext|tag. The version names the key that sealed it, so keys can
// be rotated: a Keyring holds the current key, which seals, and any number of
// previous keys, which only open. NeedsRotation tells a caller which stored
// values to re-seal.
//
// Errors from this package never contain key or plaintext material.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// MaxVersion is the largest key version. Versions are small so that the
// prefix stays short; 255 rotations is plenty for a single installation.
const MaxVersion = 255

// Sentinel errors; check them with errors.Is.
var (
	// ErrMalformed: the sealed text is not "v<version>:<base64>" or is too
	// short to hold a nonce and a tag.
	ErrMalformed = errors.New("secret: malformed sealed value")
	// ErrUnknownVersion: no key in the keyring has the sealed value's version
	// (it was sealed with a key since retired, or with another keyring).
	ErrUnknownVersion = errors.New("secret: unknown key version")
	// ErrAuthentication: the ciphertext, nonce or additional data do not
	// match; the value was tampered with, or the aad is not the one it was
	// sealed with.
	ErrAuthentication = errors.New("secret: message authentication failed")
	// ErrInvalidKey: a key is not usable (wrong length, bad version, bad
	// encoding).
	ErrInvalidKey = errors.New("secret: invalid key")
)

// Key is one AES-256 key and the version that names it in sealed values.
// Its String and GoString never print the key bytes, so logging a Key by
// mistake leaks nothing.
type Key struct {
	Version int
	Bytes   [KeySize]byte
}

// String names the key without revealing it.
func (k Key) String() string { return "v" + strconv.Itoa(k.Version) + ":[redacted]" }

// GoString keeps %#v from printing the key bytes.
func (k Key) GoString() string {
	return "secret.Key{Version: " + strconv.Itoa(k.Version) + ", Bytes: [redacted]}"
}

// LogValue keeps slog (whose JSON handler would marshal the byte array)
// from printing the key bytes.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON keeps encoding/json from printing the key bytes.
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// Encode is the key's text form as ParseKey reads it: "v<version>:<base64>",
// or the bare base64 for version 1 (the form ENCRYPTION_KEY documents).
func (k Key) Encode() string {
	b64 := base64.StdEncoding.EncodeToString(k.Bytes[:])
	if k.Version == 1 {
		return b64
	}
	return "v" + strconv.Itoa(k.Version) + ":" + b64
}

// GenerateKey returns a fresh random key with the given version, read from
// crypto/rand.
func GenerateKey(version int) (Key, error) {
	if err := checkVersion(version); err != nil {
		return Key{}, err
	}
	k := Key{Version: version}
	if _, err := rand.Read(k.Bytes[:]); err != nil {
		return Key{}, fmt.Errorf("secret: read random key: %w", err)
	}
	return k, nil
}

// ParseKey reads a key from its text form: the standard (or URL-safe)
// base64 of exactly 32 bytes, which is version 1, or "v<version>:<base64>"
// for a later version. Surrounding white space is ignored. Typical use:
// `openssl rand -base64 32`.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	version := 1
	if v, rest, ok := cutVersion(s); ok {
		version, s = v, rest
	} else if strings.Contains(s, ":") {
		return Key{}, fmt.Errorf("%w: want base64 or v<version>:<base64>", ErrInvalidKey)
	}
	if err := checkVersion(version); err != nil {
		return Key{}, err
	}
	raw, err := decodeKeyBase64(s)
	if err != nil {
		// The decoder's message can quote a byte of the input; keep it out.
		return Key{}, fmt.Errorf("%w: not valid base64", ErrInvalidKey)
	}
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("%w: decodes to %d bytes, want %d", ErrInvalidKey, len(raw), KeySize)
	}
	k := Key{Version: version}
	copy(k.Bytes[:], raw)
	clear(raw)
	return k, nil
}

func decodeKeyBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			return raw, nil
		}
	}
	return nil, errors.New("not base64")
}

func checkVersion(v int) error {
	if v < 1 || v > MaxVersion {
		return fmt.Errorf("%w: version %d outside 1..%d", ErrInvalidKey, v, MaxVersion)
	}
	return nil
}

// cutVersion splits "v<digits>:<rest>". ok is false when s has no such
// prefix.
func cutVersion(s string) (version int, rest string, ok bool) {
	head, rest, found := strings.Cut(s, ":")
	if !found || len(head) < 2 || len(head) > 4 || head[0] != 'v' {
		return 0, "", false
	}
	digits := head[1:]
	if digits[0] < '1' || digits[0] > '9' { // no sign, no leading zero: one spelling per version.
		return 0, "", false
	}
	v, err := strconv.Atoi(digits)
	if err != nil {
		return 0, "", false
	}
	return v, rest, true
}

// newAEAD builds the AES-256-GCM cipher of a key. GCM's standard 96-bit
// nonce is used: with random nonces NIST SP 800-38D bounds one key to 2^32
// messages, far beyond the tokens one installation stores.
func newAEAD(k Key) (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.Bytes[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return cipher.NewGCM(block)
}
