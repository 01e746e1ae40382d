package main

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// initialOptions are the texts of the initial option(s) of the element
// with actionID (initial_options of a multi-select, initial_option of a
// select).
func initialOptions(blocks json.RawMessage, actionID string) []string {
	var out []string
	walkElements(blocks, func(el map[string]any) {
		if el["action_id"] != actionID {
			return
		}
		list, _ := el["initial_options"].([]any)
		if o, ok := el["initial_option"]; ok {
			list = append(list, o)
		}
		for _, o := range list {
			om, _ := o.(map[string]any)
			text, _ := om["text"].(map[string]any)
			t, _ := text["text"].(string)
			out = append(out, t)
		}
	})
	return out
}

// optionValue is the value of the option whose text is text.
func optionValue(t *testing.T, opts []option, text string) string {
	t.Helper()
	for _, o := range opts {
		if o.Text == text {
			return o.Value
		}
	}
	t.Fatalf("no option %q among %v", text, optionTexts(opts))
	return ""
}

// waitModal waits until the view's blocks satisfy cond and returns it.
func waitModal(t *testing.T, ctx context.Context, w *world, id, what string, cond func(fakeslack.View) bool) fakeslack.View {
	t.Helper()
	var v fakeslack.View
	if err := w.Slack.Wait(ctx, func() bool {
		v, _ = w.Slack.View(id)
		return cond(v)
	}); err != nil {
		t.Fatalf("the modal never %s: %v\n%s", what, err, v.Blocks)
	}
	return v
}

// TestE2ELabelsAndProject: a routing rule's labels (one the team's, one
// the workspace's) and project are pre-selected in the create modal; the
// lists follow the team when another is picked; what is submitted reaches
// Linear's issueCreate as labelIds and projectId, and Linear has the issue
// with them.
func TestE2ELabelsAndProject(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := startTestWorld(t, dbURL(t))
			rule, err := alert.ParseRule(`env=production type=TypeError -> team=ENG labels=timeout,customer-reported project="q3 reliability"`)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Main.Service.SaveRules(ctx, []alert.Rule{rule}, 0); err != nil {
				t.Fatal(err)
			}
			if status, body, err := w.sendAlert(ctx, demoAlert()); err != nil || status != 202 {
				t.Fatalf("alert: %d %s %v", status, body, err)
			}
			var ts string
			if err := w.Slack.Wait(ctx, func() bool {
				ms := w.Slack.Messages(demoChannel)
				if len(ms) > 0 {
					ts = ms[0].TS
				}
				return ts != ""
			}); err != nil {
				t.Fatal(err)
			}

			n := len(w.Slack.Views())
			if _, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, ts, "create_issue"); err != nil {
				t.Fatal(err)
			}
			v := waitView(t, ctx, w, "create_issue", n)
			v = waitModal(t, ctx, w, v.ID, "offered labels", func(v fakeslack.View) bool {
				return len(elementOptions(v.Blocks, "labels")) > 0
			})
			// ENG's labels and the workspace's, not OPS's; the rule's chosen.
			if got, want := optionTexts(elementOptions(v.Blocks, "labels")),
				[]string{"backend", "Bug", "customer-reported (workspace)", "needs-investigation", "timeout"}; !slices.Equal(got, want) {
				t.Errorf("ENG label options = %v, want %v", got, want)
			}
			if got, want := initialOptions(v.Blocks, "labels"), []string{"timeout", "customer-reported (workspace)"}; !slices.Equal(got, want) {
				t.Errorf("pre-selected labels = %v, want the rule's %v", got, want)
			}
			if got := initialOptions(v.Blocks, "project"); !slices.Equal(got, []string{"Q3 Reliability"}) {
				t.Errorf("pre-selected project = %v, want the rule's Q3 Reliability", got)
			}
			if !strings.Contains(string(v.Blocks), "Routing rule 1 applied") {
				t.Errorf("the modal does not say which rule applied:\n%s", v.Blocks)
			}

			// Another team: its labels and projects, fresh elements, nothing
			// of ENG's left chosen.
			if _, err := w.Slack.SelectOption(ctx, demoUser, v.ID, "team", fakelinear.TeamOpsID); err != nil {
				t.Fatal(err)
			}
			v = waitModal(t, ctx, w, v.ID, "followed the team to OPS", func(v fakeslack.View) bool {
				return slices.Contains(optionTexts(elementOptions(v.Blocks, "labels")), "incident")
			})
			if got, want := optionTexts(elementOptions(v.Blocks, "labels")), []string{"customer-reported (workspace)", "incident"}; !slices.Equal(got, want) {
				t.Errorf("OPS label options = %v, want %v", got, want)
			}
			if got := optionTexts(elementOptions(v.Blocks, "project")); !slices.Equal(got, []string{"On-call"}) {
				t.Errorf("OPS project options = %v, want On-call", got)
			}
			if got := initialOptions(v.Blocks, "labels"); len(got) != 0 {
				t.Errorf("OPS labels start chosen: %v", got)
			}
			// Back to the rule's team: its labels and project again.
			if _, err := w.Slack.SelectOption(ctx, demoUser, v.ID, "team", fakelinear.TeamEngID); err != nil {
				t.Fatal(err)
			}
			v = waitModal(t, ctx, w, v.ID, "followed the team back to ENG", func(v fakeslack.View) bool {
				return slices.Contains(optionTexts(elementOptions(v.Blocks, "labels")), "timeout")
			})
			if got := initialOptions(v.Blocks, "labels"); !slices.Equal(got, []string{"timeout", "customer-reported (workspace)"}) {
				t.Errorf("back on ENG, pre-selected labels = %v, want the rule's", got)
			}
			if _, err := w.Slack.SelectOption(ctx, demoUser, v.ID, "team", fakelinear.TeamOpsID); err != nil {
				t.Fatal(err)
			}
			v = waitModal(t, ctx, w, v.ID, "followed the team to OPS again", func(v fakeslack.View) bool {
				return slices.Contains(optionTexts(elementOptions(v.Blocks, "labels")), "incident")
			})
			opsLabels := elementOptions(v.Blocks, "labels")
			if err := w.Slack.SetInput(v.ID, "labels", fakeslack.InputValue{Values: []string{
				optionValue(t, opsLabels, "incident"), optionValue(t, opsLabels, "customer-reported (workspace)")}}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Slack.SelectOption(ctx, demoUser, v.ID, "project", optionValue(t, elementOptions(v.Blocks, "project"), "On-call")); err != nil {
				t.Fatal(err)
			}

			before := len(w.Linear.Issues())
			if _, err := w.Slack.SubmitView(ctx, demoUser, v.ID); err != nil {
				t.Fatal(err)
			}
			if err := w.Slack.Wait(ctx, func() bool { return len(w.Linear.Issues()) > before }); err != nil {
				t.Fatalf("no issue created: %v", err)
			}
			is := w.Linear.Issues()[before]
			wantLabels := []string{optionValue(t, opsLabels, "incident"), optionValue(t, opsLabels, "customer-reported (workspace)")}
			if is.TeamID != fakelinear.TeamOpsID || !slices.Equal(is.LabelIDs, wantLabels) ||
				is.ProjectID != optionValue(t, elementOptions(v.Blocks, "project"), "On-call") {
				t.Errorf("Linear issue team %s labels %v project %s; want OPS, %v, On-call", is.TeamID, is.LabelIDs, is.ProjectID, wantLabels)
			}
			var sent map[string]any
			for _, r := range w.Linear.Requests() {
				if r.OperationName == "createIssue" {
					sent, _ = r.Variables["issue"].(map[string]any)
				}
			}
			if ids, _ := sent["labelIds"].([]any); len(ids) != 2 || sent["projectId"] == nil {
				t.Errorf("issueCreate input = %v, want labelIds and projectId", sent)
			}
			if err := w.Slack.Wait(ctx, func() bool {
				for _, m := range w.Slack.Thread(demoChannel, ts) {
					if strings.Contains(m.Text, is.Identifier) {
						return true
					}
				}
				return false
			}); err != nil {
				t.Errorf("the thread never named %s: %v", is.Identifier, err)
			}
		})
	}
}

// TestE2EManyLabels: a team with more labels than a static select can
// offer (Slack's 100) gets a search box answered by block_suggestion from
// all of them, and a label past the first 100 reaches Linear.
func TestE2EManyLabels(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := startTestWorld(t, dbURL(t))
			var last string
			for i := range 150 {
				last = w.Linear.AddLabel(fakelinear.TeamEngID, "area-"+strings.Repeat("0", 3-len(itoa(i)))+itoa(i))
			}
			if status, body, err := w.sendAlert(ctx, demoAlert()); err != nil || status != 202 {
				t.Fatalf("alert: %d %s %v", status, body, err)
			}
			var ts string
			if err := w.Slack.Wait(ctx, func() bool {
				if ms := w.Slack.Messages(demoChannel); len(ms) > 0 {
					ts = ms[0].TS
				}
				return ts != ""
			}); err != nil {
				t.Fatal(err)
			}
			n := len(w.Slack.Views())
			if _, err := w.Slack.ClickButton(ctx, demoUser, demoChannel, ts, "create_issue"); err != nil {
				t.Fatal(err)
			}
			v := waitView(t, ctx, w, "create_issue", n)
			v = waitModal(t, ctx, w, v.ID, "offered a label search", func(v fakeslack.View) bool {
				return strings.Contains(string(v.Blocks), `"multi_external_select"`)
			})
			if !strings.Contains(string(v.Blocks), "155 labels") { // 150, ENG's 4 and the workspace's 1.
				t.Errorf("the hint does not count the labels:\n%s", v.Blocks)
			}
			ack, err := w.Slack.Suggest(ctx, demoUser, v.ID, "labels", "area-149")
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				Options []struct{ Value string } `json:"options"`
			}
			if err := json.Unmarshal(ack.Payload, &resp); err != nil || len(resp.Options) != 1 || resp.Options[0].Value != last {
				t.Fatalf("search for area-149 offers %s (%v), want its id %s", ack.Payload, err, last)
			}
			if err := w.Slack.SetInput(v.ID, "labels", fakeslack.InputValue{Values: []string{last}}); err != nil {
				t.Fatal(err)
			}
			before := len(w.Linear.Issues())
			if _, err := w.Slack.SubmitView(ctx, demoUser, v.ID); err != nil {
				t.Fatal(err)
			}
			if err := w.Slack.Wait(ctx, func() bool { return len(w.Linear.Issues()) > before }); err != nil {
				t.Fatalf("no issue created: %v", err)
			}
			if is := w.Linear.Issues()[before]; !slices.Equal(is.LabelIDs, []string{last}) {
				t.Errorf("Linear issue labels = %v, want [%s] (area-149)", is.LabelIDs, last)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
