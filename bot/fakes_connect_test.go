package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/proliferate/proliferate-linear/alert"
)

// memConnector is an in-memory alert.Connector with linear/oauth.Manager's
// contract as the bot sees it: ErrNotConnected without a connection,
// connections without tokens, SetDefaultTeam checking the key against the
// workspace's teams (case-insensitively, stored as Linear spells it) and
// ErrInvalid for an unknown one, Disconnect deleting the connection.
type memConnector struct {
	mu    sync.Mutex
	conns map[string]alert.Connection
	teams []alert.Team
	// err, when set, is returned by every method; disconnectErr by
	// Disconnect alone (Linear unreachable for the revoke).
	err, disconnectErr error
	links              int
	calls              []string
}

func newMemConnector(conns ...alert.Connection) *memConnector {
	c := &memConnector{conns: map[string]alert.Connection{}, teams: sampleTeams()}
	for _, x := range conns {
		c.conns[x.SlackTeamID] = x
	}
	return c
}

func (c *memConnector) record(call string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
	return c.err
}

// Calls lists the calls made, as "Method team [arg]".
func (c *memConnector) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

func (c *memConnector) ConnectURL(_ context.Context, team, user string) (string, error) {
	if err := c.record("ConnectURL " + team + " " + user); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.links++
	return fmt.Sprintf("https://proliferate.example/api/v1/integrations/linear/connect?state=state-%d", c.links), nil
}

func (c *memConnector) Connection(_ context.Context, team string) (alert.Connection, error) {
	if err := c.record("Connection " + team); err != nil {
		return alert.Connection{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	x, ok := c.conns[team]
	if !ok {
		return alert.Connection{}, fmt.Errorf("linear connection of %s: %w", team, alert.ErrNotConnected)
	}
	return x, nil
}

func (c *memConnector) Disconnect(_ context.Context, team string) error {
	if err := c.record("Disconnect " + team); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.disconnectErr != nil {
		return fmt.Errorf("linear disconnect: %w", c.disconnectErr)
	}
	if _, ok := c.conns[team]; !ok {
		return fmt.Errorf("linear disconnect: %w", alert.ErrNotConnected)
	}
	delete(c.conns, team)
	return nil
}

func (c *memConnector) SetDefaultTeam(_ context.Context, team, key string) error {
	if err := c.record("SetDefaultTeam " + team + " " + key); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	x, ok := c.conns[team]
	if !ok {
		return fmt.Errorf("linear default team: %w", alert.ErrNotConnected)
	}
	known := ""
	for _, t := range c.teams {
		if strings.EqualFold(t.Key, key) {
			known = t.Key
		}
	}
	if known == "" {
		return fmt.Errorf("linear default team: no team with key %q: %w", key, alert.ErrInvalid)
	}
	x.DefaultTeamKey = known
	c.conns[team] = x
	return nil
}

var _ alert.Connector = (*memConnector)(nil)

// sampleConnection is the fake Slack's team connected to Acme by admin UA.
func sampleConnection() alert.Connection {
	return alert.Connection{
		SlackTeamID: "T0001", OrgID: "org-acme", OrgName: "Acme & Co", OrgURLKey: "acme",
		UserName: "Ada Lovelace", UserEmail: "ada@example.com", Status: alert.ConnectionActive,
		ConnectedBy: "UA", CreatedAt: t0, UpdatedAt: t0,
	}
}
