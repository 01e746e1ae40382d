package bot

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// Block Kit for the Linear connection: the connect link, the disconnect
// confirmation, status, and the modal a Connect Linear click turns into.
// Everything from Linear (workspace, user and team names) is escaped.

const callbackConnect = "connect_linear"

// connectButton is the Connect Linear button shown next to a missing or
// dead connection.
func connectButton() *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(actionConnect, "", plain("Connect Linear")).WithStyle(slack.StylePrimary)
}

// withConnectButton is text with a Connect Linear button under it.
func withConnectButton(text string) reply {
	return reply{Text: text, Blocks: []slack.Block{
		slack.NewSectionBlock(mrkdwn(text), nil, nil),
		slack.NewActionBlock("connect", connectButton()),
	}}
}

// connectReply is the message that carries a connect link; note (mrkdwn)
// says what connecting changes. ok is false if link is not a usable URL.
func connectReply(link, note string) (r reply, ok bool) {
	u, ok := safeURL(link)
	if !ok {
		return reply{}, false
	}
	text := "*Connect Linear* to this Slack workspace."
	if note != "" {
		text += "\n" + note
	}
	open := slack.NewButtonBlockElement(actionOpenConnect, "", plain("Connect Linear")).WithStyle(slack.StylePrimary)
	open.URL = u
	return reply{
		// The notification text leaves the link out: it is single use, and
		// notification previews end up in places the button does not.
		Text: "Connect Linear: open the link in this message (valid for 10 minutes, single use).",
		Blocks: []slack.Block{
			slack.NewSectionBlock(mrkdwn(text), nil, nil),
			slack.NewActionBlock("connect", open),
			slack.NewContextBlock("connect_note", mrkdwn("The link is valid for 10 minutes, single use. "+
				"Once connected, I'll message you to pick the default team.")),
		},
	}, true
}

// disconnectPrompt asks an admin to confirm disconnecting c.
func disconnectPrompt(c alert.Connection) reply {
	name := escapeMrkdwn(c.OrgName)
	text := "Disconnect the Linear workspace *" + name + "*? Its tokens are revoked at Linear and deleted here. " +
		"Existing links between errors and issues are kept."
	return reply{Text: text, Blocks: []slack.Block{
		slack.NewSectionBlock(mrkdwn(text), nil, nil),
		slack.NewActionBlock("disconnect", disconnectButton(c)),
	}}
}

// disconnectButton disconnects c behind Slack's confirmation dialog; its
// value names the workspace, so a connection changed since is not the
// one disconnected.
func disconnectButton(c alert.Connection) *slack.ButtonBlockElement {
	btn := slack.NewButtonBlockElement(actionDisconnect, c.OrgID, plain("Disconnect")).WithStyle(slack.StyleDanger)
	btn.Confirm = slack.NewConfirmationBlockObject(
		plain("Disconnect Linear?"),
		plain(alert.Truncate("Nobody can create or link Linear issues from Slack until an admin connects Linear again. "+
			"Existing links are kept.", maxConfirmText)),
		plain("Disconnect"),
		plain("Cancel"),
	)
	btn.Confirm.Style = slack.StyleDanger
	return btn
}

// statusText describes a connection; configDefault is LINEAR_DEFAULT_TEAM.
func statusText(c alert.Connection, configDefault string) string {
	var b strings.Builder
	b.WriteString("*Linear workspace:* " + escapeMrkdwn(c.OrgName))
	if c.OrgURLKey != "" {
		b.WriteString(" (`" + escapeMrkdwn(c.OrgURLKey) + "`)")
	}
	b.WriteString("\n*Connected:* ")
	if c.ConnectedBy != "" {
		b.WriteString("by " + mentions([]string{c.ConnectedBy}) + " ")
	}
	if !c.CreatedAt.IsZero() {
		b.WriteString("on " + slackDate(c.CreatedAt) + " ")
	}
	if c.UserName != "" {
		b.WriteString("as Linear user " + escapeMrkdwn(c.UserName))
		if c.UserEmail != "" {
			b.WriteString(" (" + escapeMrkdwn(c.UserEmail) + ")")
		}
	}
	if c.Status == alert.ConnectionNeedsReconnect {
		b.WriteString("\n*Status:* :warning: needs reconnecting: " + reasonWords(c.StatusReason) +
			". Run `/proliferate-linear connect` (workspace admins).")
	} else {
		b.WriteString("\n*Status:* :white_check_mark: active")
	}
	b.WriteString(defaultTeamLine(c.DefaultTeamKey, configDefault))
	return b.String()
}

// defaultTeamLine is the status line on the default team: the
// connection's own, else LINEAR_DEFAULT_TEAM's.
func defaultTeamLine(own, configDefault string) string {
	switch {
	case own != "":
		return "\n*Default team:* `" + escapeMrkdwn(own) + "`"
	case configDefault != "":
		return "\n*Default team:* `" + escapeMrkdwn(configDefault) + "` (from LINEAR_DEFAULT_TEAM)"
	}
	return "\n*Default team:* none. Set one with `/proliferate-linear default-team KEY`."
}

// reasonWords puts the reason a connection needs reconnecting in words.
// The reasons come from linear/oauth's token source: an OAuth error code,
// "HTTP <status>", or a sentence; none carries a secret.
func reasonWords(reason string) string {
	switch {
	case reason == "":
		return "Linear no longer accepts the app's access"
	case reason == "invalid_grant":
		return "Linear refused to renew the access (the app was revoked in Linear, or its grant expired)"
	case strings.HasPrefix(reason, "HTTP "):
		return "Linear refused the app's credentials (" + escapeMrkdwn(reason) + ")"
	case strings.Contains(reason, "access token refused"):
		return "Linear refused the access token, even after renewing it"
	}
	return "Linear said " + escapeMrkdwn(alert.Truncate(reason, 200))
}

// replyModal shows a reply in a modal: what a Connect Linear click in a
// modal turns the modal into.
func replyModal(title string, r reply) slack.ModalViewRequest {
	blocks := r.Blocks
	if len(blocks) == 0 {
		blocks = []slack.Block{slack.NewSectionBlock(mrkdwn(r.Text), nil, nil)}
	}
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: callbackConnect,
		Title:      plain(alert.Truncate(title, maxModalTitle)),
		Close:      plain("Close"),
		Blocks:     slack.Blocks{BlockSet: blocks},
	}
}

// defaultTeamPrompt is the direct message that asks the admin who
// connected c for the default team. Without teams (Linear did not list
// them) it says how to set it with the slash command.
func defaultTeamPrompt(c alert.Connection, teams []alert.Team) (string, []slack.Block) {
	head := "Connected to " + escapeMrkdwn(c.OrgName) + "."
	question := head + " Which team should new issues go to by default?"
	later := "Change it any time with `/proliferate-linear default-team KEY`."
	if len(teams) == 0 {
		text := head + " Pick the default team for new issues with `/proliferate-linear default-team KEY`; " +
			"`/proliferate-linear teams` lists the keys."
		return text, []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}
	}
	opts, sel, all := defaultTeamOptions(teams, c.DefaultTeamKey)
	if !all {
		later = fmt.Sprintf("Showing the first %d of %d teams; for another, use `/proliferate-linear default-team KEY`.", maxOptions, len(teams))
	}
	pick := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a team"), actionSetDefaultTeam, opts...)
	pick.InitialOption = sel
	return question, []slack.Block{
		slack.NewSectionBlock(mrkdwn(question), nil, slack.NewAccessory(pick), slack.SectionBlockOptionBlockID("default_team")),
		slack.NewContextBlock("default_team_note", mrkdwn(later)),
	}
}

// defaultTeamOptions are the options of a default-team select, the one whose
// key is current selected (nil if none). all is false when there were
// more teams than a select holds.
func defaultTeamOptions(teams []alert.Team, current string) (opts []*slack.OptionBlockObject, sel *slack.OptionBlockObject, all bool) {
	opts = make([]*slack.OptionBlockObject, 0, min(len(teams), maxOptions))
	for _, t := range teams {
		if len(opts) == maxOptions {
			return opts, sel, false
		}
		// The value is the key: SetDefaultTeam takes keys, which people type.
		if t.Key == "" || len(t.Key) > maxOptionValue {
			continue
		}
		o := slack.NewOptionBlockObject(t.Key, plain(alert.Truncate(t.Name+" ("+t.Key+")", maxButtonText)), nil)
		opts = append(opts, o)
		if strings.EqualFold(t.Key, current) {
			sel = o
		}
	}
	return opts, sel, true
}

// defaultTeamDone is what the question becomes once answered; label is the
// option's text, "Engineering (ENG)".
func defaultTeamDone(label string) (string, []slack.Block) {
	text := "Default team: " + escapeMrkdwn(label) + ". Change it with `/proliferate-linear default-team KEY`."
	return text, []slack.Block{slack.NewSectionBlock(mrkdwn(":white_check_mark: "+text), nil, nil)}
}
