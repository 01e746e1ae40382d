package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/alert"
)

// The default team is the team the create modal starts with: the
// connection's own (chosen by an admin right after connecting, or with
// `/proliferate-linear default-team KEY`), else LINEAR_DEFAULT_TEAM.

// AskDefaultTeam asks the admin who connected c (c.ConnectedBy), in a
// direct message, which team new issues should go to by default. Call it
// after a connect succeeds. The DM needs the App Home messages tab (see
// manifest.yml). When Linear cannot list the teams, the message says how
// to set the default with the slash command instead. It first drops the
// lists cached from Linear, as a disconnect does.
func (b *Bot) AskDefaultTeam(ctx context.Context, c alert.Connection) error {
	// A new connection may be to another workspace than the cached lists,
	// whoever connected it.
	b.forgetLinear()
	if c.ConnectedBy == "" {
		return fmt.Errorf("ask default team: connection of %s has no connecting user: %w", c.SlackTeamID, alert.ErrInvalid)
	}
	log := b.log.With("team", c.SlackTeamID, "user", c.ConnectedBy, "linear_org", c.OrgID)
	var teams []alert.Team
	if b.svc != nil {
		var err error
		if teams, err = b.teamList(ctx); err != nil {
			log.WarnContext(ctx, "ask default team: teams", "err", err)
		}
	}
	text, blocks := defaultTeamPrompt(c, teams)
	// chat.postMessage with a user ID as channel posts in the app's DM
	// with that user (https://api.slack.com/methods/chat.postMessage#app_home).
	_, _, err := b.api.PostMessageContext(ctx, c.ConnectedBy,
		slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...), slack.MsgOptionDisableLinkUnfurl())
	if err != nil {
		return fmt.Errorf("ask default team: %w", classify(err, "chat.postMessage", c.ConnectedBy))
	}
	log.InfoContext(ctx, "asked for the default team")
	return nil
}

// defaultTeamPicked answers a pick in the AskDefaultTeam message: it sets
// the default team and turns the question into the answer.
func (b *Bot) defaultTeamPicked(ctx context.Context, cb slack.InteractionCallback, act slack.BlockAction) {
	team, user := cb.Team.ID, cb.User.ID
	key := act.SelectedOption.Value
	log := b.log.With("team", team, "user", user, "team_key", key)
	if r, ok := b.permitted(ctx, team, user, doDefaultTeam); !ok {
		b.answer(ctx, cb, r)
		return
	}
	if b.connector == nil {
		b.answer(ctx, cb, textReply(b.notConfigured()))
		return
	}
	if err := b.connector.SetDefaultTeam(ctx, team, key); err != nil {
		log.WarnContext(ctx, "set default team", "err", err)
		b.answer(ctx, cb, b.defaultTeamError(ctx, key, err))
		return
	}
	label := key
	if act.SelectedOption.Text != nil && act.SelectedOption.Text.Text != "" {
		label = act.SelectedOption.Text.Text // our own "Engineering (ENG)".
	}
	text, blocks := defaultTeamDone(label)
	if fromHome(cb) {
		b.answer(ctx, cb, reply{Text: text, Blocks: blocks})
		log.InfoContext(ctx, "default team set from the slack home")
		return
	}
	channel := or(cb.Container.ChannelID, cb.Channel.ID)
	ts := or(cb.Container.MessageTs, cb.Message.Timestamp)
	if _, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts,
		slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...)); err != nil {
		log.WarnContext(ctx, "default team set; updating the question failed", "err", classify(err, "chat.update", channel))
		b.respond(ctx, cb.ResponseURL, text)
	}
	log.InfoContext(ctx, "default team set from slack")
}

// defaultTeamCommand answers `default-team [KEY]`: without a key it shows
// the current default; with one it sets it, for admins.
func (b *Bot) defaultTeamCommand(ctx context.Context, team, user, key string) reply {
	if r, ok := b.permitted(ctx, team, user, doDefaultTeam); !ok {
		return r
	}
	if b.connector == nil {
		if b.defaultTeam == "" {
			return textReply("Without an OAuth connection, the default team is LINEAR_DEFAULT_TEAM where the bot runs; it is not set.")
		}
		return textReply("Without an OAuth connection, the default team is LINEAR_DEFAULT_TEAM where the bot runs: `" +
			escapeMrkdwn(b.defaultTeam) + "`.")
	}
	if key == "" {
		c, err := b.connector.Connection(ctx, team)
		if err != nil && !errors.Is(err, alert.ErrNotConnected) {
			return b.errorReply("", err)
		}
		return textReply(strings.TrimPrefix(defaultTeamLine(c.DefaultTeamKey, b.defaultTeam), "\n") +
			"\nUsage: `/proliferate-linear default-team KEY`; `/proliferate-linear teams` lists the keys.")
	}
	if err := b.connector.SetDefaultTeam(ctx, team, key); err != nil {
		b.log.WarnContext(ctx, "set default team", "team", team, "user", user, "team_key", key, "err", err)
		return b.defaultTeamError(ctx, key, err)
	}
	label := "`" + escapeMrkdwn(strings.ToUpper(key)) + "`"
	if teams, err := b.teamList(ctx); err == nil {
		for _, t := range teams {
			if strings.EqualFold(t.Key, key) {
				label = escapeMrkdwn(t.Name + " (" + t.Key + ")")
			}
		}
	}
	b.log.InfoContext(ctx, "default team set from slack", "team", team, "user", user, "team_key", key)
	return textReply("Default team: " + label + ". New issues start in it.")
}

// defaultTeamError words a failed SetDefaultTeam; an unknown key lists the
// keys there are.
func (b *Bot) defaultTeamError(ctx context.Context, key string, err error) reply {
	if !errors.Is(err, alert.ErrInvalid) {
		return b.errorReply("The default team was not changed. ", err)
	}
	text := "No Linear team has the key `" + escapeMrkdwn(alert.Truncate(strings.ReplaceAll(key, "`", "'"), 40)) + "`."
	teams, terr := b.teamList(ctx)
	if terr != nil || len(teams) == 0 {
		return textReply(text + " `/proliferate-linear teams` lists the keys.")
	}
	keys := make([]string, 0, len(teams))
	for _, t := range teams {
		keys = append(keys, "`"+escapeMrkdwn(t.Key)+"`")
	}
	return textReply(mrkdwnList(text+" Team keys: ", keys))
}

// mrkdwnList joins items after head, within one text object.
func mrkdwnList(head string, items []string) string {
	var b strings.Builder
	b.WriteString(head)
	for i, it := range items {
		if b.Len()+len(it) > maxText-10 {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it)
	}
	return b.String()
}

// defaultTeamKey is the key of the team the create modal starts with: the
// connection's default (a local read, quick enough before views.open),
// else LINEAR_DEFAULT_TEAM.
func (b *Bot) defaultTeamKey(ctx context.Context, team string) string {
	if b.connector == nil {
		return b.defaultTeam
	}
	c, err := b.connector.Connection(ctx, team)
	if err != nil {
		if !errors.Is(err, alert.ErrNotConnected) {
			b.log.WarnContext(ctx, "default team: read connection", "team", team, "err", err)
		}
		return b.defaultTeam
	}
	return or(c.DefaultTeamKey, b.defaultTeam)
}
