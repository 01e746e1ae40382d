// Package config reads proliferate-linear's configuration from environment
// variables, once, into one Config that main passes down.
//
// Every secret can also come from a file: NAME_FILE names a file whose
// contents (trailing newline trimmed) are the value, which suits Docker and
// Kubernetes secrets. Setting both NAME and NAME_FILE is an error, so that
// nobody wonders which one won.
//
// Errors name the variable that is wrong and say why, and report every
// problem at once (errors.Join) so a deployment is fixed in one pass.
package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults for unset variables.
const (
	DefaultSlackAPIURL  = "https://slack.com/api/"
	DefaultLinearAPIURL = "https://api.linear.app/graphql"
	DefaultHTTPAddr     = ":8080"
	DefaultWorkers      = 8
	// Linear's OAuth endpoints (https://linear.app/developers/oauth-2-0-authentication).
	DefaultLinearOAuthAuthorizeURL = "https://linear.app/oauth/authorize"
	DefaultLinearOAuthTokenURL     = "https://api.linear.app/oauth/token"
	DefaultLinearOAuthRevokeURL    = "https://api.linear.app/oauth/revoke"
	// DefaultProliferateURL is where Proliferate's issue pages live; the
	// bot recognises an alert message by a link under it.
	DefaultProliferateURL = "https://app.proliferate.com"
	// DefaultLinearPollInterval keeps a workspace of a few thousand open
	// links far below Linear's 5,000 requests an hour (100 links a request).
	DefaultLinearPollInterval = 5 * time.Minute
	// DefaultSQLitePath is the embedded database used when DATABASE_URL is
	// unset, relative to the working directory.
	DefaultSQLitePath = "proliferate-linear.db"
	// KeyFileName is the generated encryption key, kept beside the embedded
	// database when ENCRYPTION_KEY is unset.
	KeyFileName = "proliferate-linear.key"
)

// Driver names the database kind.
type Driver string

// Database drivers.
const (
	DriverSQLite   Driver = "sqlite"
	DriverPostgres Driver = "postgres"
)

// Database says where the data lives.
type Database struct {
	Driver Driver
	// URL is the PostgreSQL connection URL (it may hold a password); empty
	// for SQLite.
	URL Secret
	// Path is the SQLite database file; empty for PostgreSQL.
	Path string
}

// Config is the whole configuration. Build it with Load.
type Config struct {
	SlackBotToken Secret // SLACK_BOT_TOKEN, xoxb-…
	SlackAppToken Secret // SLACK_APP_TOKEN, xapp-… (Socket Mode)
	SlackAPIURL   string // SLACK_API_URL, ends in "/" (slack-go joins method names to it).

	LinearAPIKey Secret // LINEAR_API_KEY; optional, OAuth may provide a token instead.
	LinearAPIURL string // LINEAR_API_URL

	Database Database // DATABASE_URL

	// EncryptionKey (ENCRYPTION_KEY) seals tokens at rest: base64 of 32
	// bytes (version 1), or "v<N>:<base64>" after a rotation.
	EncryptionKey Secret
	// EncryptionKeyPrevious (ENCRYPTION_KEY_PREVIOUS) lists retired keys,
	// comma separated, each "v<N>:<base64>" (bare base64 is version 1), that
	// still open values sealed before a rotation.
	EncryptionKeyPrevious Secret
	// KeyFile is where a key is generated and kept when EncryptionKey is
	// unset (SQLite only): beside the database file.
	KeyFile string

	HTTPAddr      string // HTTP_ADDR
	WebhookSecret Secret // PROLIFERATE_WEBHOOK_SECRET

	// LinearWebhookSecret (LINEAR_WEBHOOK_SECRET) is the signing secret
	// Linear shows for the webhook (or OAuth app webhook) that reports
	// issue changes to POST /webhooks/linear. Optional: without it the
	// endpoint answers 503 and status flows back through the poller only.
	LinearWebhookSecret Secret
	// APIToken (API_TOKEN) is the bearer token of the REST API
	// (GET /api/v1/errors/{id}/links). Optional: without it the API
	// answers 503.
	APIToken Secret

	SlackAlertChannel string // SLACK_ALERT_CHANNEL, a channel ID.
	LinearDefaultTeam string // LINEAR_DEFAULT_TEAM, a team key such as ENG.

	LogLevel  slog.Level // LOG_LEVEL
	LogFormat string     // LOG_FORMAT: json or text.
	Workers   int        // WORKERS
	// SlackChannelGap is the least time between two messages to one Slack
	// channel; 0 is Slack's pace, one a second. No variable sets it: Slack's
	// limit is not a setting. Tests that do not test the pace make it short.
	SlackChannelGap time.Duration

	// Linear OAuth 2.0 (issue 3). OAuth is on when LINEAR_CLIENT_ID is set;
	// it then also needs LINEAR_CLIENT_SECRET and PUBLIC_URL.
	LinearClientID     string // LINEAR_CLIENT_ID
	LinearClientSecret Secret // LINEAR_CLIENT_SECRET
	// PublicURL (PUBLIC_URL) is where browsers reach this service, e.g.
	// https://bot.example.com: the base of the OAuth redirect URI
	// (PUBLIC_URL + /api/v1/integrations/linear/callback) and of connect links.
	PublicURL               string
	LinearOAuthAuthorizeURL string // LINEAR_OAUTH_AUTHORIZE_URL
	LinearOAuthTokenURL     string // LINEAR_OAUTH_TOKEN_URL
	LinearOAuthRevokeURL    string // LINEAR_OAUTH_REVOKE_URL
	// AdminUsers (ADMIN_USERS, comma-separated Slack user IDs) may connect,
	// disconnect and set the default team besides workspace admins and owners.
	AdminUsers []string

	// LinearPollInterval (LINEAR_POLL_INTERVAL, a Go duration such as 5m)
	// is how often open linked issues are re-read from Linear, so status
	// flows back where no webhook reaches the bot. 0 turns the poller off.
	LinearPollInterval time.Duration

	// ProliferateSlackBotIDs (PROLIFERATE_SLACK_BOT_IDS, comma separated
	// bot IDs B… and app IDs A…) are the posters whose channel messages are
	// read as Proliferate alerts. Empty: any bot or app's message that
	// links a Proliferate issue.
	ProliferateSlackBotIDs []string
	// ProliferateURL (PROLIFERATE_URL) is the base of Proliferate's issue
	// links, {ProliferateURL}/projects/{project}/issues/{issue_id}, without
	// a trailing slash.
	ProliferateURL string
}

// Load builds the Config from getenv (os.Getenv in main; an empty value
// means unset) and readFile (os.ReadFile) for the *_FILE variables, then
// validates it. The error joins every problem found, each naming its
// variable; the returned Config is only meaningful when the error is nil.
func Load(getenv func(string) string, readFile func(string) ([]byte, error)) (Config, error) {
	l := &loader{getenv: getenv, readFile: readFile}
	c := Config{
		SlackBotToken:         l.secret("SLACK_BOT_TOKEN"),
		SlackAppToken:         l.secret("SLACK_APP_TOKEN"),
		SlackAPIURL:           l.str("SLACK_API_URL", DefaultSlackAPIURL),
		LinearAPIKey:          l.secret("LINEAR_API_KEY"),
		LinearAPIURL:          l.str("LINEAR_API_URL", DefaultLinearAPIURL),
		EncryptionKey:         l.secret("ENCRYPTION_KEY"),
		EncryptionKeyPrevious: l.secret("ENCRYPTION_KEY_PREVIOUS"),
		HTTPAddr:              l.str("HTTP_ADDR", DefaultHTTPAddr),
		WebhookSecret:         l.secret("PROLIFERATE_WEBHOOK_SECRET"),
		LinearWebhookSecret:   l.secret("LINEAR_WEBHOOK_SECRET"),
		APIToken:              l.secret("API_TOKEN"),
		SlackAlertChannel:     l.str("SLACK_ALERT_CHANNEL", ""),
		LinearDefaultTeam:     strings.ToUpper(l.str("LINEAR_DEFAULT_TEAM", "")),
		LogFormat:             strings.ToLower(l.str("LOG_FORMAT", "json")),
		Workers:               l.integer("WORKERS", DefaultWorkers),
		LinearPollInterval:    l.duration("LINEAR_POLL_INTERVAL", DefaultLinearPollInterval),

		LinearClientID:          l.str("LINEAR_CLIENT_ID", ""),
		LinearClientSecret:      l.secret("LINEAR_CLIENT_SECRET"),
		PublicURL:               strings.TrimRight(l.str("PUBLIC_URL", ""), "/"),
		LinearOAuthAuthorizeURL: l.str("LINEAR_OAUTH_AUTHORIZE_URL", DefaultLinearOAuthAuthorizeURL),
		LinearOAuthTokenURL:     l.str("LINEAR_OAUTH_TOKEN_URL", DefaultLinearOAuthTokenURL),
		LinearOAuthRevokeURL:    l.str("LINEAR_OAUTH_REVOKE_URL", DefaultLinearOAuthRevokeURL),
		AdminUsers:              l.list("ADMIN_USERS"),
		ProliferateSlackBotIDs:  l.list("PROLIFERATE_SLACK_BOT_IDS"),
		ProliferateURL:          strings.TrimRight(l.str("PROLIFERATE_URL", DefaultProliferateURL), "/"),
	}
	c.Database = l.database()
	if c.Database.Driver == DriverSQLite {
		c.KeyFile = filepath.Join(filepath.Dir(c.Database.Path), KeyFileName)
	}
	c.LogLevel = l.level("LOG_LEVEL")
	l.errs = append(l.errs, c.Validate())
	return c, joinErrs(l.errs)
}

// loader reads variables and collects problems.
type loader struct {
	getenv   func(string) string
	readFile func(string) ([]byte, error)
	errs     []error
}

func (l *loader) fail(name, format string, args ...any) {
	l.errs = append(l.errs, &VarError{Var: name, Err: fmt.Errorf(format, args...)})
}

func (l *loader) str(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

// secret reads NAME or the file NAME_FILE names. Values are not trimmed of
// inner or leading space: a token with stray space is reported by Validate
// rather than silently repaired.
func (l *loader) secret(name string) Secret {
	v, file := l.getenv(name), l.getenv(name+"_FILE")
	switch {
	case v != "" && file != "":
		l.fail(name, "set both %s and %s_FILE; set only one", name, name)
		return ""
	case file == "":
		return Secret(v)
	}
	b, err := l.readFile(file)
	if err != nil {
		// The error names the path, never the contents.
		l.fail(name+"_FILE", "cannot read: %w", err)
		return ""
	}
	v = strings.TrimRight(string(b), "\r\n")
	clear(b)
	if v == "" {
		l.fail(name+"_FILE", "file %s is empty", file)
	}
	return Secret(v)
}

// list reads a comma-separated list, dropping blanks.
func (l *loader) list(name string) []string {
	var out []string
	for _, v := range strings.Split(l.str(name, ""), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// OAuthEnabled reports whether Linear OAuth is configured.
func (c Config) OAuthEnabled() bool { return c.LinearClientID != "" }

func (l *loader) duration(name string, def time.Duration) time.Duration {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		l.fail(name, "%q is not a duration such as 30s or 5m (0 turns it off)", v)
		return def
	}
	if d > 0 && d < time.Second {
		l.fail(name, "%s is too often: Linear allows 5,000 requests an hour; use 1s or more (minutes in production)", d)
	}
	return d
}

func (l *loader) integer(name string, def int) int {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		l.fail(name, "%q is not an integer", v)
		return def
	}
	return n
}

func (l *loader) level(name string) slog.Level {
	v := l.str(name, "info")
	var lv slog.Level
	switch strings.ToLower(v) {
	case "debug", "info", "warn", "error":
		_ = lv.UnmarshalText([]byte(v))
	default:
		l.fail(name, "%q is not one of debug, info, warn, error", v)
		return slog.LevelInfo
	}
	return lv
}

// database reads DATABASE_URL: unset means the embedded SQLite file in the
// working directory, sqlite:<path> an embedded SQLite file elsewhere; a
// postgres:// or postgresql:// URL means PostgreSQL (the two schemes lib/pq
// accepts); anything else is refused rather than guessed at.
func (l *loader) database() Database {
	raw := l.secret("DATABASE_URL")
	if !raw.IsSet() {
		return Database{Driver: DriverSQLite, Path: DefaultSQLitePath}
	}
	u, err := url.Parse(strings.TrimSpace(raw.Value()))
	if err != nil {
		// url's error quotes the input, which may hold a password.
		l.fail("DATABASE_URL", "not a URL")
		return Database{}
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
		if u.Host == "" && u.Query().Get("host") == "" {
			l.fail("DATABASE_URL", "PostgreSQL URL has no host")
		}
		return Database{Driver: DriverPostgres, URL: raw}
	case "sqlite":
		// sqlite:path/to/file.db or sqlite:///abs/path.db: the embedded store
		// in a file of one's choosing (the demo and tests use a temp dir).
		path := u.Opaque
		if path == "" {
			path = u.Path
		}
		if path == "" {
			l.fail("DATABASE_URL", "sqlite: URL has no file path")
			return Database{}
		}
		return Database{Driver: DriverSQLite, Path: path}
	case "":
		l.fail("DATABASE_URL", `must be a postgres:// or postgresql:// URL, or sqlite:<path> (leave unset for the embedded SQLite database)`)
	default:
		// Name the scheme only when it clearly is one ("mysql://…"): in a
		// mangled URL such as "user:pass@host" the "scheme" is a user name.
		scheme := "this scheme"
		if strings.HasPrefix(strings.TrimSpace(raw.Value()), u.Scheme+"://") {
			scheme = strconv.Quote(u.Scheme)
		}
		l.fail("DATABASE_URL", `%s is not supported: use postgres://, postgresql:// or sqlite:<path> (leave unset for the embedded SQLite database)`, scheme)
	}
	return Database{}
}
