package secret

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
)

// Keyring seals with its current key and opens with any of its keys. It is
// immutable after NewKeyring and safe for concurrent use.
type Keyring struct {
	current int
	aeads   map[int]cipher.AEAD
}

// NewKeyring builds a keyring from the current key and the previous keys
// still needed to open values sealed before a rotation. Versions must be
// distinct: two keys with one version would make a sealed value ambiguous.
func NewKeyring(current Key, previous ...Key) (*Keyring, error) {
	kr := &Keyring{current: current.Version, aeads: make(map[int]cipher.AEAD, 1+len(previous))}
	for _, k := range append([]Key{current}, previous...) {
		if err := checkVersion(k.Version); err != nil {
			return nil, err
		}
		if _, dup := kr.aeads[k.Version]; dup {
			return nil, fmt.Errorf("%w: two keys have version %d", ErrInvalidKey, k.Version)
		}
		aead, err := newAEAD(k)
		if err != nil {
			return nil, err
		}
		kr.aeads[k.Version] = aead
	}
	return kr, nil
}

// CurrentVersion is the version of the key that seals.
func (kr *Keyring) CurrentVersion() int { return kr.current }

// Encrypt seals plaintext with the current key and a fresh random 96-bit
// nonce. aad (additional authenticated data, may be nil) is not stored but
// must be given again to Decrypt; bind the value to where it lives (e.g.
// "linear_token:<workspace id>") so a sealed value copied to another row
// does not open.
func (kr *Keyring) Encrypt(plaintext, aad []byte) (string, error) {
	aead := kr.aeads[kr.current]
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("secret: read nonce: %w", err)
	}
	buf = aead.Seal(buf, buf[:aead.NonceSize()], plaintext, aad)
	return "v" + strconv.Itoa(kr.current) + ":" + base64.StdEncoding.EncodeToString(buf), nil
}

// Decrypt opens a value sealed by Encrypt with any key of the keyring,
// chosen by the value's version prefix. aad must be the one given to
// Encrypt. Errors wrap ErrMalformed, ErrUnknownVersion or ErrAuthentication.
func (kr *Keyring) Decrypt(sealed string, aad []byte) ([]byte, error) {
	version, b64, ok := cutVersion(sealed)
	if !ok {
		return nil, ErrMalformed
	}
	aead, ok := kr.aeads[version]
	if !ok {
		return nil, fmt.Errorf("%w: v%d", ErrUnknownVersion, version)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64", ErrMalformed)
	}
	if len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrMalformed)
	}
	nonce, ct := raw[:aead.NonceSize()], raw[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, ErrAuthentication
	}
	return plain, nil
}

// NeedsRotation reports whether sealed was sealed with a key other than the
// current one, so the caller should decrypt and encrypt it again. A value
// that is not a sealed value at all reports false: Decrypt will say why.
func (kr *Keyring) NeedsRotation(sealed string) bool {
	version, _, ok := cutVersion(sealed)
	return ok && version != kr.current
}

// Reseal opens sealed and, when it was sealed with an older key, seals it
// again with the current key. changed says whether the caller should store
// the result.
func (kr *Keyring) Reseal(sealed string, aad []byte) (resealed string, changed bool, err error) {
	if !kr.NeedsRotation(sealed) {
		if _, err := kr.Decrypt(sealed, aad); err != nil {
			return "", false, err
		}
		return sealed, false, nil
	}
	plain, err := kr.Decrypt(sealed, aad)
	if err != nil {
		return "", false, err
	}
	defer clear(plain)
	out, err := kr.Encrypt(plain, aad)
	if err != nil {
		return "", false, err
	}
	return out, true, nil
}
