package bot

import (
	"context"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// PostStatus answers a later Proliferate message for an error the channel
// already has an alert for, in that message's thread: the linked issue and
// its status, or, before anyone created or linked one, a pointer to the
// alert's message where the buttons are. It never offers to create: one
// error, one place to act.
func (b *Bot) PostStatus(ctx context.Context, a alert.Alert, link *alert.IssueLink, threadTS string) error {
	where := "the first alert's thread"
	// The permalink of the bot's own message (a reply, when the alert
	// lives under Proliferate's message) leads straight to the buttons.
	if p, err := b.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: a.Channel, Ts: a.MessageTS}); err == nil && p != "" {
		where = slackLink(p, where)
	} else if err != nil {
		b.log.DebugContext(ctx, "chat.getPermalink for a status reply", "alert_id", a.ID, "err", err)
	}
	text := trackedText(link, where)
	_, _, err := b.api.PostMessageContext(ctx, a.Channel,
		slack.MsgOptionText(text, false), slack.MsgOptionTS(threadTS), slack.MsgOptionDisableLinkUnfurl())
	if err != nil {
		return classify(err, "chat.postMessage", a.Channel)
	}
	return nil
}

// trackedText is PostStatus's reply; where is already mrkdwn.
func trackedText(link *alert.IssueLink, where string) string {
	if link == nil {
		return ":eyes: This error already has an alert in this channel: create or link its Linear issue from " + where + "."
	}
	issue := slackLink(link.URL, link.Identifier)
	if link.Closed() {
		verb := "completed"
		if link.StateType == "canceled" {
			verb = "canceled"
		}
		return ":repeat: " + issue + " was " + verb + "; the error is back. Reopen it or create a new issue from " + where + ".\n" + link.URL
	}
	s := ":link: Tracked in Linear: " + issue + ": " + escapeMrkdwn(link.Title)
	if link.StateName != "" {
		s += " · " + escapeMrkdwn(link.StateName)
	}
	if link.AssigneeName != "" {
		s += " · assigned to " + escapeMrkdwn(link.AssigneeName)
	}
	return s + "\n" + link.URL
}
