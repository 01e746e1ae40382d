package secret

import (
	"bytes"
	"testing"
)

// FuzzDecrypt feeds Decrypt arbitrary sealed text and aad. It must never
// panic, and whatever it opens must have been sealed under the fixed key
// with that aad, which for random input means it must fail.
func FuzzDecrypt(f *testing.F) {
	k1 := Key{Version: 1}
	k2 := Key{Version: 2}
	for i := range k2.Bytes {
		k2.Bytes[i] = byte(i)
	}
	kr, err := NewKeyring(k2, k1)
	if err != nil {
		f.Fatal(err)
	}
	valid, err := kr.Encrypt([]byte("token"), []byte("aad"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{valid, "", "v", "v1:", "v2:AAAA", "v999999999999999999999:AA", "v1:====", "v-1:x", valid[:len(valid)-4]} {
		f.Add(seed, []byte("aad"))
	}
	f.Fuzz(func(t *testing.T, sealed string, aad []byte) {
		plain, err := kr.Decrypt(sealed, aad)
		if err != nil {
			if plain != nil {
				t.Fatal("plaintext returned with an error")
			}
			return
		}
		// Only the seed itself (or a base64 spelling of it) can open.
		if !bytes.Equal(plain, []byte("token")) || !bytes.Equal(aad, []byte("aad")) {
			t.Fatalf("opened forged input %q", sealed)
		}
		_ = kr.NeedsRotation(sealed)
	})
}
