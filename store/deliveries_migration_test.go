package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/webhook"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// TestMigration12MovesPendingDeliveries: deliveries an older release
// answered 200 and never applied (it crashed) become jobs of the work
// engine, each with the payload the HTTP path stores for the same body
// today, read from Linear's payload shapes in linear/webhook/testdata. Only
// what that release would have replayed moves: the newest delivery of an
// issue, of the kinds it acted on. A body that is not JSON becomes a dead
// job, for an operator. Every id still dedupes afterwards.
func TestMigration12MovesPendingDeliveries(t *testing.T) {
	t.Parallel()
	fixture := func(t *testing.T, name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "linear", "webhook", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const fixtureIssue = "2f0e8a8e-5b4c-4d3e-9f1a-0123456789ab"
	type row struct {
		id      string
		body    []byte // nil: none (recorded by a release that kept no body).
		applied bool
		at      time.Duration // after t0
	}
	for _, dc := range storetest.Dialects(t) {
		t.Run(dc.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := store.OpenAt(t, dc.URL(t), storetest.Logger(t), 11)

			// The fixtures share one issue; each gets its own here, so
			// each is moved (deliveries of one issue supersede one another).
			own := func(name, issue string) []byte {
				return bytes.ReplaceAll(fixture(t, name), []byte(fixtureIssue), []byte(issue))
			}
			rows := []row{
				{id: "state", body: own("issue_update_state.json", "issue-state")},
				{id: "assignee", body: own("issue_update_assignee.json", "issue-assignee")},
				{id: "team", body: own("issue_move_team.json", "issue-team")},
				{id: "revoked", body: fixture(t, "oauthapp_revoked.json")},
				// issue-old's older state is superseded by its newer one.
				{id: "old-first", body: own("issue_update_assignee.json", "issue-old")},
				{id: "old-second", body: own("issue_update_state.json", "issue-old"), at: time.Second},
				// Not moved: applied already, kinds never acted on, no body.
				{id: "applied", body: own("issue_update_state.json", "issue-applied"), applied: true},
				{id: "removed", body: own("issue_remove.json", "issue-removed")},
				{id: "comment", body: fixture(t, "comment_create.json")},
				{id: "bodiless"},
				// Can never be applied: kept as a dead job.
				{id: "garbage", body: []byte("\xff\xfe not json")},
			}
			for _, r := range rows {
				subject := any(nil)
				if ev, err := webhook.Parse(r.body); err == nil && ev.Issue != nil {
					subject = "issue:" + ev.Issue.ID
				} else if err == nil && ev.Revoked() {
					subject = "org:" + ev.OrganizationID
				}
				var body any
				if r.body != nil {
					body = r.body
				}
				at := store.TimeArg(db, t0.Add(r.at))
				applied := any(nil)
				if r.applied {
					applied = at
				}
				store.Exec(t, db, `INSERT INTO webhook_deliveries (delivery_id, received_at, subject, body, applied_at, attempts)
					VALUES (?, ?, ?, ?, ?, 0)`, r.id, at, subject, body, applied)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}

			// What the HTTP path stores for a body today.
			expect := func(id string, body []byte) alert.Job {
				t.Helper()
				ev, err := webhook.Parse(body)
				if err != nil {
					t.Fatal(err)
				}
				d := alert.LinearDelivery{ID: id, RevokedOrg: ev.OrganizationID}
				if ev.Issue != nil {
					is := ev.Issue.AlertIssue()
					d = alert.LinearDelivery{ID: id, Issue: &is}
				}
				j, err := alert.DeliveryJob(d)
				if err != nil {
					t.Fatal(err)
				}
				return j
			}
			byID := map[string]row{}
			for _, r := range rows {
				byID[r.id] = r
			}
			got := map[string]alert.Job{}
			for _, j := range storetest.JobsOfKind(t, db, alert.JobLinearDelivery) {
				if j.Status == alert.JobDead {
					got["dead:"+j.LastError] = j
					continue
				}
				d, err := alert.JobDelivery(j)
				if err != nil {
					t.Fatalf("job %d: %v", j.ID, err)
				}
				got[d.ID] = j
			}
			for _, id := range []string{"state", "assignee", "team", "revoked", "old-second"} {
				t.Run(id, func(t *testing.T) {
					j, ok := got[id]
					if !ok {
						t.Fatalf("no job for delivery %s", id)
					}
					delete(got, id)
					want := expect(id, byID[id].body)
					gotD, _ := alert.JobDelivery(j)
					wantD, err := alert.JobDelivery(want)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(wantD, gotD); diff != "" {
						t.Errorf("migrated delivery (-HTTP path +migration):\n%s", diff)
					}
					if j.Status != alert.JobQueued || j.Attempts != 0 || j.DedupeKey != want.DedupeKey || j.SerialKey != want.SerialKey {
						t.Errorf("job = %+v, want queued with keys %q, %q", j, want.DedupeKey, want.SerialKey)
					}
				})
			}
			var dead []alert.Job
			for k, j := range got {
				if strings.HasPrefix(k, "dead:") {
					dead = append(dead, j)
					delete(got, k)
				}
			}
			if len(got) != 0 {
				t.Errorf("jobs moved that should not have been: %v", got)
			}
			if len(dead) != 1 || !strings.Contains(dead[0].LastError, "not JSON") || !strings.Contains(dead[0].Payload, `"garbage"`) {
				t.Errorf("dead jobs = %+v, want the garbage delivery's, saying why", dead)
			}
			// A migrated dead job stays dead when an operator retries it.
			if _, err := alert.JobDelivery(dead[0]); err == nil {
				t.Errorf("the dead job's payload reads as a delivery")
			}

			for _, r := range rows {
				fresh, err := db.RecordDelivery(ctx, r.id, deliveryJob(t, r.id, "issue-x", "started"))
				if err != nil || fresh {
					t.Errorf("RecordDelivery(%s) after the upgrade = %v, %v; want a repeat", r.id, fresh, err)
				}
			}
		})
	}
}
