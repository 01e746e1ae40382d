package fakelinear_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/linear/webhook"
)

var secret = []byte("whsec-test")

// receiver is a webhook endpoint that verifies each delivery with the
// production verifier and keeps the events.
type receiver struct {
	*httptest.Server
	verifier webhook.Verifier
	status   int

	mu     sync.Mutex
	events []webhook.Event
	errs   []error
}

func newReceiver(t *testing.T, clk *fixedClock, status int) *receiver {
	r := &receiver{verifier: webhook.Verifier{Secret: secret, Now: clk.now}, status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		ev, err := r.verifier.Verify(req.Header, body)
		r.mu.Lock()
		if err != nil {
			r.errs = append(r.errs, err)
		} else {
			r.events = append(r.events, ev)
		}
		r.mu.Unlock()
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.Close)
	return r
}

func TestWebhooks(t *testing.T) {
	clk := newClock()
	srv := fakelinear.Seeded(fakelinear.WithClock(clk.now))
	defer srv.Close()
	rcv := newReceiver(t, clk, http.StatusOK)
	srv.SetWebhook(rcv.URL, secret)

	create(t, srv, "TypeError: boom", "")
	id := issueID(t, srv, "ENG-1")
	clk.add(time.Second)
	if err := srv.SetIssueState("ENG-1", "Done"); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetIssueState("ENG-1", "Done"); err != nil { // no change: no delivery.
		t.Fatal(err)
	}
	clk.add(time.Second)
	if err := srv.UpdateIssue("ENG-1", func(i *fakelinear.Issue) { i.AssigneeID = fakelinear.UserBobID }); err != nil {
		t.Fatal(err)
	}
	post(t, srv, fakelinear.APIKey, `mutation($id: String!, $st: String!) { issueUpdate(id: $id, input: {stateId: $st}) { success } }`,
		map[string]any{"id": id, "st": stateID(t, "In Progress", srv)})
	srv.WaitWebhooks()

	type seen struct {
		Action, State, Assignee  string
		StateChanged, Reassigned bool
		CompletedAt              any
		FromCompletedAt          any
	}
	var got []seen
	rcv.mu.Lock()
	if len(rcv.errs) > 0 {
		t.Errorf("receiver rejected deliveries: %v", rcv.errs)
	}
	for _, ev := range rcv.events {
		var data struct {
			CompletedAt any `json:"completedAt"`
		}
		_ = json.Unmarshal(ev.Data, &data)
		s := seen{Action: ev.Action, State: ev.Issue.AlertIssue().StateName, Assignee: ev.Issue.AlertIssue().AssigneeName,
			StateChanged: ev.StateChanged(), Reassigned: ev.AssigneeChanged(), CompletedAt: data.CompletedAt}
		if raw, ok := ev.UpdatedFrom["completedAt"]; ok {
			s.FromCompletedAt = string(raw)
		}
		if ev.OrganizationID != fakelinear.OrgID || ev.Issue.ID != id || ev.Issue.Team == nil || ev.Issue.Team.Key != "ENG" {
			t.Errorf("event %s: org %q issue %q team %+v", ev.DeliveryID, ev.OrganizationID, ev.Issue.ID, ev.Issue.Team)
		}
		got = append(got, s)
	}
	rcv.mu.Unlock()
	want := []seen{
		{Action: "create", State: "Backlog"},
		{Action: "update", State: "Done", StateChanged: true, CompletedAt: "2025-11-12T10:00:01.000Z", FromCompletedAt: "null"},
		{Action: "update", State: "Done", Assignee: "Bob Builder", Reassigned: true, CompletedAt: "2025-11-12T10:00:01.000Z"},
		{Action: "update", State: "In Progress", Assignee: "Bob Builder", StateChanged: true, FromCompletedAt: `"2025-11-12T10:00:01.000Z"`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, d := range srv.Webhooks() {
		if d.Status != http.StatusOK || d.Err != nil || d.Header.Get(webhook.DeliveryHeader) != d.ID ||
			d.Header.Get(webhook.EventHeader) != "Issue" || d.Header.Get(webhook.SignatureHeader) != webhook.Sign(secret, d.Body) {
			t.Errorf("delivery %+v: want 200, its id in Linear-Delivery, Linear-Event Issue, a valid signature", d)
		}
	}
}

func TestWebhookDeliveryOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		unreached  bool
		disabled   bool
		wantCount  int
		wantStatus int
		wantErr    bool
	}{
		{name: "accepted", status: http.StatusOK, wantCount: 1, wantStatus: 200},
		{name: "receiver fails", status: http.StatusInternalServerError, wantCount: 1, wantStatus: 500},
		{name: "receiver unreachable", unreached: true, wantCount: 1, wantErr: true},
		{name: "delivery disabled", status: http.StatusOK, disabled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			srv := fakelinear.Seeded(fakelinear.WithClock(clk.now))
			defer srv.Close()
			rcv := newReceiver(t, clk, tt.status)
			url := rcv.URL
			if tt.unreached {
				rcv.Close()
			}
			srv.SetWebhook(url, secret)
			srv.DisableWebhookDelivery(tt.disabled)
			create(t, srv, "TypeError: boom", "")
			srv.WaitWebhooks()
			got := srv.Webhooks()
			if len(got) != tt.wantCount {
				t.Fatalf("deliveries = %d, want %d", len(got), tt.wantCount)
			}
			if tt.wantCount == 0 {
				return
			}
			if got[0].Status != tt.wantStatus || (got[0].Err != nil) != tt.wantErr {
				t.Errorf("delivery status %d err %v, want %d and error %v", got[0].Status, got[0].Err, tt.wantStatus, tt.wantErr)
			}
		})
	}
}
