package config

import (
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// field is one printable setting.
type field struct{ name, value string }

// fields lists the settings as they are printed, secrets redacted: a set
// secret shows "[redacted]", an unset one "".
func (c Config) fields() []field {
	return []field{
		{"SLACK_BOT_TOKEN", c.SlackBotToken.String()},
		{"SLACK_APP_TOKEN", c.SlackAppToken.String()},
		{"SLACK_API_URL", c.SlackAPIURL},
		{"LINEAR_API_KEY", c.LinearAPIKey.String()},
		{"LINEAR_API_URL", c.LinearAPIURL},
		{"DATABASE", c.Database.String()},
		{"ENCRYPTION_KEY", c.EncryptionKey.String()},
		{"ENCRYPTION_KEY_PREVIOUS", c.EncryptionKeyPrevious.String()},
		{"KEY_FILE", c.KeyFile},
		{"HTTP_ADDR", c.HTTPAddr},
		{"PROLIFERATE_WEBHOOK_SECRET", c.WebhookSecret.String()},
		{"SLACK_ALERT_CHANNEL", c.SlackAlertChannel},
		{"LINEAR_DEFAULT_TEAM", c.LinearDefaultTeam},
		{"LOG_LEVEL", strings.ToLower(c.LogLevel.String())},
		{"LOG_FORMAT", c.LogFormat},
		{"WORKERS", strconv.Itoa(c.Workers)},
		{"LINEAR_POLL_INTERVAL", c.LinearPollInterval.String()},
		{"LINEAR_CLIENT_ID", c.LinearClientID},
		{"LINEAR_CLIENT_SECRET", c.LinearClientSecret.String()},
		{"PUBLIC_URL", c.PublicURL},
		{"ADMIN_USERS", strings.Join(c.AdminUsers, ",")},
		{"PROLIFERATE_SLACK_BOT_IDS", strings.Join(c.ProliferateSlackBotIDs, ",")},
		{"PROLIFERATE_URL", c.ProliferateURL},
	}
}

// String prints the configuration with every secret redacted, one
// NAME=value pair per field, for a startup log line or `config check`.
func (c Config) String() string {
	var b strings.Builder
	for i, f := range c.fields() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.name + "=" + strconv.Quote(f.value))
	}
	return b.String()
}

// LogValue makes slog print the configuration as a group, secrets redacted.
func (c Config) LogValue() slog.Value {
	fs := c.fields()
	attrs := make([]slog.Attr, 0, len(fs))
	for _, f := range fs {
		attrs = append(attrs, slog.String(strings.ToLower(f.name), f.value))
	}
	return slog.GroupValue(attrs...)
}

// String describes the database without its password or query (lib/pq
// accepts password=… there): "sqlite:proliferate-linear.db" or
// "postgres://user@host:5432/db".
func (d Database) String() string {
	switch d.Driver {
	case DriverSQLite:
		return "sqlite:" + d.Path
	case DriverPostgres:
		u, err := url.Parse(d.URL.Value())
		if err != nil {
			return "postgres:" + redacted
		}
		safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
		if u.User != nil {
			safe.User = url.User(u.User.Username())
		}
		return safe.String()
	}
	return ""
}

// DSN is what store.Open takes: the PostgreSQL URL, or the SQLite file path.
// It may hold a password; never log it.
func (d Database) DSN() string {
	if d.Driver == DriverPostgres {
		return d.URL.Value()
	}
	return d.Path
}

// LogValue makes slog print the database without its password.
func (d Database) LogValue() slog.Value { return slog.StringValue(d.String()) }

// NewLogger builds the logger LOG_LEVEL and LOG_FORMAT describe, writing to
// w (os.Stderr in main). Durations are logged in milliseconds (see
// DurationsInMillis).
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel, ReplaceAttr: DurationsInMillis}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// DurationsInMillis is a slog ReplaceAttr that renders every time.Duration
// as a number of milliseconds under a key ending in "_ms" ("wait": 1.5s
// becomes "wait_ms": 1500): log pipelines graph and compare numbers, and
// slog's default (nanoseconds in JSON, "1.5s" in text) is neither readable
// nor uniform. Sub-millisecond precision is kept to the microsecond.
func DurationsInMillis(_ []string, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "_ms") {
		key += "_ms"
	}
	ms := float64(v.Duration().Microseconds()) / 1000
	return slog.Float64(key, ms)
}
