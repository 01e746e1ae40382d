package bot

import (
	"context"
	"errors"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// Action IDs of the connection's interactive elements.
const (
	// actionConnect is "Connect Linear" wherever Linear turned out not
	// connected or its grant dead: it answers with a connect link (admins)
	// or the refusal (everyone else).
	actionConnect = "connect_linear"
	// actionOpenConnect is the url button that opens the connect link;
	// Slack still sends block_actions for it, which are acked and ignored.
	actionOpenConnect = "open_connect_link"
	// actionDisconnect disconnects, behind a confirmation dialog; its value
	// is the Linear organization ID it was offered for.
	actionDisconnect = "disconnect_linear"
	// actionSetDefaultTeam is the team select of the message that asks an
	// admin for the default team after connecting.
	actionSetDefaultTeam = "set_default_team"
)

// needsConnect says whether connecting (again) is what fixes err.
func needsConnect(err error) bool {
	return errors.Is(err, alert.ErrNotConnected) || errors.Is(err, alert.ErrUnauthorized)
}

// offerConnect says whether to put a Connect Linear button next to err:
// only when connecting fixes it and OAuth is configured to do it.
func (b *Bot) offerConnect(err error) bool {
	return b.connector != nil && needsConnect(err)
}

// errorReply puts err in words, after prefix (mrkdwn), with a Connect
// Linear button when connecting fixes it.
func (b *Bot) errorReply(prefix string, err error) reply {
	text := ":warning: " + prefix + escapeMrkdwn(alert.UserMessage(err))
	if !b.offerConnect(err) {
		return textReply(text)
	}
	return reply{Text: text, Blocks: []slack.Block{
		slack.NewSectionBlock(mrkdwn(text), nil, nil),
		slack.NewActionBlock("connect", connectButton()),
	}}
}

// notConfigured explains, for connect, why there is nothing to connect
// and how an operator sets OAuth up.
func (b *Bot) notConfigured() string {
	const oauthSetup = "set LINEAR_CLIENT_ID, LINEAR_CLIENT_SECRET and PUBLIC_URL where the bot runs " +
		"(register PUBLIC_URL/api/v1/integrations/linear/callback as the redirect URI of your Linear OAuth app), then restart it"
	if b.apiKeyInUse {
		return "Linear is connected with a personal API key (LINEAR_API_KEY) set where the bot runs, so there is nothing to connect here. " +
			"To connect with OAuth instead, " + oauthSetup + "."
	}
	return "Linear OAuth is not configured. To connect, " + oauthSetup + ". For a quick start, LINEAR_API_KEY works too."
}

// connectCommand answers `connect` and the Connect Linear button: a
// short-lived, single-use link for an admin.
func (b *Bot) connectCommand(ctx context.Context, team, user string) reply {
	if r, ok := b.permitted(ctx, team, user, doConnect); !ok {
		return r
	}
	if b.connector == nil {
		return textReply(b.notConfigured())
	}
	log := b.log.With("team", team, "user", user)
	note := ""
	cur, err := b.connector.Connection(ctx, team)
	switch {
	case err == nil && cur.Status == alert.ConnectionNeedsReconnect:
		note = "The connection to *" + escapeMrkdwn(cur.OrgName) + "* needs reconnecting: " + reasonWords(cur.StatusReason) + "."
	case err == nil:
		note = "*" + escapeMrkdwn(cur.OrgName) + "* is connected now. Connecting it again renews its tokens; " +
			"connecting another Linear workspace replaces it once you confirm."
	case !errors.Is(err, alert.ErrNotConnected):
		// The link works without knowing; only the note is missing.
		log.WarnContext(ctx, "connect: read connection", "err", err)
	}
	link, err := b.connector.ConnectURL(ctx, team, user)
	if err != nil {
		log.ErrorContext(ctx, "connect link", "err", err)
		if errors.Is(err, alert.ErrInvalid) {
			return textReply(":warning: Could not make a connect link: PUBLIC_URL is missing or wrong where the bot runs.")
		}
		return textReply(":warning: Could not make a connect link. Please try again in a moment.")
	}
	r, ok := connectReply(link, note)
	if !ok {
		log.ErrorContext(ctx, "connect link is not a usable http(s) url")
		return textReply(":warning: Could not make a connect link: PUBLIC_URL is missing or wrong where the bot runs.")
	}
	log.InfoContext(ctx, "connect link given")
	return r
}

// connectClicked answers the Connect Linear button: in a modal by turning
// it into the link (or the refusal), in a message with an ephemeral reply.
func (b *Bot) connectClicked(ctx context.Context, cb slack.InteractionCallback) {
	r := b.connectCommand(ctx, cb.Team.ID, cb.User.ID)
	if fromHome(cb) {
		b.answer(ctx, cb, r)
		return
	}
	if cb.View.ID != "" {
		b.updateView(ctx, b.log.With("view_id", cb.View.ID, "user", cb.User.ID), &cb.View, replyModal("Connect Linear", r))
		return
	}
	b.respondReply(ctx, cb.ResponseURL, r)
}

// disconnectCommand answers `disconnect` with a confirmation: the button
// behind a dialog does it.
func (b *Bot) disconnectCommand(ctx context.Context, team, user string) reply {
	if r, ok := b.permitted(ctx, team, user, doDisconnect); !ok {
		return r
	}
	if b.connector == nil {
		if b.apiKeyInUse {
			return textReply("Linear is connected with a personal API key (LINEAR_API_KEY) set where the bot runs: remove it there to disconnect.")
		}
		return textReply("Linear is not connected: there is nothing to disconnect.")
	}
	cur, err := b.connector.Connection(ctx, team)
	switch {
	case errors.Is(err, alert.ErrNotConnected):
		return textReply("Linear is not connected: there is nothing to disconnect.")
	case err != nil:
		b.log.WarnContext(ctx, "disconnect: read connection", "team", team, "err", err)
		return b.errorReply("", err)
	}
	return disconnectPrompt(cur)
}

// disconnectConfirmed runs a confirmed Disconnect, for the workspace the
// prompt named: if the connection changed since, it asks again rather
// than disconnect a workspace the admin did not see.
func (b *Bot) disconnectConfirmed(ctx context.Context, cb slack.InteractionCallback, orgID string) {
	team, user := cb.Team.ID, cb.User.ID
	log := b.log.With("team", team, "user", user)
	answer := func(r reply) { b.answer(ctx, cb, r) }
	if r, ok := b.permitted(ctx, team, user, doDisconnect); !ok {
		answer(r)
		return
	}
	if b.connector == nil {
		answer(textReply(b.notConfigured()))
		return
	}
	cur, err := b.connector.Connection(ctx, team)
	switch {
	case errors.Is(err, alert.ErrNotConnected):
		answer(reply{Text: "Linear is already disconnected.", Replace: true})
		return
	case err != nil:
		log.WarnContext(ctx, "disconnect: read connection", "err", err)
		answer(b.errorReply("Nothing was disconnected. ", err))
		return
	case cur.OrgID != orgID:
		answer(reply{Replace: true, Text: "The Linear connection changed meanwhile: it is now to *" + escapeMrkdwn(cur.OrgName) +
			"*. Run `/proliferate-linear disconnect` again to disconnect it."})
		return
	}
	err = b.connector.Disconnect(ctx, team)
	if err != nil && !errors.Is(err, alert.ErrNotConnected) {
		log.WarnContext(ctx, "disconnect", "linear_org", orgID, "err", err)
		answer(textReply(":warning: Nothing was disconnected. " + escapeMrkdwn(alert.UserMessage(err))))
		return
	}
	// The lists came from the workspace just disconnected.
	b.forgetLinear()
	log.InfoContext(ctx, "linear disconnected from slack", "linear_org", orgID)
	answer(reply{Replace: true, Text: "Disconnected from " + escapeMrkdwn(cur.OrgName) +
		". Existing links between errors and issues are kept."})
}

// statusCommand answers `status`, for every member: which workspace,
// connected by whom and when, whether it works, the default team.
func (b *Bot) statusCommand(ctx context.Context, team string) reply {
	if b.connector == nil {
		if b.apiKeyInUse {
			return textReply("*Linear:* using a personal API key (LINEAR_API_KEY) set where the bot runs; OAuth is not configured." +
				defaultTeamLine("", b.defaultTeam))
		}
		return textReply("*Linear:* not connected. Neither OAuth (LINEAR_CLIENT_ID) nor LINEAR_API_KEY is configured where the bot runs.")
	}
	c, err := b.connector.Connection(ctx, team)
	switch {
	case errors.Is(err, alert.ErrNotConnected) && b.apiKeyInUse:
		return textReply("*Linear:* using a personal API key (LINEAR_API_KEY) set where the bot runs. " +
			"A workspace admin can connect with OAuth instead: `/proliferate-linear connect`." + defaultTeamLine("", b.defaultTeam))
	case errors.Is(err, alert.ErrNotConnected):
		return withConnectButton("*Linear:* not connected. A workspace admin can connect it with `/proliferate-linear connect`.")
	case err != nil:
		b.log.WarnContext(ctx, "status: read connection", "team", team, "err", err)
		return b.errorReply("", err)
	}
	text := statusText(c, b.defaultTeam)
	if c.Status == alert.ConnectionNeedsReconnect {
		return withConnectButton(text)
	}
	return textReply(text)
}
