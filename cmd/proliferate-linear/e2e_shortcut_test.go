package main

import (
	"strings"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/bot/fakeslack"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
)

// TestEndToEndMessageShortcut runs the message shortcuts on a person's
// message with the real Main: Create Linear Issue opens the create modal
// titled by the message's first line and quoting it with its author and
// permalink; the issue carries the permalink (description and
// attachment), the thread gets the issue URL and the link is recorded
// under the message. Link to Linear issue opens the Link existing modal.
func TestEndToEndMessageShortcut(t *testing.T) {
	t.Parallel()
	for name, dbURL := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			w, ctx := intakeWorld(t, dbURL(t))
			text := "Checkout button does nothing on Safari 17\nSteps: open /cart, press *Pay*. Nothing happens."
			ts, _, err := w.Slack.PostAsUser(ctx, demoUser, demoChannel, fakeslack.Post{Text: text})
			if err != nil {
				t.Fatal(err)
			}
			permalink := "https://fake.slack.com/archives/" + demoChannel + "/p" + strings.ReplaceAll(ts, ".", "")

			n := len(w.Slack.Views())
			opens := len(w.Slack.TriggerLatencies())
			ack, err := w.Slack.MessageShortcut(ctx, demoUser, demoChannel, ts, "create_linear_issue")
			if err != nil {
				t.Fatal(err)
			}
			v := waitView(t, ctx, w, "create_issue", n)
			if err := w.Slack.Wait(ctx, func() bool {
				cur, _ := w.Slack.View(v.ID)
				v = cur
				return len(elementOptions(cur.Blocks, "team")) > 0
			}); err != nil {
				t.Fatalf("the create modal never showed the teams: %v", err)
			}
			blocks := string(v.Blocks)
			for _, want := range []string{"Checkout button does nothing on Safari 17", "Steps: open /cart, press Pay. Nothing happens.",
				"Posted by ada in Slack", permalink} {
				if !strings.Contains(blocks, want) {
					t.Errorf("modal lacks %q: %s", want, blocks)
				}
			}
			if _, err := w.Slack.SelectOption(ctx, demoUser, v.ID, "team", fakelinear.TeamEngID); err != nil {
				t.Fatal(err)
			}
			if err := w.Slack.Wait(ctx, func() bool {
				cur, _ := w.Slack.View(v.ID)
				return len(elementOptions(cur.Blocks, "assignee")) > 0
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Slack.SubmitView(ctx, demoUser, v.ID); err != nil {
				t.Fatal(err)
			}
			if err := w.Slack.Wait(ctx, func() bool { return strings.Contains(threadTexts(w, ts), "Created") }); err != nil {
				t.Fatalf("no issue URL in the message's thread: %v", err)
			}
			issues := w.Linear.Issues()
			if len(issues) != 1 {
				t.Fatalf("Linear has %d issues, want 1", len(issues))
			}
			is := issues[0]
			if is.Title != "Checkout button does nothing on Safari 17" {
				t.Errorf("title = %q", is.Title)
			}
			for _, want := range []string{"> Checkout button does nothing on Safari 17", permalink, "Posted by ada", alert.AutoCreatedSentence} {
				if !strings.Contains(is.Description, want) {
					t.Errorf("description lacks %q:\n%s", want, is.Description)
				}
			}
			if atts := w.Linear.Attachments(is.ID); len(atts) != 1 || atts[0].URL != permalink {
				t.Errorf("attachments = %+v, want the permalink", atts)
			}
			if !strings.Contains(threadTexts(w, ts), is.URL) {
				t.Errorf("thread = %q, want the issue URL", threadTexts(w, ts))
			}
			if got := errorLinks(t, ctx, w, alert.SlackMessageErrorID(demoChannel, ts)); len(got) != 1 || got[0] != is.Identifier {
				t.Errorf("links of the message = %v, want [%s]", got, is.Identifier)
			}
			if n := len(w.Slack.Messages(demoChannel)); n != 1 {
				t.Errorf("%d top-level messages, want only the person's", n)
			}

			// Link to Linear issue on another message opens Link existing.
			ts2, _, err := w.Slack.PostAsUser(ctx, demoUser, demoChannel, fakeslack.Post{Text: "Same Safari bug on the product page"})
			if err != nil {
				t.Fatal(err)
			}
			n = len(w.Slack.Views())
			if _, err := w.Slack.MessageShortcut(ctx, demoUser, demoChannel, ts2, "link_linear_issue"); err != nil {
				t.Fatal(err)
			}
			lv := waitView(t, ctx, w, "link_issue", n)
			if !strings.Contains(string(lv.Blocks), "Same Safari bug on the product page") {
				t.Errorf("link modal does not name the message: %s", lv.Blocks)
			}
			if lat := w.Slack.TriggerLatencies(); len(lat) > opens {
				t.Logf("figures: shortcut ack %v, shortcut → views.open %v", round(ack.Latency), round(lat[opens]))
			}
		})
	}
}
