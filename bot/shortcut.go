package bot

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// Message shortcuts ("More actions" on any message; manifest.yml declares
// them). Both reuse the alert flows: the message becomes (or finds) an
// alert, then the very create or link modal of the alert's buttons opens.
const (
	shortcutCreate = "create_linear_issue"
	shortcutLink   = "link_linear_issue"
)

// shortcutLookupBudget bounds the Slack reads (chat.getPermalink,
// users.info) done before views.open for a message that links no
// Proliferate issue: the trigger_id lives 3 s, and a read that is late
// only leaves the description without the permalink or the author's name.
const shortcutLookupBudget = 800 * time.Millisecond

// routeShortcut decides the work for a message_action. It is pure.
func (b *Bot) routeShortcut(cb slack.InteractionCallback) job {
	if cb.TriggerID == "" || cb.Channel.ID == "" || cb.Message.Timestamp == "" {
		return nil
	}
	switch cb.CallbackID {
	case shortcutCreate:
		return func(ctx context.Context) { b.shortcut(ctx, cb, false) }
	case shortcutLink:
		return func(ctx context.Context) { b.shortcut(ctx, cb, true) }
	}
	return nil
}

// shortcut opens the create (or, with link, the Link existing) modal for
// the message cb names. A message that links a Proliferate issue is that
// issue's alert, pre-filled as the alert's buttons would; any other
// message is keyed by its channel and ts, titled by its first line and
// described by a quote with its author and permalink. Linear is never
// called before views.open; the store and at most two short Slack reads
// are.
func (b *Bot) shortcut(ctx context.Context, cb slack.InteractionCallback, link bool) {
	m := cb.Message
	channel, ts := cb.Channel.ID, m.Timestamp
	log := b.log.With("channel", channel, "ts", ts, "user", cb.User.ID, "callback_id", cb.CallbackID)
	blocks, _ := json.Marshal(m.Blocks)
	atts, _ := json.Marshal(m.Attachments)
	texts := messageTexts(m.Text, blocks, atts)

	var (
		a       alert.Alert
		prefill string
	)
	if il, ok := b.issueLinks.find(texts); ok {
		a = b.issueLinks.readAlert(il, channel, ts, texts)
	} else {
		permalink, author := b.messageOrigin(ctx, cb)
		if permalink == "" && b.svc.PermalinkBase != "" {
			// Slack's permalinks have this shape; the workspace URL came
			// from auth.test.
			permalink = b.svc.PermalinkBase + channel + "/p" + strings.Replace(ts, ".", "", 1)
		}
		if permalink == "" {
			// The Linear attachment is the way back to the message: without
			// its link there is nothing to attach.
			log.WarnContext(ctx, "shortcut: no permalink for the message")
			b.openShortcutError(ctx, log, cb, ":warning: Slack did not give this message's link, which the Linear issue needs to point back here. Please use the shortcut again in a moment.")
			return
		}
		text := messagePlainText(m.Text)
		a = alert.Alert{ErrorID: alert.SlackMessageErrorID(channel, ts), Channel: channel, ThreadTS: ts,
			URL: permalink, ErrorMessage: text, LastSeen: tsTime(ts)}
		prefill = alert.MessageDescription(text, author, permalink, maxDescriptionInput)
	}
	stored, err := b.svc.AlertForMessage(ctx, a)
	if err != nil {
		log.ErrorContext(ctx, "shortcut: alert for the message", "err", err)
		b.openShortcutError(ctx, log, cb, ":warning: "+escapeMrkdwn(alert.UserMessage(err)))
		return
	}
	log.InfoContext(ctx, "shortcut on a message", "alert_id", stored.ID, "error_id", stored.ErrorID)
	if link {
		b.openLink(ctx, cb, stored.ID)
		return
	}
	b.openCreateWith(ctx, cb, stored.ID, false, prefill)
}

// openShortcutError opens a modal saying what went wrong (mrkdwn text).
func (b *Bot) openShortcutError(ctx context.Context, log *slog.Logger, cb slack.InteractionCallback, text string) {
	b.openView(ctx, log, cb.TriggerID, infoModal(text, modalMeta{Channel: cb.Channel.ID, TS: cb.Message.Timestamp}))
}

// messageOrigin reads the message's permalink (chat.getPermalink) and its
// author's name (users.info, cached; a bot's own name needs no call), at
// once and within shortcutLookupBudget. What fails or is late comes back
// empty.
func (b *Bot) messageOrigin(ctx context.Context, cb slack.InteractionCallback) (permalink, author string) {
	ctx, cancel := context.WithTimeout(ctx, shortcutLookupBudget)
	defer cancel()
	m := cb.Message
	var wg sync.WaitGroup
	wg.Go(func() {
		p, err := b.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: cb.Channel.ID, Ts: m.Timestamp})
		if err != nil {
			b.log.DebugContext(ctx, "chat.getPermalink for a shortcut", "channel", cb.Channel.ID, "err", err)
			return
		}
		permalink = p
	})
	switch {
	case m.BotProfile != nil && m.BotProfile.Name != "":
		author = m.BotProfile.Name
	case m.Username != "":
		author = m.Username
	case m.User != "":
		wg.Go(func() {
			author = "Slack user " + m.User // when users.info cannot say more
			if u, err := b.user(ctx, m.User); err == nil && u.name != "" {
				author = u.name
			}
		})
	}
	wg.Wait()
	return permalink, author
}

// messagePlainText is a message's text as a reader sees it, line by line
// (links as their labels, mentions as @id), for the issue's title and quote.
func messagePlainText(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = plainLine(l, nil)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
