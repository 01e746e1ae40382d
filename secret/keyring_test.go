package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func mustKey(t testing.TB, version int) Key {
	t.Helper()
	k, err := GenerateKey(version)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustKeyring(t testing.TB, current Key, previous ...Key) *Keyring {
	t.Helper()
	kr, err := NewKeyring(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestRoundTrip(t *testing.T) {
	kr := mustKeyring(t, mustKey(t, 3))
	tests := []struct {
		name  string
		plain []byte
		aad   []byte
	}{
		{"token with aad", []byte("lin_oauth_abc123"), []byte("linear_token:ws-1")},
		{"nil aad", []byte("xoxb-1-2-3"), nil},
		{"empty plaintext", []byte{}, []byte("x")},
		{"binary", []byte{0, 1, 2, 255, 254}, []byte{0}},
		{"large", bytes.Repeat([]byte("a"), 1<<16), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := kr.Encrypt(tt.plain, tt.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(sealed, "v3:") {
				t.Errorf("sealed = %.10q…, want prefix v3:", sealed)
			}
			if len(tt.plain) > 4 && strings.Contains(sealed, string(tt.plain)) {
				t.Error("sealed value contains the plaintext")
			}
			got, err := kr.Decrypt(sealed, tt.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.plain) {
				t.Errorf("Decrypt = %q, want %q", got, tt.plain)
			}
		})
	}
}

func TestEncryptUsesFreshNonce(t *testing.T) {
	kr := mustKeyring(t, mustKey(t, 1))
	seen := map[string]bool{}
	for range 100 {
		s, err := kr.Encrypt([]byte("same"), nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "v1:"))
		nonce := string(raw[:12])
		if seen[nonce] {
			t.Fatal("nonce repeated")
		}
		seen[nonce] = true
	}
}

func TestDecryptErrors(t *testing.T) {
	k1 := mustKey(t, 1)
	kr := mustKeyring(t, k1)
	sealed, err := kr.Encrypt([]byte("secret token"), []byte("row-1"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		return "v1:" + base64.StdEncoding.EncodeToString(b)
	}
	tests := []struct {
		name   string
		sealed string
		aad    string
		want   error
	}{
		{"tampered nonce", flip(0), "row-1", ErrAuthentication},
		{"tampered ciphertext", flip(13), "row-1", ErrAuthentication},
		{"tampered tag", flip(len(raw) - 1), "row-1", ErrAuthentication},
		{"truncated", "v1:" + base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), "row-1", ErrAuthentication},
		{"wrong aad", sealed, "row-2", ErrAuthentication},
		{"missing aad", sealed, "", ErrAuthentication},
		{"unknown version", "v2" + strings.TrimPrefix(sealed, "v1"), "row-1", ErrUnknownVersion},
		{"no prefix", strings.TrimPrefix(sealed, "v1:"), "row-1", ErrMalformed},
		{"leading zero version", "v01" + strings.TrimPrefix(sealed, "v1"), "row-1", ErrMalformed},
		{"bad base64", "v1:!!!!", "row-1", ErrMalformed},
		{"too short", "v1:" + base64.StdEncoding.EncodeToString(raw[:27]), "row-1", ErrMalformed},
		{"empty", "", "row-1", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kr.Decrypt(tt.sealed, []byte(tt.aad))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt err = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Errorf("Decrypt returned %q alongside an error", got)
			}
			if strings.Contains(err.Error(), "secret token") {
				t.Errorf("error %q leaks the plaintext", err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := mustKey(t, 1), mustKey(t, 2)
	before := mustKeyring(t, oldKey)
	sealedOld, err := before.Encrypt([]byte("refresh-token"), []byte("ws"))
	if err != nil {
		t.Fatal(err)
	}

	after := mustKeyring(t, newKey, oldKey)
	t.Run("old value still opens", func(t *testing.T) {
		got, err := after.Decrypt(sealedOld, []byte("ws"))
		if err != nil || string(got) != "refresh-token" {
			t.Fatalf("Decrypt = %q, %v", got, err)
		}
	})
	t.Run("needs rotation", func(t *testing.T) {
		sealedNew, _ := after.Encrypt([]byte("x"), nil)
		for _, c := range []struct {
			sealed string
			want   bool
		}{{sealedOld, true}, {sealedNew, false}, {"garbage", false}} {
			if got := after.NeedsRotation(c.sealed); got != c.want {
				t.Errorf("NeedsRotation(%.6q…) = %v, want %v", c.sealed, got, c.want)
			}
		}
	})
	t.Run("reseal", func(t *testing.T) {
		resealed, changed, err := after.Reseal(sealedOld, []byte("ws"))
		if err != nil || !changed || !strings.HasPrefix(resealed, "v2:") {
			t.Fatalf("Reseal = %.6q…, %v, %v", resealed, changed, err)
		}
		again, changed, err := after.Reseal(resealed, []byte("ws"))
		if err != nil || changed || again != resealed {
			t.Fatalf("Reseal of current value = %v, %v, want unchanged", changed, err)
		}
		newOnly := mustKeyring(t, newKey)
		if got, err := newOnly.Decrypt(resealed, []byte("ws")); err != nil || string(got) != "refresh-token" {
			t.Fatalf("after retiring the old key: %q, %v", got, err)
		}
		if _, err := newOnly.Decrypt(sealedOld, []byte("ws")); !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("old value with old key retired: %v, want ErrUnknownVersion", err)
		}
	})
	t.Run("same bytes under another version do not open", func(t *testing.T) {
		// A value's version picks the key; relabelling it must not help.
		relabelled := "v2:" + strings.TrimPrefix(sealedOld, "v1:")
		if _, err := after.Decrypt(relabelled, []byte("ws")); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("err = %v, want ErrAuthentication", err)
		}
	})
}

func TestNewKeyringErrors(t *testing.T) {
	k1 := mustKey(t, 1)
	tests := []struct {
		name     string
		current  Key
		previous []Key
	}{
		{"duplicate version", k1, []Key{{Version: 1}}},
		{"version zero", Key{Version: 0}, nil},
		{"version too large", Key{Version: MaxVersion + 1}, nil},
		{"bad previous version", k1, []Key{{Version: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeyring(tt.current, tt.previous...); !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("err = %v, want ErrInvalidKey", err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	var raw [KeySize]byte
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	std := base64.StdEncoding.EncodeToString(raw[:])
	tests := []struct {
		name        string
		in          string
		wantVersion int
		wantErr     bool
	}{
		{"bare base64 is version 1", std, 1, false},
		{"trailing newline", std + "\n", 1, false},
		{"url-safe", base64.URLEncoding.EncodeToString(raw[:]), 1, false},
		{"unpadded", base64.RawStdEncoding.EncodeToString(raw[:]), 1, false},
		{"versioned", "v7:" + std, 7, false},
		{"16 bytes", base64.StdEncoding.EncodeToString(raw[:16]), 0, true},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(raw[:], 1)), 0, true},
		{"not base64", "not a key at all!", 0, true},
		{"empty", "", 0, true},
		{"version zero", "v0:" + std, 0, true},
		{"version too large", "v256:" + std, 0, true},
		{"bad prefix", "k1:" + std, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("err = %v, want ErrInvalidKey", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Version != tt.wantVersion || k.Bytes != raw {
				t.Fatalf("ParseKey = v%d (bytes equal %v), want v%d", k.Version, k.Bytes == raw, tt.wantVersion)
			}
			back, err := ParseKey(k.Encode())
			if err != nil || back != k {
				t.Fatalf("Encode/ParseKey round trip failed: %v", err)
			}
		})
	}
}

func TestKeyFormattingRedacts(t *testing.T) {
	k := mustKey(t, 4)
	b64 := base64.StdEncoding.EncodeToString(k.Bytes[:])
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		t.Run(verb, func(t *testing.T) {
			out := fmt.Sprintf(verb, k)
			if verb == "%v" {
				var buf bytes.Buffer
				slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "key", k, "ptr", &k)
				js, _ := json.Marshal(struct{ K Key }{k})
				out += buf.String() + string(js)
			}
			if strings.Contains(out, b64) || strings.Contains(out, fmt.Sprintf("%x", k.Bytes[:])) ||
				strings.Contains(out, fmt.Sprint(k.Bytes[0], " ", k.Bytes[1])) ||
				strings.Contains(out, fmt.Sprint(k.Bytes[0], ",", k.Bytes[1])) || (verb != "%x" && !strings.Contains(out, "redacted")) {
				t.Fatalf("%s of a Key prints the key: %s", verb, out)
			}
		})
	}
}
