package config

import (
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
)

// redacted is what every printed Secret shows.
const redacted = "[redacted]"

// Secret is a string that must never reach a log, an error or a JSON body
// by accident: fmt, slog and encoding/json all print "[redacted]" (or
// nothing when it is empty). Use Value where the value is really needed, so
// every use is easy to find.
type Secret string

// Value returns the secret value itself.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s != "" }

// String prints "[redacted]" for a set secret and "" for an empty one.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return "config.Secret(" + `"` + s.String() + `"` + ")" }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON keeps encoding/json from printing the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText keeps text encoders (and JSON map keys) from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// SecretVariables lists the variables read as secrets, each of which can
// instead be read from the file NAME_FILE names. It is derived from Load
// itself (a secret is what Load asks a _FILE twin of), so it cannot fall
// behind; deployment checks use it to refuse a secret set in plain text.
func SecretVariables() []string {
	var names []string
	_, _ = Load(func(k string) string {
		if n, ok := strings.CutSuffix(k, "_FILE"); ok && !slices.Contains(names, n) {
			names = append(names, n)
		}
		return ""
	}, func(string) ([]byte, error) { return nil, os.ErrNotExist })
	slices.Sort(names)
	return names
}
