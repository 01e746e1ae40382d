package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// connectedOrg names the connected Linear organization for the Linear
// webhook, which refuses Issue deliveries of any other. It asks Linear
// (viewer's organization, through whichever credential is in use: OAuth or
// LINEAR_API_KEY) and keeps the answer a while, so a burst of deliveries
// costs one request.
type connectedOrg struct {
	workspace func(ctx context.Context) (alert.Workspace, error)
	ttl       time.Duration
	now       func() time.Time

	mu sync.Mutex
	id string
	at time.Time
}

// connectedOrgTTL bounds how long a replaced connection's old organization
// is still taken for the connected one.
const connectedOrgTTL = 5 * time.Minute

// orgReadTimeout keeps the lookup inside Linear's 5 s wait for the 200.
const orgReadTimeout = 2 * time.Second

func newConnectedOrg(workspace func(ctx context.Context) (alert.Workspace, error)) *connectedOrg {
	return &connectedOrg{workspace: workspace, ttl: connectedOrgTTL, now: time.Now}
}

// ConnectedOrganization implements httpapi.OrganizationSource.
func (c *connectedOrg) ConnectedOrganization(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id != "" && c.now().Sub(c.at) < c.ttl {
		return c.id, nil
	}
	ctx, cancel := context.WithTimeout(ctx, orgReadTimeout)
	defer cancel()
	ws, err := c.workspace(ctx)
	if err != nil {
		return "", fmt.Errorf("connected linear organization: %w", err)
	}
	if ws.OrgID == "" {
		return "", fmt.Errorf("connected linear organization: linear named none: %w", alert.ErrUnavailable)
	}
	c.id, c.at = ws.OrgID, c.now()
	return c.id, nil
}
