package fakelinear

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/proliferate/proliferate-linear/linear/webhook"
)

// webhookTimeout is how long a delivery waits for the receiver: Linear
// expects the 200 within 5 s (https://linear.app/developers/webhooks).
const webhookTimeout = 5 * time.Second

// WebhookDelivery is one Issue webhook the fake sent, or is sending.
type WebhookDelivery struct {
	// ID is the Linear-Delivery header: unique per delivery.
	ID string
	// Action is the body's action: "create" or "update".
	Action string
	// IssueID is the issue the delivery is about.
	IssueID string
	// URL is where it was posted.
	URL string
	// Header and Body are exactly what was sent (nil until sent), so a
	// test can replay a delivery.
	Header http.Header
	Body   []byte
	// Status is the receiver's HTTP status; 0 while pending or when the
	// request failed (then Err says why).
	Status int
	Err    error
	// SentAt is when the POST went out.
	SentAt time.Time
}

// webhookState is the webhook configuration and delivery log. Its own
// mutex, taken after s.mu where both are held, lets deliveries proceed
// while GraphQL requests run.
type webhookState struct {
	mu         sync.Mutex
	idle       *sync.Cond
	url        string
	secret     []byte
	webhookID  string
	disabled   bool
	queue      []hookJob
	inflight   int
	running    bool
	deliveries []*WebhookDelivery
}

type hookJob struct {
	d       *WebhookDelivery
	payload map[string]any
	secret  []byte
}

// SetWebhook makes every issue change (issueCreate, issueUpdate,
// SetIssueState, UpdateIssue) POST an Issue webhook to url, signed with
// secret as Linear signs them. An empty url stops deliveries. Deliveries go
// out one at a time, in order, off the request path.
func (s *Server) SetWebhook(url string, secret []byte) {
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	h.url, h.secret, h.webhookID = url, slices.Clone(secret), uuid.NewString()
}

// DisableWebhookDelivery(true) stops sending webhooks (changes are not
// queued or recorded), as when Linear cannot reach the bot: the poller
// must then bring status through. false resumes.
func (s *Server) DisableWebhookDelivery(disabled bool) {
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	h.disabled = disabled
}

// Webhooks returns the deliveries so far, oldest first.
func (s *Server) Webhooks() []WebhookDelivery {
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]WebhookDelivery, 0, len(h.deliveries))
	for _, d := range h.deliveries {
		c := *d
		c.Header, c.Body = d.Header.Clone(), bytes.Clone(d.Body)
		out = append(out, c)
	}
	return out
}

// WaitWebhooks blocks until every queued delivery has been answered or
// has failed (each is bounded by a 5 s timeout).
func (s *Server) WaitWebhooks() {
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.inflight > 0 {
		h.cond().Wait()
	}
}

func (h *webhookState) cond() *sync.Cond {
	if h.idle == nil {
		h.idle = sync.NewCond(&h.mu)
	}
	return h.idle
}

// issueWebhook queues the delivery for a change to iss; before is the
// issue as it was (nil for a create). The caller holds s.mu, so the
// payload is a consistent snapshot.
func (s *Server) issueWebhook(action string, iss *Issue, before *Issue) {
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.url == "" || h.disabled {
		return
	}
	payload := map[string]any{
		"action":         action,
		"type":           webhook.TypeIssue,
		"createdAt":      timeOrNil(iss.UpdatedAt),
		"organizationId": str(s.org["id"]),
		"webhookId":      h.webhookID,
		"url":            iss.URL,
		"data":           s.issueWebhookData(iss, before),
	}
	if before != nil {
		payload["updatedFrom"] = updatedFrom(*before, *iss)
	}
	d := &WebhookDelivery{ID: uuid.NewString(), Action: action, IssueID: iss.ID, URL: h.url}
	h.deliveries = append(h.deliveries, d)
	h.queue = append(h.queue, hookJob{d: d, payload: payload, secret: h.secret})
	h.inflight++
	if !h.running {
		h.running = true
		go s.deliverWebhooks()
	}
}

// issueWebhookData is the issue as Linear's IssueWebhookPayload shows it.
func (s *Server) issueWebhookData(iss *Issue, before *Issue) map[string]any {
	var assignee, assigneeID any
	if u := s.users[iss.AssigneeID]; u != nil {
		assignee = map[string]any{"id": u.ID, "name": u.Name, "email": u.Email}
		assigneeID = u.ID
	}
	var team map[string]any
	if t := s.teams[iss.TeamID]; t != nil {
		team = map[string]any{"id": t.ID, "key": t.Key, "name": t.Name}
	}
	prev := []string{}
	if before != nil && before.Identifier != iss.Identifier {
		prev = append(prev, before.Identifier)
	}
	return map[string]any{
		"id": iss.ID, "identifier": iss.Identifier, "number": iss.Number, "title": iss.Title,
		"description": iss.Description, "priority": iss.Priority, "url": iss.URL,
		"stateId":    iss.State.ID,
		"state":      map[string]any{"id": iss.State.ID, "name": iss.State.Name, "type": iss.State.Type},
		"teamId":     iss.TeamID,
		"team":       team,
		"assigneeId": assigneeID, "assignee": assignee,
		"createdAt": timeOrNil(iss.CreatedAt), "updatedAt": timeOrNil(iss.UpdatedAt),
		"completedAt": timeOrNil(iss.CompletedAt), "canceledAt": timeOrNil(iss.CanceledAt),
		"previousIdentifiers": prev,
	}
}

// updatedFrom holds the previous value of each field that changed, as
// Linear's update deliveries do; an empty previous value is null.
func updatedFrom(before, after Issue) map[string]any {
	out := map[string]any{"updatedAt": timeOrNil(before.UpdatedAt)}
	orNull := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	if before.State.ID != after.State.ID {
		out["stateId"] = orNull(before.State.ID)
	}
	if before.AssigneeID != after.AssigneeID {
		out["assigneeId"] = orNull(before.AssigneeID)
	}
	if before.Title != after.Title {
		out["title"] = before.Title
	}
	if before.Identifier != after.Identifier {
		out["identifier"] = before.Identifier
		out["number"] = before.Number
	}
	if before.TeamID != after.TeamID {
		out["teamId"] = before.TeamID
	}
	if !before.CompletedAt.Equal(after.CompletedAt) {
		out["completedAt"] = timeOrNil(before.CompletedAt)
	}
	if !before.CanceledAt.Equal(after.CanceledAt) {
		out["canceledAt"] = timeOrNil(before.CanceledAt)
	}
	return out
}

// deliverWebhooks sends queued deliveries one at a time, so a receiver
// sees an issue's changes in the order they happened.
func (s *Server) deliverWebhooks() {
	h := &s.hooks
	client := &http.Client{Timeout: webhookTimeout}
	for {
		h.mu.Lock()
		if len(h.queue) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		j := h.queue[0]
		h.queue = h.queue[1:]
		h.mu.Unlock()

		header, body, status, err := s.sendWebhook(client, j)

		h.mu.Lock()
		j.d.Header, j.d.Body, j.d.Status, j.d.Err, j.d.SentAt = header, body, status, err, s.now()
		h.inflight--
		if h.inflight == 0 {
			h.cond().Broadcast()
		}
		h.mu.Unlock()
	}
}

// sendWebhook signs and posts one delivery. webhookTimestamp is stamped
// at send time, as Linear does; receivers reject it after 60 s.
func (s *Server) sendWebhook(client *http.Client, j hookJob) (http.Header, []byte, int, error) {
	j.payload["webhookTimestamp"] = s.now().UnixMilli()
	body, err := json.Marshal(j.payload)
	if err != nil {
		return nil, nil, 0, err
	}
	header := webhook.SignedHeader(j.secret, body, j.d.ID, webhook.TypeIssue)
	header.Set("User-Agent", "Linear-Webhook")
	ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.d.URL, bytes.NewReader(body))
	if err != nil {
		return header, body, 0, err
	}
	req.Header = header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return header, body, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return header, body, resp.StatusCode, nil
}
