package config

import (
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	testKey  = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="    // bytes 0..31
	testKey2 = "v2:HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=" // bytes 31..62
	hookSec  = "whsec-0123456789abcdef"
	linSec   = "lin_wh_0123456789abcdefABCDEF"
	apiTok   = "0123456789abcdef0123456789abcdef"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// files returns a readFile over m; a missing name is fs.ErrNotExist.
func files(m map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if v, ok := m[name]; ok {
			return []byte(v), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
}

// defaults is the Config of an empty environment.
func defaults() Config {
	return Config{
		SlackAPIURL:  DefaultSlackAPIURL,
		LinearAPIURL: DefaultLinearAPIURL,
		Database:     Database{Driver: DriverSQLite, Path: "proliferate-linear.db"},
		KeyFile:      "proliferate-linear.key",
		HTTPAddr:     ":8080",
		LogLevel:     slog.LevelInfo,
		LogFormat:    "json",
		Workers:      8,

		LinearPollInterval: 5 * time.Minute,
		ProliferateURL:     DefaultProliferateURL,

		LinearOAuthAuthorizeURL: DefaultLinearOAuthAuthorizeURL,
		LinearOAuthTokenURL:     DefaultLinearOAuthTokenURL,
		LinearOAuthRevokeURL:    DefaultLinearOAuthRevokeURL,
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		files map[string]string
		edit  func(*Config) // applied to defaults() to build the want
	}{
		{name: "empty environment gives defaults", edit: func(*Config) {}},
		{
			name: "everything set",
			env: map[string]string{
				"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_APP_TOKEN": "xapp-1-A-2-def",
				"SLACK_API_URL": "http://127.0.0.1:9999/api/", "LINEAR_API_KEY": "lin_api_x",
				"LINEAR_API_URL": "http://127.0.0.1:9998/graphql", "DATABASE_URL": "postgres://u:p@db:5432/app?sslmode=disable",
				"ENCRYPTION_KEY": testKey2, "ENCRYPTION_KEY_PREVIOUS": testKey, "HTTP_ADDR": "127.0.0.1:9000",
				"PROLIFERATE_WEBHOOK_SECRET": hookSec, "SLACK_ALERT_CHANNEL": "C0123ABCD",
				"LINEAR_DEFAULT_TEAM": "eng", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "text", "WORKERS": "3",
				"LINEAR_WEBHOOK_SECRET": linSec, "API_TOKEN": apiTok,
			},
			edit: func(c *Config) {
				c.SlackBotToken, c.SlackAppToken = "xoxb-1-2-abc", "xapp-1-A-2-def"
				c.SlackAPIURL, c.LinearAPIKey = "http://127.0.0.1:9999/api/", "lin_api_x"
				c.LinearAPIURL = "http://127.0.0.1:9998/graphql"
				c.Database = Database{Driver: DriverPostgres, URL: "postgres://u:p@db:5432/app?sslmode=disable"}
				c.KeyFile = ""
				c.EncryptionKey, c.EncryptionKeyPrevious = testKey2, testKey
				c.HTTPAddr, c.WebhookSecret, c.SlackAlertChannel = "127.0.0.1:9000", hookSec, "C0123ABCD"
				c.LinearDefaultTeam, c.LogLevel, c.LogFormat, c.Workers = "ENG", slog.LevelDebug, "text", 3
				c.LinearWebhookSecret, c.APIToken = linSec, apiTok
			},
		},
		{
			name:  "secrets from files, trailing newline trimmed",
			env:   map[string]string{"SLACK_BOT_TOKEN_FILE": "/run/bot", "PROLIFERATE_WEBHOOK_SECRET_FILE": "/run/hook", "ENCRYPTION_KEY_FILE": "/run/key"},
			files: map[string]string{"/run/bot": "xoxb-from-file\n", "/run/hook": hookSec + "\r\n", "/run/key": testKey + "\n"},
			edit: func(c *Config) {
				c.SlackBotToken, c.WebhookSecret, c.EncryptionKey = "xoxb-from-file", hookSec, testKey
			},
		},
		{
			name:  "linear webhook secret and API token from files",
			env:   map[string]string{"LINEAR_WEBHOOK_SECRET_FILE": "/run/linear", "API_TOKEN_FILE": "/run/api"},
			files: map[string]string{"/run/linear": linSec + "\n", "/run/api": apiTok + "\n"},
			edit:  func(c *Config) { c.LinearWebhookSecret, c.APIToken = linSec, apiTok },
		},
		{
			name: "postgresql scheme",
			env:  map[string]string{"DATABASE_URL": "postgresql://db/app", "ENCRYPTION_KEY": testKey},
			edit: func(c *Config) {
				c.Database, c.KeyFile, c.EncryptionKey = Database{Driver: DriverPostgres, URL: "postgresql://db/app"}, "", testKey
			},
		},
		{
			name: "sqlite file elsewhere, key beside it",
			env:  map[string]string{"DATABASE_URL": "sqlite:///var/lib/pl/bot.db"},
			edit: func(c *Config) {
				c.Database = Database{Driver: DriverSQLite, Path: "/var/lib/pl/bot.db"}
				c.KeyFile = "/var/lib/pl/" + KeyFileName
			},
		},
		{
			name: "relative sqlite file",
			env:  map[string]string{"DATABASE_URL": "sqlite:data/bot.db"},
			edit: func(c *Config) {
				c.Database = Database{Driver: DriverSQLite, Path: "data/bot.db"}
				c.KeyFile = "data/" + KeyFileName
			},
		},
		{
			name: "oauth",
			env: map[string]string{"LINEAR_CLIENT_ID": "cid", "LINEAR_CLIENT_SECRET_FILE": "/run/lcs",
				"PUBLIC_URL": "https://bot.example.com/", "ADMIN_USERS": "U0ADMIN1, W0ADMIN2,",
				"LINEAR_OAUTH_TOKEN_URL": "http://127.0.0.1:1/oauth/token"},
			files: map[string]string{"/run/lcs": "client-secret\n"},
			edit: func(c *Config) {
				c.LinearClientID, c.LinearClientSecret, c.PublicURL = "cid", "client-secret", "https://bot.example.com"
				c.AdminUsers = []string{"U0ADMIN1", "W0ADMIN2"}
				c.LinearOAuthTokenURL = "http://127.0.0.1:1/oauth/token"
			},
		},
		{
			name: "poller off",
			env:  map[string]string{"LINEAR_POLL_INTERVAL": "0"},
			edit: func(c *Config) { c.LinearPollInterval = 0 },
		},
		{
			name: "poller every 30s",
			env:  map[string]string{"LINEAR_POLL_INTERVAL": "30s"},
			edit: func(c *Config) { c.LinearPollInterval = 30 * time.Second },
		},
		{
			name: "proliferate's slack bot and url",
			env:  map[string]string{"PROLIFERATE_SLACK_BOT_IDS": "B0PROLIF1, A0PROLIF2", "PROLIFERATE_URL": "https://proliferate.example.com/"},
			edit: func(c *Config) {
				c.ProliferateSlackBotIDs = []string{"B0PROLIF1", "A0PROLIF2"}
				c.ProliferateURL = "https://proliferate.example.com"
			},
		},
		{
			name: "surrounding space on plain settings is trimmed",
			env:  map[string]string{"HTTP_ADDR": " :9090 ", "WORKERS": " 2"},
			edit: func(c *Config) { c.HTTPAddr, c.Workers = ":9090", 2 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(env(tt.env), files(tt.files))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := defaults()
			tt.edit(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		files map[string]string
		want  []string // each must appear in the error, in order of appearance not required
	}{
		{"bot token prefix", map[string]string{"SLACK_BOT_TOKEN": "xoxp-user"}, nil, []string{`SLACK_BOT_TOKEN: must start with "xoxb-"`}},
		{"app token prefix", map[string]string{"SLACK_APP_TOKEN": "xoxb-1"}, nil, []string{`SLACK_APP_TOKEN: must start with "xapp-"`}},
		{"token with newline", map[string]string{"LINEAR_API_KEY": "lin_api_x\n"}, nil, []string{"LINEAR_API_KEY: contains white space"}},
		{"slack url without slash", map[string]string{"SLACK_API_URL": "https://slack.com/api"}, nil, []string{`SLACK_API_URL: must end in "/"`}},
		{"slack url relative", map[string]string{"SLACK_API_URL": "/api/"}, nil, []string{"SLACK_API_URL: \"/api/\" is not an absolute http(s) URL"}},
		{"linear url scheme", map[string]string{"LINEAR_API_URL": "ftp://x/graphql"}, nil, []string{"LINEAR_API_URL: "}},
		{"oauth without secret and public url", map[string]string{"LINEAR_CLIENT_ID": "cid"}, nil,
			[]string{"LINEAR_CLIENT_SECRET: required with LINEAR_CLIENT_ID", "PUBLIC_URL: required with LINEAR_CLIENT_ID"}},
		{"oauth secret without id", map[string]string{"LINEAR_CLIENT_SECRET": "s"}, nil, []string{"LINEAR_CLIENT_ID: required with LINEAR_CLIENT_SECRET"}},
		{"proliferate bot id not an id", map[string]string{"PROLIFERATE_SLACK_BOT_IDS": "B0OK1,U0PERSON"}, nil,
			[]string{`PROLIFERATE_SLACK_BOT_IDS: "U0PERSON" is not a Slack bot ID`}},
		{"proliferate url relative", map[string]string{"PROLIFERATE_URL": "app.proliferate.com"}, nil,
			[]string{`PROLIFERATE_URL: "app.proliferate.com" is not an absolute http(s) URL`}},
		{"proliferate url with query", map[string]string{"PROLIFERATE_URL": "https://x.example/?a=1"}, nil,
			[]string{"PROLIFERATE_URL: must be a base URL"}},
		{"admin users not ids", map[string]string{"ADMIN_USERS": "U0OK1,@ada"}, nil, []string{`ADMIN_USERS: "@ada" is not a Slack user ID`}},
		{"token url relative", map[string]string{"LINEAR_OAUTH_TOKEN_URL": "/token"}, nil, []string{"LINEAR_OAUTH_TOKEN_URL: "}},
		{"poll interval not a duration", map[string]string{"LINEAR_POLL_INTERVAL": "often"}, nil, []string{`LINEAR_POLL_INTERVAL: "often" is not a duration`}},
		{"poll interval too short", map[string]string{"LINEAR_POLL_INTERVAL": "500ms"}, nil, []string{"LINEAR_POLL_INTERVAL: 500ms is too often"}},
		{"database mysql", map[string]string{"DATABASE_URL": "mysql://u:p@h/db"}, nil, []string{`DATABASE_URL: "mysql" is not supported`}},
		{"database sqlite without path", map[string]string{"DATABASE_URL": "sqlite:"}, nil, []string{`DATABASE_URL: sqlite: URL has no file path`}},
		{"database bare path", map[string]string{"DATABASE_URL": "/tmp/x.db"}, nil, []string{"DATABASE_URL: must be a postgres://"}},
		{"postgres without key", map[string]string{"DATABASE_URL": "postgres://db/app"}, nil, []string{"ENCRYPTION_KEY: required with PostgreSQL"}},
		{"key too short", map[string]string{"ENCRYPTION_KEY": "AAAA"}, nil, []string{"ENCRYPTION_KEY: must be the base64 of exactly 32 bytes"}},
		{"key not base64", map[string]string{"ENCRYPTION_KEY": "not base64!"}, nil, []string{"ENCRYPTION_KEY: must be the base64"}},
		{"previous without current", map[string]string{"ENCRYPTION_KEY_PREVIOUS": testKey}, nil, []string{"ENCRYPTION_KEY_PREVIOUS: set without ENCRYPTION_KEY"}},
		{"previous same version", map[string]string{"ENCRYPTION_KEY": testKey, "ENCRYPTION_KEY_PREVIOUS": testKey}, nil, []string{"ENCRYPTION_KEY_PREVIOUS: every key needs its own version"}},
		{"previous bad", map[string]string{"ENCRYPTION_KEY": testKey2, "ENCRYPTION_KEY_PREVIOUS": testKey + ",junk"}, nil, []string{"ENCRYPTION_KEY_PREVIOUS: key 2 must be"}},
		{"http addr", map[string]string{"HTTP_ADDR": "8080"}, nil, []string{`HTTP_ADDR: "8080" is not host:port`}},
		{"http port", map[string]string{"HTTP_ADDR": ":http"}, nil, []string{`HTTP_ADDR: port "http"`}},
		{"channel name", map[string]string{"SLACK_ALERT_CHANNEL": "#alerts"}, nil, []string{`SLACK_ALERT_CHANNEL: "#alerts" is not a channel ID`}},
		{"team key", map[string]string{"LINEAR_DEFAULT_TEAM": "my team"}, nil, []string{"LINEAR_DEFAULT_TEAM: "}},
		{"log level", map[string]string{"LOG_LEVEL": "verbose"}, nil, []string{`LOG_LEVEL: "verbose" is not one of debug, info, warn, error`}},
		{"log format", map[string]string{"LOG_FORMAT": "xml"}, nil, []string{`LOG_FORMAT: "xml" is not json or text`}},
		{"workers not int", map[string]string{"WORKERS": "many"}, nil, []string{`WORKERS: "many" is not an integer`}},
		{"workers zero", map[string]string{"WORKERS": "0"}, nil, []string{"WORKERS: must be between 1 and 256"}},
		{"webhook secret short", map[string]string{"PROLIFERATE_WEBHOOK_SECRET": "short"}, nil, []string{"PROLIFERATE_WEBHOOK_SECRET: must be at least 16 characters"}},
		{"api token short", map[string]string{"API_TOKEN": "short-token"}, nil, []string{"API_TOKEN: must be at least 32 characters"}},
		{"api token with newline", map[string]string{"API_TOKEN": apiTok + "\n"}, nil, []string{"API_TOKEN: contains white space"}},
		{"linear webhook secret with space", map[string]string{"LINEAR_WEBHOOK_SECRET": " " + linSec}, nil, []string{"LINEAR_WEBHOOK_SECRET: contains white space"}},
		{"linear webhook secret both NAME and NAME_FILE", map[string]string{"LINEAR_WEBHOOK_SECRET": linSec, "LINEAR_WEBHOOK_SECRET_FILE": "/run/l"}, map[string]string{"/run/l": linSec},
			[]string{"LINEAR_WEBHOOK_SECRET: set both LINEAR_WEBHOOK_SECRET and LINEAR_WEBHOOK_SECRET_FILE"}},
		{"api token empty file", map[string]string{"API_TOKEN_FILE": "/empty"}, map[string]string{"/empty": "\r\n"}, []string{"API_TOKEN_FILE: file /empty is empty"}},
		{"both NAME and NAME_FILE", map[string]string{"SLACK_BOT_TOKEN": "xoxb-a", "SLACK_BOT_TOKEN_FILE": "/run/bot"}, map[string]string{"/run/bot": "xoxb-b"},
			[]string{"SLACK_BOT_TOKEN: set both SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE"}},
		{"unreadable file", map[string]string{"LINEAR_API_KEY_FILE": "/nope"}, nil, []string{"LINEAR_API_KEY_FILE: cannot read: open /nope"}},
		{"empty file", map[string]string{"LINEAR_API_KEY_FILE": "/empty"}, map[string]string{"/empty": "\n"}, []string{"LINEAR_API_KEY_FILE: file /empty is empty"}},
		{
			name:  "all problems reported at once",
			env:   map[string]string{"SLACK_API_URL": "https://x", "WORKERS": "-1", "LOG_FORMAT": "yaml", "SLACK_APP_TOKEN": "bad"},
			files: nil,
			want:  []string{"SLACK_API_URL:", "WORKERS:", "LOG_FORMAT:", "SLACK_APP_TOKEN:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env), files(tt.files))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var ve *VarError
			if !errors.As(err, &ve) {
				t.Errorf("error %T is not a *VarError", err)
			}
			// Each line is one problem and starts with a variable name.
			for _, line := range strings.Split(err.Error(), "\n") {
				if name, _, ok := strings.Cut(line, ": "); !ok || strings.ToUpper(name) != name {
					t.Errorf("line %q does not start with a variable name", line)
				}
			}
		})
	}
}

func TestErrorsNeverContainSecrets(t *testing.T) {
	secrets := map[string]string{
		"SLACK_BOT_TOKEN":            "xoxp-SECRETVALUE1",
		"SLACK_APP_TOKEN":            "SECRETVALUE2 ",
		"LINEAR_API_KEY":             "lin SECRETVALUE3",
		"ENCRYPTION_KEY":             "SECRETVALUE4",
		"ENCRYPTION_KEY_PREVIOUS":    "SECRETVALUE5",
		"PROLIFERATE_WEBHOOK_SECRET": "SECRETVALUE6",
		"DATABASE_URL":               "user:SECRETVALUE7@host/db",
		"LINEAR_WEBHOOK_SECRET":      "lin_wh_SECRETVALUE8\t",
		"API_TOKEN":                  "SECRETVALUE9",
	}
	_, err := Load(env(secrets), files(nil))
	if err == nil {
		t.Fatal("want errors")
	}
	if strings.Contains(err.Error(), "SECRETVALUE") {
		t.Fatalf("error leaks a secret:\n%v", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n < len(secrets) {
		t.Errorf("got %d problems, want at least %d:\n%v", n, len(secrets), err)
	}
}

func TestValidateServe(t *testing.T) {
	base := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "PROLIFERATE_WEBHOOK_SECRET": hookSec}
	tests := []struct {
		name    string
		unset   string
		wantErr string
	}{
		{"complete", "", ""},
		{"no bot token", "SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN: required to serve"},
		{"no app token", "SLACK_APP_TOKEN", "SLACK_APP_TOKEN: required to serve"},
		{"no webhook secret", "PROLIFERATE_WEBHOOK_SECRET", "PROLIFERATE_WEBHOOK_SECRET: required to serve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range base {
				if k != tt.unset {
					m[k] = v
				}
			}
			c, err := Load(env(m), files(nil))
			if err != nil {
				t.Fatalf("Load: %v", err) // other subcommands need none of these.
			}
			err = c.ValidateServe()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateServe: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateServe = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
