package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/proliferate/proliferate-linear/alert"
)

func viewState(team, assigneeBlock, assignee, title, desc, prio string) *slack.ViewState {
	sel := func(v string) slack.BlockAction {
		return slack.BlockAction{SelectedOption: slack.OptionBlockObject{Value: v}}
	}
	st := &slack.ViewState{Values: map[string]map[string]slack.BlockAction{
		blockTeam:        {actionTeam: sel(team)},
		blockTitle:       {actionTitle: {Value: title}},
		blockDescription: {actionDescription: {Value: desc}},
		blockPriority:    {actionPriority: sel(prio)},
	}}
	if assigneeBlock != "" {
		st.Values[assigneeBlock] = map[string]slack.BlockAction{actionAssignee: sel(assignee)}
	}
	return st
}

func TestRoute(t *testing.T) {
	t.Parallel()
	b, err := New(Config{BotToken: "xoxb-test"}, alert.NewService(newMemStore(), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	click := func(actionID, value, viewCallback string) socketmode.Event {
		return socketmode.Event{Type: socketmode.EventTypeInteractive, Data: slack.InteractionCallback{
			Type: slack.InteractionTypeBlockActions, TriggerID: "trig", View: slack.View{CallbackID: viewCallback},
			ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{ActionID: actionID, Value: value}}},
		}}
	}
	pick := func(actionID, value string) socketmode.Event {
		return socketmode.Event{Type: socketmode.EventTypeInteractive, Data: slack.InteractionCallback{
			Type: slack.InteractionTypeBlockActions,
			ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{
				ActionID: actionID, SelectedOption: slack.OptionBlockObject{Value: value},
			}}},
		}}
	}
	tests := []struct {
		name     string
		evt      socketmode.Event
		wantAck  any
		wantWork bool
	}{
		{"create click opens modal later", click(actionCreateIssue, "42", ""), nil, true},
		{"create click with bad value", click(actionCreateIssue, "x", ""), nil, false},
		{"link click opens modal later", click(actionLinkIssue, "42", ""), nil, true},
		{"link click with bad value", click(actionLinkIssue, "", ""), nil, false},
		{"create anyway opens modal later", click(actionCreateAnyway, "42", ""), nil, true},
		// Reopen and submissions are stored before their ack: routeDeferred.
		{"reopen click is not pool work", click(actionReopen, "42", ""), nil, false},
		{"url button is only acked", click(actionViewError, "", ""), nil, false},
		{"team change in modal", click(actionTeam, "", callbackCreate), nil, true},
		{"connect click answers later", click(actionConnect, "", ""), nil, true},
		{"connect click in a modal", click(actionConnect, "", callbackCreate), nil, true},
		{"connect link url button is only acked", click(actionOpenConnect, "", ""), nil, false},
		{"confirmed disconnect", click(actionDisconnect, "org-acme", ""), nil, true},
		{"disconnect without the workspace it was for", click(actionDisconnect, "", ""), nil, false},
		{"default team pick", pick(actionSetDefaultTeam, "ENG"), nil, true},
		{"default team pick without a team", pick(actionSetDefaultTeam, ""), nil, false},
		{"slash command", socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: slack.SlashCommand{Text: "help"}}, nil, true},
		{"events api is only acked", socketmode.Event{Type: socketmode.EventTypeEventsAPI}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ack, work := b.route(tt.evt)
			if (work != nil) != tt.wantWork {
				t.Errorf("work queued = %v, want %v", work != nil, tt.wantWork)
			}
			if d := cmp.Diff(tt.wantAck, ack); d != "" {
				t.Errorf("ack (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseSubmission(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		st   *slack.ViewState
		want submission
	}{
		{"all fields", viewState("team-eng", "assignee:team-eng", "u1", " T ", "D", "2"),
			submission{TeamID: "team-eng", AssigneeID: "u1", Title: "T", Description: "D", Priority: alert.PriorityHigh}},
		{"stale assignee of another team is ignored", viewState("team-ops", "assignee:team-eng", "u1", "T", "D", "0"),
			submission{TeamID: "team-ops", Title: "T", Description: "D"}},
		{"unknown priority is none", viewState("team-eng", "", "", "T", "D", "9"),
			submission{TeamID: "team-eng", Title: "T", Description: "D"}},
		{"no state", nil, submission{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, parseSubmission(slack.View{State: tt.st})); d != "" {
				t.Errorf("submission (-want +got):\n%s", d)
			}
		})
	}
}

// TestSubmissionRequest: an untouched pre-filled description is replaced by
// the full one (empty tells the service to write it); an edited one is kept.
func TestSubmissionRequest(t *testing.T) {
	t.Parallel()
	a := sampleAlert()
	prefill := alert.DescriptionWithin(a, maxDescriptionInput)
	meta := testMeta
	meta.Prefill = digest(prefill)
	tests := []struct {
		name, desc, want string
	}{
		{"untouched", prefill, ""},
		{"untouched, Slack normalised line ends", "  " + prefill + "\r\n", ""},
		{"edited", prefill + "more", prefill + "more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := submission{TeamID: "team-eng", Title: "T", Description: tt.desc}.request(meta, "U1")
			if req.Description != tt.want {
				t.Errorf("description = %q, want %q", req.Description, tt.want)
			}
			if req.CreationID != meta.CreationID || req.AlertID != meta.AlertID || req.SlackUser != "U1" {
				t.Errorf("request = %+v, want ids from the metadata", req)
			}
		})
	}
}

// TestRouteDeferred: only the search box's suggestions and the Link
// existing submission wait on Linear before their ack.
func TestRouteDeferred(t *testing.T) {
	t.Parallel()
	b, err := New(Config{BotToken: "xoxb-test"}, alert.NewService(newMemStore(), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	interactive := func(cb slack.InteractionCallback) socketmode.Event {
		return socketmode.Event{Type: socketmode.EventTypeInteractive, Data: cb}
	}
	tests := []struct {
		name string
		evt  socketmode.Event
		want string // deferredAck.kind, "" for none.
	}{
		{"search suggestion", interactive(slack.InteractionCallback{Type: slack.InteractionTypeBlockSuggestion, ActionID: actionIssueSearch}), "block_suggestion"},
		{"other suggestion", interactive(slack.InteractionCallback{Type: slack.InteractionTypeBlockSuggestion, ActionID: "other"}), ""},
		{"link submission", interactive(slack.InteractionCallback{Type: slack.InteractionTypeViewSubmission, View: slack.View{CallbackID: callbackLink}}), "link submission"},
		{"create submission is stored before its ack", interactive(slack.InteractionCallback{Type: slack.InteractionTypeViewSubmission, View: slack.View{CallbackID: callbackCreate}}), "create submission"},
		{"reopen is stored before its ack", interactive(slack.InteractionCallback{Type: slack.InteractionTypeBlockActions,
			ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{ActionID: actionReopen, Value: "42"}}}}), "reopen"},
		{"create click acks at once", interactive(slack.InteractionCallback{Type: slack.InteractionTypeBlockActions,
			ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{ActionID: actionCreateIssue, Value: "42"}}}}), ""},
		{"slash command", socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: slack.SlashCommand{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if d := b.routeDeferred(tt.evt); d != nil {
				got = d.kind
			}
			if got != tt.want {
				t.Errorf("routeDeferred kind = %q, want %q", got, tt.want)
			}
		})
	}
}

// ackRecorder is an acker that keeps the acks it is given.
type ackRecorder struct {
	mu   sync.Mutex
	acks map[string]any
	err  error // returned instead of recording, when set
}

func (r *ackRecorder) ack(_ context.Context, envelopeID string, payload any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if r.acks == nil {
		r.acks = map[string]any{}
	}
	r.acks[envelopeID] = payload
	return nil
}

// TestHandleEventLaneFull: with a lane full, the envelope is still acked,
// the work is never run inline, and the ack itself says "busy" where Slack
// shows an ack's answer (a slash command's reply, the create modal's inline
// error). Clicks are answered after the ack (TestBusyClickIsAnswered).
func TestHandleEventLaneFull(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	b, err := New(Config{BotToken: "xoxb-test", Log: slog.New(slog.NewTextHandler(&logs, nil))}, alert.NewService(newMemStore(), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	b.fast, b.slow = newLane("fast", 0, 0), newLane("slow", 0, 0)
	tests := []struct {
		name    string
		evt     socketmode.Event
		wantAck any
	}{
		{"slash command", socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: slack.SlashCommand{Text: "help"}},
			map[string]string{"response_type": "ephemeral", "text": busyText}},
		// A create submission takes no lane: it is stored before its ack
		// (TestSubmissionsStoredBeforeTheAck).
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &ackRecorder{}
			id := fmt.Sprintf("env-%d", i)
			tt.evt.Request = &socketmode.Request{EnvelopeID: id}
			b.handleEvent(t.Context(), rec, tt.evt)
			if d := cmp.Diff(tt.wantAck, rec.acks[id]); d != "" {
				t.Errorf("ack (-want +got):\n%s", d)
			}
			if !strings.Contains(logs.String(), "lane full") || !strings.Contains(logs.String(), id) {
				t.Errorf("refusal not logged: %s", logs.String())
			}
		})
	}
}

// TestHandleEventNoEnvelope: frames without an envelope id (hello,
// disconnect) are never acked.
func TestHandleEventNoEnvelope(t *testing.T) {
	t.Parallel()
	b, err := New(Config{BotToken: "xoxb-test"}, alert.NewService(newMemStore(), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	rec := &ackRecorder{}
	for _, typ := range []socketmode.EventType{socketmode.EventTypeHello, socketmode.EventTypeDisconnect} {
		b.handleEvent(t.Context(), rec, socketmode.Event{Type: typ, Request: &socketmode.Request{Type: string(typ)}})
	}
	if len(rec.acks) != 0 {
		t.Errorf("acked %v", rec.acks)
	}
}

// TestLaneFor: clicks that open or update a modal take the fast lane, all
// else the slow one.
func TestLaneFor(t *testing.T) {
	t.Parallel()
	b, err := New(Config{BotToken: "xoxb-test"}, alert.NewService(newMemStore(), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	click := func(actionID, trigger, viewCallback string) socketmode.Event {
		return socketmode.Event{Type: socketmode.EventTypeInteractive, Data: slack.InteractionCallback{
			Type: slack.InteractionTypeBlockActions, TriggerID: trigger, View: slack.View{CallbackID: viewCallback},
			ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{ActionID: actionID, Value: "42"}}},
		}}
	}
	tests := []struct {
		name string
		evt  socketmode.Event
		want *lane
	}{
		{"create", click(actionCreateIssue, "trig", ""), b.fast},
		{"create anyway", click(actionCreateAnyway, "trig", ""), b.fast},
		{"link", click(actionLinkIssue, "trig", ""), b.fast},
		{"team change", click(actionTeam, "", callbackCreate), b.fast},
		{"create without trigger", click(actionCreateIssue, "", ""), b.slow},
		{"reopen calls linear", click(actionReopen, "trig", ""), b.slow},
		{"connect", click(actionConnect, "trig", ""), b.slow},
		{"create submission", socketmode.Event{Type: socketmode.EventTypeInteractive, Data: slack.InteractionCallback{
			Type: slack.InteractionTypeViewSubmission, View: slack.View{CallbackID: callbackCreate}}}, b.slow},
		{"slash command", socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: slack.SlashCommand{}}, b.slow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.laneFor(tt.evt); got != tt.want {
				t.Errorf("lane = %s, want %s", got.name, tt.want.name)
			}
		})
	}
}

// TestSubmissionsStoredBeforeTheAck: a create submission or a Reopen
// click is answered only once it is stored with its job; bad input is
// answered under its field and stores nothing; a store that fails is told
// to the user, who can submit again.
func TestSubmissionsStoredBeforeTheAck(t *testing.T) {
	t.Parallel()
	submit := func(st *slack.ViewState, meta string) socketmode.Event {
		return socketmode.Event{Type: socketmode.EventTypeInteractive, Data: slack.InteractionCallback{
			Type: slack.InteractionTypeViewSubmission, User: slack.User{ID: "U1"},
			View: slack.View{ID: "V1", CallbackID: callbackCreate, PrivateMetadata: meta, State: st},
		}}
	}
	reopen := socketmode.Event{Type: socketmode.EventTypeInteractive, Data: slack.InteractionCallback{
		Type: slack.InteractionTypeBlockActions, User: slack.User{ID: "U1"}, Channel: slack.Channel{GroupConversation: slack.GroupConversation{Conversation: slack.Conversation{ID: "C100"}}},
		ActionCallback: slack.ActionCallbacks{BlockActions: []*slack.BlockAction{{ActionID: actionReopen, Value: "42"}}},
	}}
	good := viewState("team-eng", "assignee:team-eng", "u1", "Title", "Desc", "2")
	tests := []struct {
		name     string
		evt      socketmode.Event
		storeErr error
		wantAck  any
		wantJob  alert.JobKind // "" for none
	}{
		{"valid submission shows progress", submit(good, testMeta.encode()), nil,
			slack.NewUpdateViewSubmissionResponse(ptr(creatingModal(testMeta))), alert.JobCreateIssue},
		{"submission without team or title", submit(viewState("", "", "", "  ", "d", "0"), testMeta.encode()), nil,
			slack.NewErrorsViewSubmissionResponse(map[string]string{
				blockTeam: "Choose the Linear team for the issue.", blockTitle: "The title cannot be empty.",
			}), ""},
		{"submission with broken metadata", submit(good, "{"), nil,
			slack.NewUpdateViewSubmissionResponse(ptr(errorModal(fmt.Errorf("private_metadata: %w", alert.ErrInvalid), modalMeta{}))), ""},
		{"store down", submit(good, testMeta.encode()), errors.New("database is locked"),
			slack.NewErrorsViewSubmissionResponse(map[string]string{blockTitle: msgNotSaved}), ""},
		{"reopen click", reopen, nil, nil, alert.JobReopenIssue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStore(sampleAlert())
			st.enqueueErr = tt.storeErr
			b, err := New(Config{BotToken: "xoxb-test", APIURL: "http://127.0.0.1:1/"}, alert.NewService(st, nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			b.users.put("U1", userInfo{name: "ada"}) // no users.info call.
			d := b.routeDeferred(tt.evt)
			if d == nil {
				t.Fatal("not stored before its ack: routeDeferred passed it by")
			}
			ack, _ := d.answer(t.Context())
			if d := cmp.Diff(tt.wantAck, ack); d != "" {
				t.Errorf("ack (-want +got):\n%s", d)
			}
			jobs := st.takeSubmissions()
			switch {
			case tt.wantJob == "" && len(jobs) != 0:
				t.Errorf("stored %d jobs, want none", len(jobs))
			case tt.wantJob != "" && (len(jobs) != 1 || jobs[0].Kind != tt.wantJob):
				t.Errorf("stored %+v, want one %s job", jobs, tt.wantJob)
			case tt.wantJob == alert.JobCreateIssue:
				var sub alert.Submission
				if err := json.Unmarshal([]byte(jobs[0].Payload), &sub); err != nil {
					t.Fatal(err)
				}
				want := alert.CreateRequest{CreationID: testMeta.CreationID, AlertID: testMeta.AlertID, TeamID: "team-eng",
					AssigneeID: "u1", Title: "Title", Description: "Desc", Priority: alert.PriorityHigh, SlackUser: "U1", ActorName: "ada"}
				if d := cmp.Diff(want, *sub.Create); d != "" || sub.Reply.ViewID != "V1" || sub.Reply.User != "U1" {
					t.Errorf("stored request (-want +got):\n%s; reply %+v", d, sub.Reply)
				}
			}
		})
	}
}
