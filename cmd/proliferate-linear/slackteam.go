package main

import (
	"context"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/proliferate/proliferate-linear/config"
)

// slackTeamID asks Slack (auth.test) which workspace the bot token belongs
// to: the Linear connection is that workspace's.
func slackTeamID(ctx context.Context, cfg config.Config) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	api := slack.New(cfg.SlackBotToken.Value(), slack.OptionAPIURL(cfg.SlackAPIURL))
	res, err := api.AuthTestContext(ctx)
	if err != nil {
		return "", fmt.Errorf("slack auth.test (check SLACK_BOT_TOKEN): %w", err)
	}
	return res.TeamID, nil
}
