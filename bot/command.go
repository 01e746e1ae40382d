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
	"• `test`: check the Linear connection: user, workspace and a few recent issues\n" +
	"• `teams`: list the Linear teams issues can be created in\n" +
	"• `help`: this list\n" +
	"• `connect`, `disconnect`, `status`: manage the Linear connection (coming soon)"

// command answers /proliferate-linear. Replies are ephemeral, through the
// command's response_url, so only the caller sees them.
func (b *Bot) command(ctx context.Context, cmd slack.SlashCommand) {
	b.respond(ctx, cmd.ResponseURL, b.commandReply(ctx, cmd.Text))
}

func (b *Bot) commandReply(ctx context.Context, text string) string {
	sub := ""
	if f := strings.Fields(text); len(f) > 0 {
		sub = strings.ToLower(f[0])
	}
	switch sub {
	case "test":
		ws, err := b.svc.Workspace(ctx)
		if err != nil {
			b.log.WarnContext(ctx, "slash test", "err", err)
			return ":warning: " + alert.EscapeMrkdwn(alert.UserMessage(err))
		}
		return workspaceText(ws)
	case "teams":
		teams, err := b.svc.Teams(ctx)
		if err != nil {
			b.log.WarnContext(ctx, "slash teams", "err", err)
			return ":warning: " + alert.EscapeMrkdwn(alert.UserMessage(err))
		}
		b.teams.put("", teams) // a fresh list is worth keeping for the next modal.
		return teamsText(teams)
	case "connect", "disconnect", "status":
		return fmt.Sprintf("`%s` is coming soon. For now, Linear is connected with the LINEAR_API_KEY set where the bot runs.", sub)
	}
	return helpText
}

func workspaceText(ws alert.Workspace) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":white_check_mark: Connected to Linear as *%s* (%s)\n*Workspace:* %s",
		alert.EscapeMrkdwn(ws.UserName), alert.EscapeMrkdwn(ws.UserEmail), alert.EscapeMrkdwn(ws.OrgName))
	if len(ws.RecentIssues) == 0 {
		b.WriteString("\nNo recent issues.")
		return b.String()
	}
	b.WriteString("\n*Recent issues:*")
	for i, is := range ws.RecentIssues {
		if i == maxRecentIssues {
			break
		}
		ident := alert.EscapeMrkdwn(is.Identifier)
		if u, ok := safeURL(is.URL); ok {
			ident = alert.SlackLink(u, is.Identifier)
		}
		fmt.Fprintf(&b, "\n• %s %s", ident, mrkdwnWithin(is.Title, 200))
		if is.StateName != "" {
			fmt.Fprintf(&b, " (%s)", alert.EscapeMrkdwn(is.StateName))
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
		fmt.Fprintf(&b, "\n• %s `%s`", alert.EscapeMrkdwn(t.Name), alert.EscapeMrkdwn(t.Key))
		if b.Len() > maxText-100 {
			b.WriteString("\n…")
			break
		}
	}
	return b.String()
}

// respond posts an ephemeral reply to a response_url
// (https://api.slack.com/interactivity/handling#message_responses).
func (b *Bot) respond(ctx context.Context, responseURL, text string) {
	if responseURL == "" {
		return
	}
	err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, b.http, &slack.WebhookMessage{
		ResponseType: slack.ResponseTypeEphemeral,
		Text:         text,
	})
	if err != nil {
		// A response_url lets anyone post for 30 minutes: keep it out of logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		b.log.WarnContext(ctx, "slack response_url reply failed", "err", err)
	}
}
