package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/config"
)

// slackWorkspace asks Slack (auth.test) which workspace the bot token
// belongs to: the Linear connection is that workspace's, and its URL is the
// base of message permalinks. botID is the bot's own bot ID, so its own
// channel messages are never read as alerts.
func slackWorkspace(ctx context.Context, cfg config.Config) (teamID, url, botID string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	api := slack.New(cfg.SlackBotToken.Value(), slack.OptionAPIURL(cfg.SlackAPIURL))
	res, err := api.AuthTestContext(ctx)
	if err != nil {
		return "", "", "", fmt.Errorf("slack auth.test: %w", err)
	}
	return res.TeamID, res.URL, res.BotID, nil
}

// retryPolicy spaces the auth.test attempts at start: the wait doubles
// from min up to max, with jitter so replicas do not retry in step.
type retryPolicy struct{ min, max time.Duration }

// defaultSlackRetry reaches Slack within a second or two of it coming back
// from a short blip, and asks at most twice a minute during a long outage.
var defaultSlackRetry = retryPolicy{min: 500 * time.Millisecond, max: 30 * time.Second}

// errSlackTokenRefused marks a bot token Slack answered and refused:
// retrying cannot help, so start-up fails at once.
var errSlackTokenRefused = errors.New("slack refused SLACK_BOT_TOKEN")

// tokenRefusals are the auth.test answers that mean the token itself is
// wrong (https://api.slack.com/methods/auth.test#errors); any other answer,
// a transport error, a 5xx or a 429 is retried.
var tokenRefusals = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "not_allowed_token_type": true, "team_access_not_granted": true,
}

// awaitSlack calls auth.test until Slack answers, backing off between
// attempts; the alert webhook is already storing alerts meanwhile (see
// Open). A refused token fails at once with what to fix.
func (m *Main) awaitSlack(ctx context.Context) (teamID, url, botID string, err error) {
	p := m.slackRetry
	if p.min <= 0 {
		p = defaultSlackRetry
	}
	start := time.Now()
	wait := p.min
	for attempt := 1; ; attempt++ {
		teamID, url, botID, err = slackWorkspace(ctx, m.Config)
		if err == nil {
			if attempt > 1 {
				m.Log.Info("slack reachable", "attempts", attempt, "waited", time.Since(start))
			}
			return teamID, url, botID, nil
		}
		if refused, ok := errors.AsType[slack.SlackErrorResponse](err); ok && tokenRefusals[refused.Err] {
			return "", "", "", fmt.Errorf("%w (%s): set the Bot User OAuth Token (xoxb-…) from the Slack app's Install App page", errSlackTokenRefused, refused.Err)
		}
		if ctx.Err() != nil {
			return "", "", "", fmt.Errorf("stopped while waiting for Slack: %w", context.Cause(ctx))
		}
		next := wait/2 + rand.N(wait/2+1) // jitter in [wait/2, wait]
		if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok && rl.RetryAfter > next {
			next = rl.RetryAfter
		}
		m.Log.Warn("slack unreachable at start; retrying (alerts are stored and posted once it answers)",
			"attempt", attempt, "retry_in", next, "err", err)
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", "", "", fmt.Errorf("stopped while waiting for Slack: %w", context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, p.max)
	}
}
