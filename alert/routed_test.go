package alert_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/fakelinear"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// A click on "Create in ENG" files with the matching rule's defaults, once
// however often it is submitted on two replicas; then the error is
// tracked and a further click is refused with the issue. An alert with no
// team to go to is refused in words.
func TestSubmitRoutedOnceOnTwoReplicas(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			if _, err := h.svc.SaveRules(ctx, []alert.Rule{
				mustRule(t, "level=fatal -> team=OPS"),
				mustRule(t, "type=Type* -> team=ENG priority=urgent assignee=bob labels=timeout,backend"),
			}, 0); err != nil {
				t.Fatal(err)
			}
			r1, r2 := h.replica(t), h.replica(t)
			a := h.posted(t, r1, "prl_click")

			var wg sync.WaitGroup
			for i := range 4 {
				r := []*replica{r1, r2}[i%2]
				wg.Go(func() {
					route, err := r.svc.SubmitRouted(ctx, a.ID, "OPS", alert.RoutedRequest{SlackUser: "U1"}, alert.Reply{User: "U1", Channel: "C1"})
					if err != nil || route.N != 2 || route.TeamKey != "ENG" {
						t.Errorf("SubmitRouted = %+v, %v; want rule 2, ENG", route, err)
					}
				})
			}
			wg.Wait()
			wg.Go(func() { r1.drain(t, h.db) })
			wg.Go(func() { r2.drain(t, h.db) })
			wg.Wait()

			issues := h.fl.Issues()
			if len(issues) != 1 || h.fl.CountRequests("createIssue") != 1 {
				t.Fatalf("Linear has %d issues from %d createIssue, want 1 from 1", len(issues), h.fl.CountRequests("createIssue"))
			}
			if is := issues[0]; is.TeamID != fakelinear.TeamEngID || is.AssigneeID != fakelinear.UserBobID || is.Priority != 1 ||
				is.Title != a.Title() || len(is.LabelIDs) != 2 {
				t.Errorf("issue = %+v, want the rule's team, assignee, priority and labels, the alert's title", is)
			}
			var notes []alert.Note
			for _, r := range []*replica{r1, r2} {
				notes = append(notes, r.slack.thread()...)
			}
			if len(notes) != 1 || notes[0].Kind != alert.NoteCreated || notes[0].Via != alert.ViaButton ||
				notes[0].Rule != 2 || notes[0].SlackUser != "U1" {
				t.Errorf("thread notes = %+v, want one: U1 filed it by rule 2", notes)
			}
			for _, r := range []*replica{r1, r2} {
				for _, st := range r.told.states() {
					if st != alert.OutcomeDone {
						t.Errorf("a click was told %s; every run of the one intent is done", st)
					}
				}
			}

			var linked *alert.AlreadyLinkedError
			if _, err := r2.svc.SubmitRouted(ctx, a.ID, "OPS", alert.RoutedRequest{SlackUser: "U2"}, alert.Reply{}); !errors.As(err, &linked) || linked.Link.Identifier != issues[0].Identifier {
				t.Errorf("click on a tracked alert: %v, want AlreadyLinkedError with %s", err, issues[0].Identifier)
			}

			b := h.posted(t, r1, "prl_noteam")
			if _, err := h.svc.SaveRules(ctx, []alert.Rule{mustRule(t, "level=fatal -> team=OPS")}, alert.AnyVersion); err != nil {
				t.Fatal(err)
			}
			_, err := r1.svc.SubmitRouted(ctx, b.ID, "", alert.RoutedRequest{SlackUser: "U1"}, alert.Reply{})
			if !errors.Is(err, alert.ErrInvalid) || !strings.Contains(alert.Problem(err), "no routing rule and no default team") {
				t.Errorf("no team: %v, want ErrInvalid in words", err)
			}
			if st, _ := h.db.QueueStats(ctx); st.Queued != 0 {
				t.Errorf("a refused click queued %d jobs", st.Queued)
			}
		})
	}
}

// An alert naming no channel goes to its rule's channel, else the default;
// its own channel wins; with none at all it is refused and not stored.
func TestAcceptRoutedChannel(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			if _, err := h.svc.SaveRules(ctx, []alert.Rule{mustRule(t, "project=billing env=prod* -> channel=C0BILL")}, 0); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ name, project, channel, def, want string }{
				{"rule", "billing", "", "C0DEF", "C0BILL"},
				{"no match", "web", "", "C0DEF", "C0DEF"},
				{"own channel", "billing", "C0OWN", "C0DEF", "C0OWN"},
				{"rule without default", "billing", "", "", "C0BILL"},
			} {
				got, err := h.svc.AcceptRouted(ctx, alert.Alert{ErrorID: "prl_" + c.name, Project: c.project, Environment: "production",
					Channel: c.channel, URL: errorURL(c.name)}, c.def)
				if err != nil || got.Channel != c.want {
					t.Errorf("%s: channel %q, %v; want %q", c.name, got.Channel, err, c.want)
				}
			}
			if _, err := h.svc.AcceptRouted(ctx, alert.Alert{ErrorID: "prl_lost", Project: "web", URL: errorURL("lost")}, ""); !errors.Is(err, alert.ErrInvalid) {
				t.Errorf("no channel anywhere: %v, want ErrInvalid", err)
			}
			if as, _ := h.db.AlertsByError(ctx, "prl_lost"); len(as) != 0 {
				t.Errorf("a refused alert was stored: %+v", as)
			}
		})
	}
}

// An auto rule's filing while Linear stays down retries until the
// patience (short here) runs out, then tells the thread what to do, once; later alerts
// of the error do not try again.
func TestAutoFilingGivesUpInWords(t *testing.T) {
	t.Parallel()
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, dc)
			if _, err := h.svc.SaveRules(ctx, []alert.Rule{mustRule(t, "type=TypeError -> team=ENG auto")}, 0); err != nil {
				t.Fatal(err)
			}
			r := h.replica(t)
			r.svc.Patience = 200 * time.Millisecond
			h.fl.FailNext("createIssue", 1000, fakelinear.ServerError)
			if _, err := r.svc.Accept(ctx, alert.Alert{ErrorID: "prl_down", Channel: "C1", URL: errorURL("prl_down"), ErrorType: "TypeError"}); err != nil {
				t.Fatal(err)
			}
			r.drain(t, h.db)
			tries := h.fl.CountRequests("createIssue")
			if _, err := r.svc.Accept(ctx, alert.Alert{ErrorID: "prl_down", Channel: "C1", URL: errorURL("prl_down"), ErrorType: "TypeError", EventCount: 9}); err != nil {
				t.Fatal(err)
			}
			r.drain(t, h.db)

			notes := r.slack.thread()
			if len(notes) != 1 || notes[0].Kind != alert.NoteAutoFailed || notes[0].Rule != 1 || notes[0].Team != "ENG" ||
				!strings.Contains(notes[0].Problem, "Linear was unavailable") {
				t.Fatalf("thread notes = %+v, want one: rule 1 gave up, Linear unavailable", notes)
			}
			if tries < 1 {
				t.Errorf("createIssue never tried")
			}
			if n := h.fl.CountRequests("createIssue"); n != tries {
				t.Errorf("a later alert tried again: %d createIssue, was %d", n, tries)
			}
			if d, err := h.db.DeadJobByDedupeKey(ctx, "auto:prl_down"); err != nil || d.Kind != alert.JobAutoCreate {
				t.Errorf("the failed filing is not kept for an operator: %+v, %v", d, err)
			}
		})
	}
}
