package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// This file words the core's thread notes (alert.Note) in Slack mrkdwn:
// the core says what happened to which issue, the bot says it in Slack.

// PostNote replies note n in the thread of alert a's message.
func (b *Bot) PostNote(ctx context.Context, a alert.Alert, n alert.Note) error {
	text, err := noteText(n)
	if err != nil {
		return alert.Permanent(err)
	}
	_, _, err = b.api.PostMessageContext(ctx, a.Channel,
		slack.MsgOptionText(text, false), slack.MsgOptionTS(a.Thread()), slack.MsgOptionDisableLinkUnfurl())
	if err != nil {
		return classify(err, "chat.postMessage", a.Channel)
	}
	return nil
}

// noteText is the mrkdwn of note n, every text from Linear or Proliferate
// escaped. A NoteText note (queued by an older version) is already text.
func noteText(n alert.Note) (string, error) {
	is := n.Issue
	switch n.Kind {
	case alert.NoteText:
		return n.Text, nil
	case alert.NoteCreated:
		switch n.Via {
		case alert.ViaAuto:
			return fmt.Sprintf(":zap: Filed %s automatically by rule %d: %s%s\n%s", slackLink(is.URL, is.Identifier), n.Rule,
				escapeMrkdwn(is.Title), assignedTo(is), is.URL), nil
		case alert.ViaButton:
			who := "Filed"
			if n.SlackUser != "" {
				who = "<@" + n.SlackUser + "> filed"
			}
			how := "the default team"
			if n.Rule > 0 {
				how = fmt.Sprintf("rule %d", n.Rule)
			}
			return fmt.Sprintf(":white_check_mark: %s %s (%s): %s%s\n%s", who, slackLink(is.URL, is.Identifier), how,
				escapeMrkdwn(is.Title), assignedTo(is), is.URL), nil
		}
		return issueNote(":white_check_mark: Created", is, n.SlackUser, false), nil
	case alert.NoteAutoFailed:
		return fmt.Sprintf(":warning: Rule %d could not file this error in Linear%s: %s. File it with *Create Linear Issue*; "+
			"if the rule names a team, assignee, label or project Linear no longer has, fix it (`/proliferate-linear rules`).",
			n.Rule, teamSuffix(n.Team), escapeMrkdwn(strings.TrimSuffix(n.Problem, "."))), nil
	case alert.NoteLinked:
		return issueNote(":link: Linked", is, n.SlackUser, true), nil
	case alert.NoteStateChanged:
		ident, state := slackLink(is.URL, is.Identifier), escapeMrkdwn(is.StateName)
		switch is.StateType {
		case "started":
			return fmt.Sprintf(":arrow_forward: %s moved to *%s*.", ident, state), nil
		case "completed":
			return fmt.Sprintf(":white_check_mark: %s was completed (*%s*).", ident, state), nil
		case "canceled":
			return fmt.Sprintf(":no_entry_sign: %s was canceled (*%s*).", ident, state), nil
		}
		return fmt.Sprintf("%s moved to *%s*.", ident, state), nil
	case alert.NoteRegressed:
		verb := "completed"
		if is.StateType == "canceled" {
			verb = "canceled"
		}
		when := ""
		if !is.ClosedAt.IsZero() {
			when = " on " + is.ClosedAt.UTC().Format("2 Jan")
		}
		return fmt.Sprintf(":repeat: %s was %s%s; the error is back.", slackLink(is.URL, is.Identifier), verb, when), nil
	}
	return "", fmt.Errorf("thread note of unknown kind %q", n.Kind)
}

// issueNote is the thread reply naming an issue: what happened, the issue
// and its title, optionally its status, its assignee, and who asked.
func issueNote(what string, is alert.NoteIssue, slackUser string, withState bool) string {
	s := fmt.Sprintf("%s Linear issue %s: %s", what, slackLink(is.URL, is.Identifier), escapeMrkdwn(is.Title))
	if withState && is.StateName != "" {
		s += " · " + escapeMrkdwn(is.StateName)
	}
	if is.AssigneeName != "" {
		s += " · assigned to " + escapeMrkdwn(is.AssigneeName)
	}
	if slackUser != "" && slackUser != "api" {
		s += " · by <@" + slackUser + ">"
	}
	return s + "\n" + is.URL
}

// assignedTo is " · assigned to NAME", or "" for an unassigned issue.
func assignedTo(is alert.NoteIssue) string {
	if is.AssigneeName == "" {
		return ""
	}
	return " · assigned to " + escapeMrkdwn(is.AssigneeName)
}

func teamSuffix(team string) string {
	if team == "" {
		return ""
	}
	return " (team " + escapeMrkdwn(team) + ")"
}

// escapeMrkdwn makes untrusted text safe in Slack mrkdwn: &, < and > are
// escaped so that no alert text can create a mention, a channel ping or a
// link (https://api.slack.com/reference/surfaces/formatting#escaping).
func escapeMrkdwn(s string) string {
	return mrkdwnEscaper.Replace(s)
}

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackLink is a mrkdwn link to url labelled label, both made safe.
func slackLink(url, label string) string {
	url = strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E").Replace(url)
	return "<" + url + "|" + escapeMrkdwn(label) + ">"
}
