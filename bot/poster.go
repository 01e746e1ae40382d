package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// PostAlert posts the alert's message (link may be nil) and returns its ts:
// top-level, or a reply in the thread of a.ThreadTS. Links are not
// unfurled: the message carries its own buttons.
func (b *Bot) PostAlert(ctx context.Context, a alert.Alert, link *alert.IssueLink) (string, error) {
	var ts string
	err := b.shorterOnRefusal(ctx, a, "chat.postMessage", func(text string, blocks []slack.Block) error {
		opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...),
			slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionMetadata(alertMetadata(a.ID))}
		if a.ThreadTS != "" {
			// The alert lives under a message the bot did not post (see
			// alert.Alert.ThreadTS): its message is a reply there.
			opts = append(opts, slack.MsgOptionTS(a.ThreadTS))
		}
		var err error
		_, ts, err = b.api.PostMessageContext(ctx, a.Channel, opts...)
		return err
	}, link)
	if err != nil {
		return "", classify(err, "chat.postMessage", a.Channel)
	}
	return ts, nil
}

// UpdateAlert rewrites the alert's message in place (chat.update on its ts).
func (b *Bot) UpdateAlert(ctx context.Context, a alert.Alert, link *alert.IssueLink) error {
	if a.MessageTS == "" {
		return fmt.Errorf("update alert %d: no message ts: %w", a.ID, alert.ErrInvalid)
	}
	err := b.shorterOnRefusal(ctx, a, "chat.update", func(text string, blocks []slack.Block) error {
		_, _, _, err := b.api.UpdateMessageContext(ctx, a.Channel, a.MessageTS,
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return err
	}, link)
	if err != nil {
		return classify(err, "chat.update", a.Channel)
	}
	return nil
}

// shorterOnRefusal sends the alert's message with send, fullest rendering
// first. When Slack refuses the blocks (msg_blocks_too_long, or
// invalid_blocks for a limit it counts differently than we do) it tries
// the next, shorter rendering, so the alert is still posted; only the
// shortest one's refusal is returned.
func (b *Bot) shorterOnRefusal(ctx context.Context, a alert.Alert, method string, send func(string, []slack.Block) error, link *alert.IssueLink) error {
	var err error
	team := b.routeTeam(ctx, a, link)
	for i, budget := range messageBudgets {
		text, blocks := alertMessageWithin(a, link, budget, team)
		if err = send(text, blocks); err == nil {
			return nil
		}
		code := slackCode(err)
		if code != "msg_blocks_too_long" && code != "invalid_blocks" {
			return err
		}
		b.log.WarnContext(ctx, "slack refused the alert's blocks; trying a shorter rendering",
			"method", method, "alert_id", a.ID, "channel", a.Channel, "code", code, "rendering", i)
	}
	return err
}

// routeTeam is the key of the team "Create in TEAM" files the alert's
// issue in: the matching routing rule's team, else the default team; ""
// when there is none or no create is offered (the error is tracked by an
// open issue). Both are local reads; the rules may be a second old.
func (b *Bot) routeTeam(ctx context.Context, a alert.Alert, link *alert.IssueLink) string {
	if b.svc == nil || (link != nil && !isRegression(a, *link)) {
		return ""
	}
	set, err := b.svc.RecentRules(ctx)
	if err != nil {
		b.log.WarnContext(ctx, "alert message: routing rules", "alert_id", a.ID, "err", err)
		return ""
	}
	if team := alert.Match(set.Rules, a, "").TeamKey; team != "" {
		return team
	}
	return b.defaultTeamKey(ctx, b.slackTeam) // read only when no rule names a team
}

// transientCodes are Slack error codes worth a retry
// (https://api.slack.com/methods/chat.postMessage#errors).
var transientCodes = map[string]bool{
	"internal_error": true, "fatal_error": true, "service_unavailable": true,
	"request_timeout": true, "ratelimited": true,
}

// permanentHints turns the Slack codes an operator must act on into words.
var permanentHints = map[string]string{
	"channel_not_found":   "the channel does not exist or the bot cannot see it",
	"not_in_channel":      "the bot is not a member of the channel: invite it with /invite",
	"is_archived":         "the channel is archived",
	"invalid_blocks":      "Slack rejected the message's blocks (a bug: please report it)",
	"msg_too_long":        "the message is too long",
	"message_not_found":   "the alert's message was deleted",
	"cant_update_message": "the message was not posted by this bot",
	"invalid_auth":        "the Slack bot token is invalid",
	"not_authed":          "no Slack bot token was sent",
	"token_revoked":       "the Slack bot token was revoked",
	"account_inactive":    "the Slack bot token belongs to a deactivated account",
	"missing_scope":       "the Slack app lacks a scope this call needs: compare its scopes with manifest.yml and reinstall it",
}

// scopeHint words a missing_scope refusal with the scopes Slack says the
// call needs (its "needed": any one of them will do), when it says.
func scopeHint(needed string) string {
	if needed == "" {
		return permanentHints["missing_scope"]
	}
	return fmt.Sprintf("the Slack app lacks the scope this call needs (Slack asks for %s): add it under OAuth & Permissions and reinstall the app",
		strings.ReplaceAll(needed, ",", " or "))
}

// classify maps a Web API error to the core's vocabulary: rate limits,
// network failures and 5xx become alert.Temporary (with Slack's Retry-After
// when it gave one); refusals stay permanent with a clear message.
func classify(err error, method, channel string) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return alert.Temporary(fmt.Errorf("slack %s in %s: %w", method, channel, err), rl.RetryAfter)
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		if sc.Code >= 500 || sc.Code == http.StatusTooManyRequests {
			return alert.Temporary(fmt.Errorf("slack %s in %s: %w", method, channel, err), 0)
		}
		return fmt.Errorf("slack %s in %s: %w", method, channel, err)
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if transientCodes[se.Err] {
			return alert.Temporary(fmt.Errorf("slack %s in %s: %w", method, channel, err), 0)
		}
		if se.Err == "missing_scope" {
			return fmt.Errorf("slack %s in %s: %s: %w", method, channel, scopeHint(se.Needed), err)
		}
		if hint, ok := permanentHints[se.Err]; ok {
			return fmt.Errorf("slack %s in %s: %s: %w", method, channel, hint, err)
		}
		return fmt.Errorf("slack %s in %s: %w", method, channel, err)
	}
	// Anything else is the network (net.Error, a reset, a timeout, an
	// unreadable body): a retry is cheap and bounded by the dispatcher.
	return alert.Temporary(fmt.Errorf("slack %s in %s: %w", method, channel, err), 0)
}
