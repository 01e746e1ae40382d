package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/proliferate/proliferate-linear/secret"
)

// VarError is a problem with one variable. Its message is
// "NAME: what is wrong"; it never contains a secret's value.
type VarError struct {
	Var string
	Err error
}

// Error is "NAME: what is wrong".
func (e *VarError) Error() string { return e.Var + ": " + e.Err.Error() }

// Unwrap returns the reason, for errors.Is and errors.As.
func (e *VarError) Unwrap() error { return e.Err }

func varErr(name, msg string) error { return &VarError{Var: name, Err: errors.New(msg)} }

// joinErrs is errors.Join that flattens nested joins, so the final error
// prints one problem per line with no nesting.
func joinErrs(errs []error) error {
	var flat []error
	for _, err := range errs {
		if multi, ok := err.(interface{ Unwrap() []error }); ok {
			flat = append(flat, multi.Unwrap()...)
		} else if err != nil {
			flat = append(flat, err)
		}
	}
	return errors.Join(flat...)
}

// Slack IDs are upper-case alphanumerics behind a type letter: C for public
// channels, G for private channels created before 2021 and group DMs, D for
// DMs (https://api.slack.com/docs/conversations-api#shared_channels).
var channelIDRe = regexp.MustCompile(`^[CGD][A-Z0-9]{2,30}$`)

// ValidChannelID reports whether s looks like a Slack conversation ID.
func ValidChannelID(s string) bool { return channelIDRe.MatchString(s) }

// Linear team keys are the short upper-case prefixes of issue identifiers
// (ENG in ENG-123).
var teamKeyRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,19}$`)

// minWebhookSecret is the shortest webhook secret accepted: an HMAC key
// short enough to guess turns every captured request into a forgery kit.
const minWebhookSecret = 16

// minAPIToken is the shortest API_TOKEN accepted. The token is the only
// thing between the internet and the links API, so it must not be
// guessable; 32 characters is 128 bits of hex.
const minAPIToken = 32

// maxWorkers bounds WORKERS: Slack allows about one message per second per
// channel, so more workers than this only wait on rate limits.
const maxWorkers = 256

// Validate checks the values that are set, whatever the subcommand, and
// returns every problem joined, each a *VarError. Load calls it.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }

	if err := checkToken(c.SlackBotToken, "xoxb-", "a bot token"); err != nil {
		add(&VarError{Var: "SLACK_BOT_TOKEN", Err: err})
	}
	if err := checkToken(c.SlackAppToken, "xapp-", "an app-level token with connections:write"); err != nil {
		add(&VarError{Var: "SLACK_APP_TOKEN", Err: err})
	}
	if err := checkToken(c.LinearAPIKey, "", ""); err != nil {
		add(&VarError{Var: "LINEAR_API_KEY", Err: err})
	}
	if err := checkToken(c.WebhookSecret, "", ""); err != nil {
		add(&VarError{Var: "PROLIFERATE_WEBHOOK_SECRET", Err: err})
	} else if c.WebhookSecret.IsSet() && len(c.WebhookSecret) < minWebhookSecret {
		add(varErr("PROLIFERATE_WEBHOOK_SECRET", fmt.Sprintf("must be at least %d characters", minWebhookSecret)))
	}
	if err := checkToken(c.LinearWebhookSecret, "", ""); err != nil {
		add(&VarError{Var: "LINEAR_WEBHOOK_SECRET", Err: err})
	}
	if err := checkToken(c.APIToken, "", ""); err != nil {
		add(&VarError{Var: "API_TOKEN", Err: err})
	} else if c.APIToken.IsSet() && len(c.APIToken) < minAPIToken {
		add(varErr("API_TOKEN", fmt.Sprintf("must be at least %d characters (generate one with: openssl rand -hex 32)", minAPIToken)))
	}

	if err := checkHTTPURL(c.SlackAPIURL); err != nil {
		add(&VarError{Var: "SLACK_API_URL", Err: err})
	} else if !strings.HasSuffix(c.SlackAPIURL, "/") {
		// slack-go appends method names ("chat.postMessage") to it.
		add(varErr("SLACK_API_URL", `must end in "/"`))
	}
	if err := checkHTTPURL(c.LinearAPIURL); err != nil {
		add(&VarError{Var: "LINEAR_API_URL", Err: err})
	}

	add(c.validateKeys())
	add(c.validateOAuth())

	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		add(varErr("HTTP_ADDR", fmt.Sprintf("%q is not host:port (e.g. :8080)", c.HTTPAddr)))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		add(varErr("HTTP_ADDR", fmt.Sprintf("port %q is not a number in 0..65535", port)))
	}

	if c.SlackAlertChannel != "" && !ValidChannelID(c.SlackAlertChannel) {
		add(varErr("SLACK_ALERT_CHANNEL", fmt.Sprintf("%q is not a channel ID: use the ID (like C0123ABCD, from the channel's details), not its name", c.SlackAlertChannel)))
	}
	if c.LinearDefaultTeam != "" && !teamKeyRe.MatchString(c.LinearDefaultTeam) {
		add(varErr("LINEAR_DEFAULT_TEAM", fmt.Sprintf("%q is not a team key (like ENG)", c.LinearDefaultTeam)))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		add(varErr("LOG_FORMAT", fmt.Sprintf("%q is not json or text", c.LogFormat)))
	}
	if c.Workers < 1 || c.Workers > maxWorkers {
		add(varErr("WORKERS", fmt.Sprintf("must be between 1 and %d", maxWorkers)))
	}
	return joinErrs(errs)
}

// validateOAuth checks the Linear OAuth settings as a set: a client ID
// without its secret or a public URL cannot finish a single connect.
func (c Config) validateOAuth() error {
	var errs []error
	for name, u := range map[string]string{
		"LINEAR_OAUTH_AUTHORIZE_URL": c.LinearOAuthAuthorizeURL,
		"LINEAR_OAUTH_TOKEN_URL":     c.LinearOAuthTokenURL,
		"LINEAR_OAUTH_REVOKE_URL":    c.LinearOAuthRevokeURL,
	} {
		if err := checkHTTPURL(u); err != nil {
			errs = append(errs, &VarError{Var: name, Err: err})
		}
	}
	if c.PublicURL != "" {
		if err := checkHTTPURL(c.PublicURL); err != nil {
			errs = append(errs, &VarError{Var: "PUBLIC_URL", Err: err})
		}
	}
	if err := checkToken(c.LinearClientSecret, "", ""); err != nil {
		errs = append(errs, &VarError{Var: "LINEAR_CLIENT_SECRET", Err: err})
	}
	if c.OAuthEnabled() {
		if !c.LinearClientSecret.IsSet() {
			errs = append(errs, varErr("LINEAR_CLIENT_SECRET", "required with LINEAR_CLIENT_ID"))
		}
		if c.PublicURL == "" {
			errs = append(errs, varErr("PUBLIC_URL", "required with LINEAR_CLIENT_ID: the OAuth redirect URI is PUBLIC_URL/api/v1/integrations/linear/callback"))
		}
	} else if c.LinearClientSecret.IsSet() {
		errs = append(errs, varErr("LINEAR_CLIENT_ID", "required with LINEAR_CLIENT_SECRET"))
	}
	for _, u := range c.AdminUsers {
		if !userIDRe.MatchString(u) {
			errs = append(errs, varErr("ADMIN_USERS", fmt.Sprintf("%q is not a Slack user ID (like U0123ABCD)", u)))
		}
	}
	return joinErrs(append(errs, c.validateProliferate()))
}

var userIDRe = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// botOrAppIDRe matches Slack bot IDs (B…) and app IDs (A…).
var botOrAppIDRe = regexp.MustCompile(`^[AB][A-Z0-9]{2,}$`)

// validateProliferate checks what the bot needs to recognise Proliferate's
// own Slack messages.
func (c Config) validateProliferate() error {
	var errs []error
	for _, id := range c.ProliferateSlackBotIDs {
		if !botOrAppIDRe.MatchString(id) {
			errs = append(errs, varErr("PROLIFERATE_SLACK_BOT_IDS", fmt.Sprintf(
				"%q is not a Slack bot ID (B0123ABCD) or app ID (A0123ABCD); see the README for how to find Proliferate's", id)))
		}
	}
	if err := checkHTTPURL(c.ProliferateURL); err != nil {
		errs = append(errs, &VarError{Var: "PROLIFERATE_URL", Err: err})
	} else if u, _ := url.Parse(c.ProliferateURL); u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, varErr("PROLIFERATE_URL", "must be a base URL such as https://app.proliferate.com, without a query or fragment"))
	}
	return joinErrs(errs)
}

// ValidateServe is Validate plus what the serve subcommand needs: both
// Slack tokens (Socket Mode needs the app token, the Web API the bot token)
// and the webhook secret (without it no alert can be authenticated).
func (c Config) ValidateServe() error {
	errs := []error{c.Validate()}
	for _, req := range []struct {
		name string
		set  bool
	}{
		{"SLACK_BOT_TOKEN", c.SlackBotToken.IsSet()},
		{"SLACK_APP_TOKEN", c.SlackAppToken.IsSet()},
		{"PROLIFERATE_WEBHOOK_SECRET", c.WebhookSecret.IsSet()},
	} {
		if !req.set {
			errs = append(errs, varErr(req.name, "required to serve (or set "+req.name+"_FILE)"))
		}
	}
	return joinErrs(errs)
}

// checkToken rejects stray white space (a pasted newline is the usual
// reason a correct-looking token fails) and a wrong prefix. Messages never
// quote the value.
func checkToken(s Secret, prefix, what string) error {
	if !s.IsSet() {
		return nil
	}
	if strings.ContainsAny(s.Value(), " \t\r\n") {
		return errors.New("contains white space; check for a stray newline or space")
	}
	if prefix != "" && !strings.HasPrefix(s.Value(), prefix) {
		return fmt.Errorf("must start with %q (%s)", prefix, what)
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}

// validateKeys checks ENCRYPTION_KEY and ENCRYPTION_KEY_PREVIOUS parse and
// form a keyring, and that PostgreSQL has an explicit key: replicas share
// the database, so they must share the key; a key file generated on one
// machine would leave the others unable to read what it sealed.
func (c Config) validateKeys() error {
	var errs []error
	if !c.EncryptionKey.IsSet() {
		if c.Database.Driver == DriverPostgres {
			errs = append(errs, varErr("ENCRYPTION_KEY", "required with PostgreSQL (every replica needs the same key); generate one with: openssl rand -base64 32"))
		}
		if c.EncryptionKeyPrevious.IsSet() {
			errs = append(errs, varErr("ENCRYPTION_KEY_PREVIOUS", "set without ENCRYPTION_KEY"))
		}
		return joinErrs(errs)
	}
	if _, err := c.keys(); err != nil {
		errs = append(errs, err)
	}
	return joinErrs(errs)
}

// keys parses the configured keys: current first, then previous. Every
// key that does not parse is reported.
func (c Config) keys() ([]secret.Key, error) {
	var errs []error
	cur, err := secret.ParseKey(c.EncryptionKey.Value())
	if err != nil {
		errs = append(errs, varErr("ENCRYPTION_KEY", "must be the base64 of exactly 32 bytes (openssl rand -base64 32), optionally as v<N>:<base64>"))
	}
	keys := []secret.Key{cur}
	if c.EncryptionKeyPrevious.IsSet() {
		for i, part := range strings.Split(c.EncryptionKeyPrevious.Value(), ",") {
			k, err := secret.ParseKey(part)
			if err != nil {
				errs = append(errs, varErr("ENCRYPTION_KEY_PREVIOUS", fmt.Sprintf("key %d must be v<N>:<base64 of 32 bytes>", i+1)))
			}
			keys = append(keys, k)
		}
	}
	if len(errs) > 0 {
		return nil, joinErrs(errs)
	}
	if _, err := secret.NewKeyring(keys[0], keys[1:]...); err != nil {
		return nil, varErr("ENCRYPTION_KEY_PREVIOUS", "every key needs its own version: after a rotation set ENCRYPTION_KEY=v<N+1>:<new key> and move the old one here")
	}
	return keys, nil
}

// Keyring builds the keyring that seals tokens at rest: from ENCRYPTION_KEY
// (and ENCRYPTION_KEY_PREVIOUS) when set, else from KeyFile, generating it
// with a fresh key on first run (SQLite only; Validate refuses PostgreSQL
// without a key).
func (c Config) Keyring() (*secret.Keyring, error) {
	if c.EncryptionKey.IsSet() {
		keys, err := c.keys()
		if err != nil {
			return nil, err
		}
		return secret.NewKeyring(keys[0], keys[1:]...)
	}
	if c.Database.Driver != DriverSQLite || c.KeyFile == "" {
		return nil, varErr("ENCRYPTION_KEY", "required with PostgreSQL")
	}
	k, err := secret.LoadOrCreateKeyFile(c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("encryption key file (set ENCRYPTION_KEY to use another key): %w", err)
	}
	return secret.NewKeyring(k)
}
