package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// flowResult is what one walk through the loop observed.
type flowResult struct {
	// AlertTS is the bot's alert message; ProliferateTS, on the Slack
	// message path, the Proliferate message it replied under, and
	// EventEnvelope the envelope that delivered that message.
	AlertTS       string
	ProliferateTS string
	EventEnvelope string
	// Buttons are the alert message's buttons before the create.
	Buttons    []string
	ViewID     string
	Identifier string
	IssueURL   string
	// Acks are the ack latencies of the envelopes the walk sent.
	Acks []time.Duration
	// ClickToOpen is the time from the click's envelope to views.open.
	ClickToOpen time.Duration
	// SubmitEnvelope is the envelope that carried the modal's submission.
	SubmitEnvelope string
	// CreateRequests counts the Linear requests made from submit to issue:
	// the create document alone (the duplicate check, attachmentsForURL,
	// was made when the modal opened).
	CreateRequests int
	// CreateDocuments counts createIssue documents (issueCreate and
	// attachmentCreate travel together): exactly one per created issue.
	CreateDocuments int
}

// walkAlert plays one alert through the loop as a person would: the alert
// arrives, they click Create Linear Issue, pick the team and an assignee,
// submit, and read the thread. It narrates to out.
func walkAlert(ctx context.Context, w *world, payload map[string]any, out io.Writer) (flowResult, error) {
	var res flowResult
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	status, body, err := w.sendAlert(ctx, payload)
	if err != nil {
		return res, fmt.Errorf("send alert: %w", err)
	}
	say("1. Proliferate  → POST /api/v1/alerts → %d %s", status, strings.TrimSpace(string(body)))
	if status != http.StatusAccepted {
		return res, fmt.Errorf("alert webhook answered %d", status)
	}

	var msg fakeslack.Message
	if err := w.Slack.Wait(ctx, func() bool {
		ms := w.Slack.Messages(demoChannel)
		if len(ms) == 0 {
			return false
		}
		msg = ms[0]
		return true
	}); err != nil {
		return res, fmt.Errorf("waiting for the alert message in Slack: %w", err)
	}
	res.AlertTS = msg.TS
	say("2. Slack        ← chat.postMessage #alerts ts=%s: %q", msg.TS, msg.Text)
	say("                  buttons: %s", strings.Join(buttonTexts(msg.Blocks), " | "))

	if err := walkCreate(ctx, w, &res, msg, msg.TS, say); err != nil {
		return res, err
	}
	return res, nil
}

// walkCreate clicks Create Linear Issue on the alert message msg, picks
// the team and an assignee, submits, and waits for the issue URL in the
// alert's thread (threadTS: msg's own ts, or the Proliferate message's the
// bot replied under) and for msg to show the issue.
func walkCreate(ctx context.Context, w *world, res *flowResult, msg fakeslack.Message, threadTS string, say func(string, ...any)) error {
	opensBefore := len(w.Slack.TriggerLatencies())
	issuesBefore := len(w.Linear.Issues())
	ack, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, msg.TS, "create_issue")
	if err != nil {
		return fmt.Errorf("click Create Linear Issue: %w", err)
	}
	res.Acks = append(res.Acks, ack.Latency)

	var view fakeslack.View
	if err := w.Slack.Wait(ctx, func() bool {
		for _, v := range w.Slack.Views() {
			if v.CallbackID == "create_issue" && v.Open && len(elementOptions(v.Blocks, "team")) > 0 {
				view = v
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("waiting for the create modal: %w", err)
	}
	if lat := w.Slack.TriggerLatencies(); len(lat) > opensBefore {
		res.ClickToOpen = lat[opensBefore]
	}
	res.ViewID = view.ID
	say("3. ada clicks Create Linear Issue (ack %s); views.open %s after the click", round(ack.Latency), round(res.ClickToOpen))
	say("                  modal %q, teams: %s", view.Title, strings.Join(optionTexts(elementOptions(view.Blocks, "team")), ", "))

	ack, err = w.Slack.SelectOption(ctx, demoUser, view.ID, "team", fakelinear.TeamEngID)
	if err != nil {
		return fmt.Errorf("pick the team: %w", err)
	}
	res.Acks = append(res.Acks, ack.Latency)
	var assignees []option
	if err := w.Slack.Wait(ctx, func() bool {
		v, ok := w.Slack.View(view.ID)
		assignees = elementOptions(v.Blocks, "assignee")
		return ok && len(assignees) > 0
	}); err != nil {
		return fmt.Errorf("waiting for the team's members in the modal: %w", err)
	}
	say("4. ada picks team Engineering (ack %s); assignees: %s", round(ack.Latency), strings.Join(optionTexts(assignees), ", "))

	pick := assignees[0]
	for _, o := range assignees {
		if o.Value == fakelinear.UserBobID {
			pick = o
		}
	}
	// The assignee select does not dispatch actions: Slack sends nothing
	// until the submit, so there is no envelope and no ack here.
	if _, err = w.Slack.SelectOption(ctx, demoUser, view.ID, "assignee", pick.Value); err != nil {
		return fmt.Errorf("pick the assignee: %w", err)
	}
	// The modal asked Linear whether the error is attached to an issue
	// already while it was being filled; a person takes longer than that.
	if err := awaitDuplicateCheck(ctx, w, msg); err != nil {
		return err
	}
	before, beforeCreate := w.Linear.CountRequests(""), w.Linear.CountRequests("createIssue")
	ack, err = w.Slack.SubmitView(ctx, demoUser, view.ID)
	if err != nil {
		return fmt.Errorf("submit the modal: %w", err)
	}
	res.Acks = append(res.Acks, ack.Latency)
	res.SubmitEnvelope = ack.EnvelopeID
	say("5. ada picks %s and submits (ack %s, response_action %s)", pick.Text, round(ack.Latency), responseAction(ack.Payload))

	var reply fakeslack.Message
	if err := w.Slack.Wait(ctx, func() bool {
		for _, m := range w.Slack.Thread(demoChannel, threadTS) {
			if strings.Contains(m.Text, "Created") {
				reply = m
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("waiting for the thread reply: %w", err)
	}
	res.CreateRequests = w.Linear.CountRequests("") - before
	res.CreateDocuments = w.Linear.CountRequests("createIssue") - beforeCreate
	issues := w.Linear.Issues()
	if len(issues) != issuesBefore+1 {
		return fmt.Errorf("Linear has %d issues, want %d", len(issues), issuesBefore+1)
	}
	is := issues[len(issues)-1]
	res.Identifier, res.IssueURL = is.Identifier, is.URL
	assignee := "none"
	if u, ok := w.Linear.User(is.AssigneeID); ok {
		assignee = u.Name
	}
	say("6. Linear       ← %d request(s) (one issueCreate/attachmentCreate document; the duplicate check ran when the modal opened): issue %s %q, assignee %s, priority %d", res.CreateRequests, is.Identifier, is.Title, assignee, is.Priority)
	for _, at := range w.Linear.Attachments(is.ID) {
		say("                  attachment %q → %s", at.Title, at.URL)
	}
	say("7. Slack thread ← %q", reply.Text)

	if err := w.Slack.Wait(ctx, func() bool {
		m, _ := w.Slack.Message(demoChannel, msg.TS)
		return m.Edits > 0 && strings.Contains(string(m.Blocks), is.Identifier)
	}); err != nil {
		return fmt.Errorf("waiting for the alert message to show %s: %w", is.Identifier, err)
	}
	m, _ := w.Slack.Message(demoChannel, msg.TS)
	say("8. Slack        ← chat.update: the alert now shows %s; buttons: %s", is.Identifier, strings.Join(buttonTexts(m.Blocks), " | "))
	return nil
}

// awaitDuplicateCheck waits until the duplicate check the create modal of
// the alert message msg started has been answered by Linear and stored
// (nothing to check for an alert without a Proliferate link).
func awaitDuplicateCheck(ctx context.Context, w *world, msg fakeslack.Message) error {
	id, err := strconv.ParseInt(buttonValue(msg.Blocks, "create_issue"), 10, 64)
	if err != nil {
		return fmt.Errorf("the alert message's Create Linear Issue button carries no alert id: %w", err)
	}
	a, err := w.Main.DB.Alert(ctx, id)
	if err != nil {
		return err
	}
	if a.URL == "" {
		return nil
	}
	if err := w.Slack.Wait(ctx, func() bool {
		at, err := w.Main.DB.LinearCheckedAt(ctx, a.ErrorID)
		return err == nil && !at.IsZero()
	}); err != nil {
		return fmt.Errorf("waiting for the modal's duplicate check in Linear: %w", err)
	}
	return nil
}

func printFigures(out io.Writer, w *world, res flowResult) {
	fmt.Fprintf(out, "\nfigures: ack latencies %v (Slack allows 3s); click → views.open %s; Linear requests per created issue: %d (create documents: %d)\n",
		roundAll(res.Acks), round(res.ClickToOpen), res.CreateRequests, res.CreateDocuments)
	fmt.Fprintf(out, "issue: %s %s\n", res.Identifier, res.IssueURL)
}

// option is a select option as Block Kit JSON has it.
type option struct {
	Text  string
	Value string
}

// elementOptions returns the options of the element with actionID in a
// view's or message's blocks.
func elementOptions(blocks json.RawMessage, actionID string) []option {
	var out []option
	walkElements(blocks, func(el map[string]any) {
		if el["action_id"] != actionID {
			return
		}
		opts, _ := el["options"].([]any)
		for _, o := range opts {
			om, _ := o.(map[string]any)
			text, _ := om["text"].(map[string]any)
			t, _ := text["text"].(string)
			v, _ := om["value"].(string)
			out = append(out, option{Text: t, Value: v})
		}
	})
	return out
}

// buttonValue is the value of the element with actionID ("" if none).
func buttonValue(blocks json.RawMessage, actionID string) string {
	var v string
	walkElements(blocks, func(el map[string]any) {
		if el["action_id"] == actionID {
			v, _ = el["value"].(string)
		}
	})
	return v
}

func buttonTexts(blocks json.RawMessage) []string {
	var out []string
	walkElements(blocks, func(el map[string]any) {
		if el["type"] == "button" {
			text, _ := el["text"].(map[string]any)
			t, _ := text["text"].(string)
			out = append(out, t)
		}
	})
	return out
}

// walkElements calls fn for every interactive element: accessories,
// actions elements and input elements.
func walkElements(blocks json.RawMessage, fn func(map[string]any)) {
	var bs []map[string]any
	if json.Unmarshal(blocks, &bs) != nil {
		return
	}
	for _, b := range bs {
		for _, key := range []string{"accessory", "element"} {
			if el, ok := b[key].(map[string]any); ok {
				fn(el)
			}
		}
		if els, ok := b["elements"].([]any); ok {
			for _, e := range els {
				if el, ok := e.(map[string]any); ok {
					fn(el)
				}
			}
		}
	}
}

func optionTexts(opts []option) []string {
	out := make([]string, len(opts))
	for i, o := range opts {
		out[i] = o.Text
	}
	return out
}

func responseAction(payload json.RawMessage) string {
	var p struct {
		ResponseAction string `json:"response_action"`
	}
	if json.Unmarshal(payload, &p) != nil || p.ResponseAction == "" {
		return "none"
	}
	return p.ResponseAction
}

func round(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func roundAll(ds []time.Duration) []time.Duration {
	out := slices.Clone(ds)
	for i := range out {
		out[i] = round(out[i])
	}
	return out
}
