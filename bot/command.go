package bot

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// maxRecentIssues is how many recent issues `test` lists.
const maxRecentIssues = 5

// helpText lists the subcommands of /proliferate-linear.
const helpText = "*/proliferate-linear* subcommands:\n" +
	"• `status`: the Linear connection: workspace, who connected it, its health, the default team\n" +
	"• `test`: check the Linear connection: user, workspace and a few recent issues\n" +
	"• `teams`: list the Linear teams issues can be created in\n" +
	"• `connect`: connect (or reconnect) a Linear workspace (admins)\n" +
	"• `disconnect`: disconnect Linear; links between errors and issues are kept (admins)\n" +
	"• `default-team KEY`: the team new issues start in (admins)\n" +
	"• `rules`: the routing rules; `rules add …`, `rules remove N`, `rules move N M` (admins)\n" +
	"• `help`: this list"

// reply is an answer to a slash command or to a click in a message,
// through its response_url.
type reply struct {
	// Text is the whole answer without Blocks, the notification text with them.
	Text   string
	Blocks []slack.Block
	// Replace replaces the message whose button was clicked, rather than
	// adding one.
	Replace bool
}

func textReply(s string) reply { return reply{Text: s} }

// command answers /proliferate-linear. Replies are ephemeral, through the
// command's response_url, so only the caller sees them: every subcommand
// is about the caller's own setup, none is news for the channel.
func (b *Bot) command(ctx context.Context, cmd slack.SlashCommand) {
	b.respondReply(ctx, cmd.ResponseURL, b.commandReply(ctx, cmd))
}

func (b *Bot) commandReply(ctx context.Context, cmd slack.SlashCommand) reply {
	sub, args := "", []string(nil)
	if f := strings.Fields(cmd.Text); len(f) > 0 {
		sub, args = strings.ToLower(f[0]), f[1:]
	}
	team, user := cmd.TeamID, cmd.UserID
	switch sub {
	case "test":
		ws, err := b.svc.Workspace(ctx)
		if err != nil {
			b.log.WarnContext(ctx, "slash test", "err", err)
			return b.errorReply("", err)
		}
		return textReply(workspaceText(ws))
	case "teams":
		teams, err := b.svc.Teams(ctx)
		if err != nil {
			b.log.WarnContext(ctx, "slash teams", "err", err)
			return b.errorReply("", err)
		}
		b.teams.put("", teams) // a fresh list is worth keeping for the next modal.
		return textReply(teamsText(teams))
	case "connect":
		return b.connectCommand(ctx, team, user)
	case "disconnect":
		return b.disconnectCommand(ctx, team, user)
	case "status":
		return b.statusCommand(ctx, team)
	case "default-team":
		key := ""
		if len(args) > 0 {
			key = args[0]
		}
		return b.defaultTeamCommand(ctx, team, user, key)
	case "rules":
		return b.rulesCommand(ctx, team, user, cmd.Text)
	case "", "help":
		return textReply(helpText)
	}
	return textReply("I don't know `" + escapeMrkdwn(alert.Truncate(strings.ReplaceAll(sub, "`", "'"), 40)) + "`. " + helpText)
}

func workspaceText(ws alert.Workspace) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":white_check_mark: Connected to Linear as *%s* (%s)\n*Workspace:* %s",
		escapeMrkdwn(ws.UserName), escapeMrkdwn(ws.UserEmail), escapeMrkdwn(ws.OrgName))
	if len(ws.RecentIssues) == 0 {
		b.WriteString("\nNo recent issues.")
		return b.String()
	}
	b.WriteString("\n*Recent issues:*")
	for i, is := range ws.RecentIssues {
		if i == maxRecentIssues {
			break
		}
		ident := escapeMrkdwn(is.Identifier)
		if u, ok := safeURL(is.URL); ok {
			ident = slackLink(u, is.Identifier)
		}
		fmt.Fprintf(&b, "\n• %s %s", ident, mrkdwnWithin(is.Title, 200))
		if is.StateName != "" {
			fmt.Fprintf(&b, " (%s)", escapeMrkdwn(is.StateName))
		}
	}
	return b.String()
}

func teamsText(teams []alert.Team) string {
	if len(teams) == 0 {
		return "Linear has no teams this account can see."
	}
	var b strings.Builder
	b.WriteString("*Linear teams:*")
	for _, t := range teams {
		fmt.Fprintf(&b, "\n• %s `%s`", escapeMrkdwn(t.Name), escapeMrkdwn(t.Key))
		if b.Len() > maxText-100 {
			b.WriteString("\n…")
			break
		}
	}
	return b.String()
}

// respond posts an ephemeral text reply to a response_url.
func (b *Bot) respond(ctx context.Context, responseURL, text string) {
	b.respondReply(ctx, responseURL, textReply(text))
}

// respondReply posts an ephemeral reply to a response_url
// (https://api.slack.com/interactivity/handling#message_responses).
func (b *Bot) respondReply(ctx context.Context, responseURL string, r reply) {
	if responseURL == "" {
		return
	}
	msg := &slack.WebhookMessage{
		ResponseType:    slack.ResponseTypeEphemeral,
		Text:            r.Text,
		ReplaceOriginal: r.Replace,
	}
	if len(r.Blocks) > 0 {
		msg.Blocks = &slack.Blocks{BlockSet: r.Blocks}
	}
	err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, b.http, msg)
	if err != nil {
		// A response_url lets anyone post for 30 minutes: keep it out of logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		b.log.WarnContext(ctx, "slack response_url reply failed", "err", err)
	}
}
