package secret

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func TestLoadOrCreateKeyFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits")
	}
	t.Run("creates 0600 and reloads the same key", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "proliferate-linear.key")
		k1, err := LoadOrCreateKeyFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("mode = %04o, want 0600", got)
		}
		k2, err := LoadOrCreateKeyFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if k1 != k2 || k1.Version != 1 {
			t.Error("second load returned another key")
		}
		leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".keytmp-*"))
		if len(leftovers) != 0 {
			t.Errorf("temporary files left behind: %v", leftovers)
		}
	})
	t.Run("refuses group or world readable file", func(t *testing.T) {
		for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
			path := filepath.Join(t.TempDir(), "k")
			if _, err := LoadOrCreateKeyFile(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadOrCreateKeyFile(path); err == nil {
				t.Errorf("mode %04o accepted", mode)
			}
		}
	})
	t.Run("reads a key an operator wrote", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "k")
		want := mustKey(t, 1)
		if err := os.WriteFile(path, []byte(want.Encode()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := LoadOrCreateKeyFile(path)
		if err != nil || got != want {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("refuses a corrupt file rather than replacing it", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "k")
		if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateKeyFile(path); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("err = %v, want ErrInvalidKey", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "garbage" {
			t.Fatal("corrupt key file was overwritten")
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "k")
		if _, err := LoadOrCreateKeyFile(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want ErrNotExist", err)
		}
	})
	t.Run("concurrent creators agree", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "k")
		const n = 16
		keys := make([]Key, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { keys[i], errs[i] = LoadOrCreateKeyFile(path) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if keys[i] != keys[0] {
				t.Fatal("creators disagree on the key")
			}
		}
	})
}
