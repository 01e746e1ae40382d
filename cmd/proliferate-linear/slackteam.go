package main

import (
	"context"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/config"
)

// slackWorkspace asks Slack (auth.test) which workspace the bot token
// belongs to: the Linear connection is that workspace's, and its URL is the
// base of message permalinks. botID is the bot's own bot ID, so its own
// channel messages are never read as alerts. A bad SLACK_BOT_TOKEN fails
// here, at start.
func slackWorkspace(ctx context.Context, cfg config.Config) (teamID, url, botID string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	api := slack.New(cfg.SlackBotToken.Value(), slack.OptionAPIURL(cfg.SlackAPIURL))
	res, err := api.AuthTestContext(ctx)
	if err != nil {
		return "", "", "", fmt.Errorf("slack auth.test (check SLACK_BOT_TOKEN): %w", err)
	}
	return res.TeamID, res.URL, res.BotID, nil
}
