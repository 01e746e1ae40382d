package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func secretConfig(t *testing.T) Config {
	t.Helper()
	c, err := Load(env(map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-LEAK1", "SLACK_APP_TOKEN": "xapp-LEAK2", "LINEAR_API_KEY": "LEAK3",
		"ENCRYPTION_KEY": testKey2, "ENCRYPTION_KEY_PREVIOUS": testKey,
		"PROLIFERATE_WEBHOOK_SECRET": "LEAK4-0123456789abcdef", "DATABASE_URL": "postgres://app:LEAK5@db:5432/app?password=LEAK6",
	}), files(nil))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigPrintingRedacts(t *testing.T) {
	c := secretConfig(t)
	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("config", "config", c, "token", c.SlackBotToken)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("config", "config", c, "token", c.SlackBotToken)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String":    c.String(),
		"%v":        fmt.Sprintf("%v", c),
		"%+v":       fmt.Sprintf("%+v", c),
		"%#v":       fmt.Sprintf("%#v", c),
		"slog json": jsonLog.String(),
		"slog text": textLog.String(),
		"json":      string(js),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, "LEAK") || strings.Contains(out, testKey) || strings.Contains(out, "HyAh") {
				t.Fatalf("output leaks a secret:\n%s", out)
			}
			if !strings.Contains(out, "redacted") {
				t.Errorf("output shows no redacted field:\n%s", out)
			}
		})
	}
	t.Run("database shown without password", func(t *testing.T) {
		if got, want := c.Database.String(), "postgres://app@db:5432/app"; got != want {
			t.Errorf("Database.String() = %q, want %q", got, want)
		}
		if !strings.Contains(c.String(), `DATABASE="postgres://app@db:5432/app"`) {
			t.Errorf("String() = %s", c)
		}
	})
}

func TestSecretString(t *testing.T) {
	tests := []struct {
		name string
		in   Secret
		want string
	}{
		{"set", "xoxb-1", "[redacted]"},
		{"unset", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := tt.in.Value(); got != string(tt.in) {
				t.Errorf("Value() = %q", got)
			}
		})
	}
}

func TestKeyring(t *testing.T) {
	t.Run("from ENCRYPTION_KEY with a previous key", func(t *testing.T) {
		oldCfg, err := Load(env(map[string]string{"ENCRYPTION_KEY": testKey}), files(nil))
		if err != nil {
			t.Fatal(err)
		}
		oldRing, err := oldCfg.Keyring()
		if err != nil {
			t.Fatal(err)
		}
		sealed, _ := oldRing.Encrypt([]byte("tok"), nil)

		c := secretConfig(t)
		kr, err := c.Keyring()
		if err != nil {
			t.Fatal(err)
		}
		if kr.CurrentVersion() != 2 || !kr.NeedsRotation(sealed) {
			t.Errorf("current version %d, NeedsRotation %v", kr.CurrentVersion(), kr.NeedsRotation(sealed))
		}
		if got, err := kr.Decrypt(sealed, nil); err != nil || string(got) != "tok" {
			t.Errorf("Decrypt = %q, %v", got, err)
		}
	})
	t.Run("generated beside the SQLite database", func(t *testing.T) {
		dir := t.TempDir()
		c := defaults()
		c.Database.Path = filepath.Join(dir, "proliferate-linear.db")
		c.KeyFile = filepath.Join(dir, KeyFileName)
		kr1, err := c.Keyring()
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(c.KeyFile)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v, %v", fi, err)
		}
		sealed, _ := kr1.Encrypt([]byte("tok"), nil)
		kr2, err := c.Keyring()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kr2.Decrypt(sealed, nil); err != nil {
			t.Errorf("second start cannot open the first one's value: %v", err)
		}
	})
	t.Run("postgres without key", func(t *testing.T) {
		c := defaults()
		c.Database = Database{Driver: DriverPostgres, URL: "postgres://db/app"}
		c.KeyFile = ""
		if _, err := c.Keyring(); err == nil || !strings.HasPrefix(err.Error(), "ENCRYPTION_KEY:") {
			t.Fatalf("Keyring err = %v", err)
		}
	})
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name, format string
		level        slog.Level
		wantPrefix   string
	}{
		{"json", "json", slog.LevelInfo, "{"},
		{"text", "text", slog.LevelInfo, "time="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			c := defaults()
			c.LogFormat, c.LogLevel = tt.format, tt.level
			log := c.NewLogger(&buf)
			log.Debug("hidden")
			log.Info("shown")
			if out := buf.String(); !strings.HasPrefix(out, tt.wantPrefix) || strings.Contains(out, "hidden") {
				t.Errorf("log output %q", out)
			}
		})
	}
}

func TestDatabaseDSN(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"sqlite default", nil, "proliferate-linear.db"},
		{"postgres", map[string]string{"DATABASE_URL": "postgres://u:p@db/app", "ENCRYPTION_KEY": testKey}, "postgres://u:p@db/app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env), files(nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Database.DSN(); got != tt.want {
				t.Errorf("DSN() = %q, want %q", got, tt.want)
			}
		})
	}
}
