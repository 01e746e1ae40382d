package secret

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// keyFileMode keeps the generated key readable by its owner only.
const keyFileMode = 0o600

// LoadOrCreateKeyFile returns the version-1 key stored at path, creating the
// file with a fresh random key (mode 0600) when it does not exist. An
// existing file that group or others may read is refused rather than used:
// a key that has leaked protects nothing, and the operator should know.
//
// Creation is atomic: the key is written to a temporary file beside path and
// hard-linked into place, so two processes starting at once agree on one key
// and neither can read a half-written file.
func LoadOrCreateKeyFile(path string) (Key, error) {
	k, err := loadKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, err = GenerateKey(1)
	if err != nil {
		return Key{}, err
	}
	switch err := createKeyFile(path, k); {
	case err == nil:
		return k, nil
	case errors.Is(err, fs.ErrExist):
		// Another process won the race; use its key.
		return loadKeyFile(path)
	default:
		return Key{}, err
	}
}

func loadKeyFile(path string) (Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Key{}, fmt.Errorf("secret: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Key{}, fmt.Errorf("secret: key file %s: not a regular file", path)
	}
	// Windows has no Unix permission bits; os reports 0666 or 0444 there.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return Key{}, fmt.Errorf("secret: key file %s: mode %04o lets group or others read it; run chmod 600 %s",
			path, fi.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("secret: key file: %w", err)
	}
	defer clear(raw)
	k, err := ParseKey(string(raw))
	if err != nil {
		return Key{}, fmt.Errorf("secret: key file %s: %w", path, err)
	}
	return k, nil
}

func createKeyFile(path string, k Key) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keytmp-*") // CreateTemp uses mode 0600.
	if err != nil {
		return fmt.Errorf("secret: create key file: %w", err)
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	if err := tmp.Chmod(keyFileMode); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("secret: create key file: %w", err)
	}
	if _, err := tmp.WriteString(k.Encode() + "\n"); err != nil {
		return fmt.Errorf("secret: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("secret: write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("secret: write key file: %w", err)
	}
	// os.Link fails with ErrExist if path appeared meanwhile: never
	// overwrite a key, or everything sealed with it is lost.
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("secret: create key file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the new name durable; best effort.
		_ = d.Close()
	}
	return nil
}
