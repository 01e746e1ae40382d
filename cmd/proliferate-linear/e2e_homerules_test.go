package main

import (
	"context"
	"strings"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
)

// homeAdmin is a Slack workspace admin of the rules tests.
const homeAdmin = "U0HOMEADMIN"

// mrk is s escaped as the bot writes it in mrkdwn.
func mrk(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// storedRules is the stored rule list in the syntax.
func storedRules(t *testing.T, ctx context.Context, w *world) []string {
	t.Helper()
	set, err := w.Main.Service.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range set.Rules {
		out = append(out, alert.FormatRule(r))
	}
	return out
}

// submitRule types text into the open rule modal and submits it; it
// returns the modal as Slack shows it after the ack.
func submitRule(t *testing.T, ctx context.Context, w *world, viewID, text string) fakeslack.View {
	t.Helper()
	if err := w.Slack.SetInput(viewID, "rule", fakeslack.InputValue{Value: text}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Slack.SubmitView(ctx, homeAdmin, viewID); err != nil {
		t.Fatal(err)
	}
	v, _ := w.Slack.View(viewID)
	return v
}

// TestE2EHomeRules: everyone sees the routing rules in the App Home; an
// admin adds, edits and removes them through modals (view_submission
// payloads as Slack sends them, over Socket Mode), each save checked as
// the slash command's is, what is wrong said under the field and nothing
// saved then; a save from a modal opened before someone else's change is
// refused.
func TestE2EHomeRules(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := startTestWorld(t, dbURL(t))
			w.Slack.AddUser(fakeslack.User{ID: homeAdmin, Name: "root", IsAdmin: true})

			member := openHome(t, ctx, w, demoUser, "*Routing rules:* none yet", "can change the routing rules")
			if strings.Contains(string(member.Blocks), `"home_rule_add"`) {
				t.Errorf("a member's Home offers Add rule:\n%s", homeText(member))
			}
			home := openHome(t, ctx, w, homeAdmin, "*Routing rules:* none yet", `"action_id":"home_rule_add"`)

			// Add: the modal refuses what the slash command refuses, in words.
			n := len(w.Slack.Views())
			if _, err := w.Slack.ClickViewButton(ctx, homeAdmin, home.ID, "home_rule_add"); err != nil {
				t.Fatal(err)
			}
			modal := waitView(t, ctx, w, "rule_edit", n)
			for _, c := range []struct{ text, want string }{
				{"env=production team=ENG", "there is no `->`"},
				{"env=production -> team=ENGG", "no Linear team has the key ENGG (team keys: ENG, OPS)"},
				{"type=* -> team=ENG labels=incident", "team ENG has no label incident (its labels: backend, Bug, needs-investigation, timeout; workspace labels: customer-reported)"},
				{`type=* -> team=ENG project="On-call"`, "team ENG has no project On-call (its projects: Q3 Reliability)"},
				{"type=* -> priority=soon", "priority=soon: a priority is none, urgent, high, medium or low"},
				{"type=* -> labels=backend", "needs team=KEY too"},
			} {
				v := submitRule(t, ctx, w, modal.ID, c.text)
				if !v.Open || !strings.Contains(v.Errors["rule"], c.want) {
					t.Errorf("%q: modal open %v, field error %q; want it saying %q", c.text, v.Open, v.Errors["rule"], c.want)
				}
				if strings.HasPrefix(v.Errors["rule"], "rule ") {
					t.Errorf("%q: the field error numbers the one rule of the form: %q", c.text, v.Errors["rule"])
				}
			}
			if got := storedRules(t, ctx, w); len(got) != 0 {
				t.Fatalf("refused saves stored %v", got)
			}
			v := submitRule(t, ctx, w, modal.ID, "env=production type=*TimeoutError -> team=eng priority=urgent labels=timeout,Customer-Reported")
			if v.Open {
				t.Fatalf("a good rule left the modal open with %v", v.Errors)
			}
			want1 := "env=production type=*TimeoutError -> team=ENG priority=urgent labels=timeout,customer-reported"
			if got := storedRules(t, ctx, w); len(got) != 1 || got[0] != want1 {
				t.Fatalf("stored %v, want [%s]", got, want1)
			}
			home = waitHome(t, ctx, w, homeAdmin, "Added rule 1.", "1. `"+mrk(want1)+"`", `"action_id":"home_rule:1"`)

			// Add a second rule in first place.
			n = len(w.Slack.Views())
			if _, err := w.Slack.ClickViewButton(ctx, homeAdmin, home.ID, "home_rule_add"); err != nil {
				t.Fatal(err)
			}
			modal = waitView(t, ctx, w, "rule_edit", n)
			if err := w.Slack.SetInput(modal.ID, "position", fakeslack.InputValue{Value: "1"}); err != nil {
				t.Fatal(err)
			}
			if v := submitRule(t, ctx, w, modal.ID, `project=billing -> team=OPS project="on-call" assignee=cy`); v.Open {
				t.Fatalf("second rule refused: %v", v.Errors)
			}
			want2 := `project=billing -> team=OPS assignee=cy project=On-call`
			if got := storedRules(t, ctx, w); len(got) != 2 || got[0] != want2 || got[1] != want1 {
				t.Fatalf("stored %v, want [%s, %s]", got, want2, want1)
			}
			home = waitHome(t, ctx, w, homeAdmin, "Added rule 1.", "2. `"+mrk(want1)+"`")

			// Edit rule 2 from its menu: the modal starts with it.
			n = len(w.Slack.Views())
			if _, err := w.Slack.SelectOption(ctx, homeAdmin, home.ID, "home_rule:2", "edit:2"); err != nil {
				t.Fatal(err)
			}
			modal = waitView(t, ctx, w, "rule_edit", n)
			if got := modal.State["rule"]["rule"].Value; got == nil || *got != want1 {
				t.Errorf("edit modal starts with %v, want %q", got, want1)
			}
			if v := submitRule(t, ctx, w, modal.ID, "type=*TimeoutError -> team=OPS labels=incident"); v.Open {
				t.Fatalf("edit refused: %v", v.Errors)
			}
			want1 = "type=*TimeoutError -> team=OPS labels=incident"
			if got := storedRules(t, ctx, w); len(got) != 2 || got[0] != want2 || got[1] != want1 {
				t.Fatalf("after the edit stored %v, want [%s, %s]", got, want2, want1)
			}
			home = waitHome(t, ctx, w, homeAdmin, "Saved rule 2.", "2. `"+mrk(want1)+"`")

			// A modal opened before someone else's change cannot undo it.
			n = len(w.Slack.Views())
			if _, err := w.Slack.SelectOption(ctx, homeAdmin, home.ID, "home_rule:1", "edit:3"); err != nil {
				t.Fatal(err)
			}
			stale := waitView(t, ctx, w, "rule_edit", n)
			set, _ := w.Main.Service.Rules(ctx)
			if _, err := w.Main.Service.SaveRules(ctx, set.Rules[1:], set.Version); err != nil { // another admin removes rule 1.
				t.Fatal(err)
			}
			if v := submitRule(t, ctx, w, stale.ID, "type=* -> priority=low"); !v.Open || !strings.Contains(v.Errors["rule"], "Someone changed the rules") {
				t.Errorf("stale save: open %v, error %q; want it refused", v.Open, v.Errors["rule"])
			}
			if got := storedRules(t, ctx, w); len(got) != 1 || got[0] != want1 {
				t.Fatalf("a stale save changed the rules: %v", got)
			}

			// Remove through the confirmation modal.
			home = openHome(t, ctx, w, homeAdmin, "1. `"+mrk(want1)+"`", `"value":"remove:4"`)
			n = len(w.Slack.Views())
			if _, err := w.Slack.SelectOption(ctx, homeAdmin, home.ID, "home_rule:1", "remove:4"); err != nil {
				t.Fatal(err)
			}
			confirm := waitView(t, ctx, w, "rule_remove", n)
			if !strings.Contains(homeText(confirm), "Remove rule 1?") {
				t.Errorf("the confirmation does not name the rule:\n%s", homeText(confirm))
			}
			if _, err := w.Slack.SubmitView(ctx, homeAdmin, confirm.ID); err != nil {
				t.Fatal(err)
			}
			if got := storedRules(t, ctx, w); len(got) != 0 {
				t.Fatalf("after Remove stored %v", got)
			}
			waitHome(t, ctx, w, homeAdmin, "Removed rule 1.", "*Routing rules:* none yet")

			// The member's Home lists what the admin made, without controls.
			if v := submitRuleAsMember(t, ctx, w); v != "" {
				t.Error(v)
			}
		})
	}
}

// submitRuleAsMember checks that a member's Home lists a rule without its
// menu; it returns what is wrong, "" if nothing.
func submitRuleAsMember(t *testing.T, ctx context.Context, w *world) string {
	t.Helper()
	r, err := alert.ParseRule("level=fatal -> priority=urgent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Main.Service.SaveRules(ctx, []alert.Rule{r}, alert.AnyVersion); err != nil {
		t.Fatal(err)
	}
	home := openHome(t, ctx, w, demoUser, "1. `level=fatal -&gt; priority=urgent`")
	if strings.Contains(string(home.Blocks), `"home_rule:1"`) || strings.Contains(string(home.Blocks), `"home_rule_add"`) {
		return "a member's Home offers the rule controls:\n" + homeText(home)
	}
	return ""
}
