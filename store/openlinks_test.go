package store_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/store"
	"github.com/proliferate/proliferate-linear/store/storetest"
)

// openLinksFixture saves links over five issues: i-a has three open
// errors, i-b is completed, i-c has one open and one canceled error (a
// stale copy), i-d is started, i-e is canceled, i-f is in triage.
func openLinksFixture(t *testing.T, db *store.DB) {
	t.Helper()
	for _, f := range []struct{ errorID, issueID, stateType string }{
		{"e3", "i-a", "unstarted"}, {"e1", "i-a", "unstarted"}, {"e2", "i-a", "backlog"},
		{"e4", "i-b", "completed"},
		{"e6", "i-c", "canceled"}, {"e5", "i-c", "started"},
		{"e7", "i-d", "started"},
		{"e8", "i-e", "canceled"},
		{"e9", "i-f", "triage"},
	} {
		l := link(f.errorID, f.issueID, strings.ToUpper(f.issueID))
		l.StateType = f.stateType
		if l.Closed() {
			l.ClosedAt = t0
		}
		if err := db.SaveLink(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
}

// pair is a link as OpenLinks' order shows it.
type pair struct{ Issue, Error string }

func pairs(ls []alert.IssueLink) []pair {
	out := []pair{}
	for _, l := range ls {
		out = append(out, pair{l.IssueID, l.ErrorID})
	}
	return out
}

func TestOpenLinks(t *testing.T) {
	t.Parallel()
	var (
		a = []pair{{"i-a", "e1"}, {"i-a", "e2"}, {"i-a", "e3"}}
		c = []pair{{"i-c", "e5"}}
		d = []pair{{"i-d", "e7"}}
		f = []pair{{"i-f", "e9"}}
	)
	cat := func(ps ...[]pair) []pair {
		out := []pair{}
		for _, p := range ps {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name  string
		after string
		limit int
		want  []pair
	}{
		{name: "first page of one issue holds all its links", after: "", limit: 1, want: a},
		{name: "closed issues and closed links are skipped", after: "i-a", limit: 1, want: c},
		{name: "limit counts issues", after: "", limit: 2, want: cat(a, c)},
		{name: "after a cursor", after: "i-c", limit: 10, want: cat(d, f)},
		{name: "cursor between ids", after: "i-b", limit: 1, want: c},
		{name: "everything", after: "", limit: 100, want: cat(a, c, d, f)},
		{name: "past the end", after: "i-f", limit: 100, want: []pair{}},
	}
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		openLinksFixture(t, db)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := db.OpenLinks(context.Background(), tt.after, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, pairs(got)); diff != "" {
					t.Errorf("OpenLinks(%q, %d) (-want +got):\n%s", tt.after, tt.limit, diff)
				}
			})
		}
		t.Run("limit below 1 is invalid", func(t *testing.T) {
			_, err := db.OpenLinks(context.Background(), "", 0)
			wantErr(t, "OpenLinks(limit 0)", err, alert.ErrInvalid)
		})
		t.Run("links come back whole", func(t *testing.T) {
			got, err := db.OpenLinks(context.Background(), "i-c", 1)
			if err != nil {
				t.Fatal(err)
			}
			want := link("e7", "i-d", "I-D")
			want.StateType, want.CreatedAt, want.UpdatedAt = "started", ms(t0), ms(t0)
			if diff := cmp.Diff([]alert.IssueLink{want}, got); diff != "" {
				t.Errorf("OpenLinks (-want +got):\n%s", diff)
			}
		})
	})
}

// TestOpenLinksPaging walks every page as the poller does, cursor = last
// link's IssueID, for several page sizes: each open link comes back
// exactly once and no page names more than limit issues. Then the walk
// follows a status change: a completed issue drops out, a reopened one
// comes back.
func TestOpenLinksPaging(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *store.DB, _ *fakeClock) {
		ctx := context.Background()
		// 60 issues; issue n has n%4 errors (0 to 3), every fifth closed.
		wantOpen := 0
		for n := range 60 {
			issue := "i-" + pad(n)
			for e := range n % 4 {
				l := link("e-"+pad(n)+"-"+strconv.Itoa(e), issue, "PRO-"+strconv.Itoa(n))
				if n%5 == 0 {
					l.StateType, l.ClosedAt = "completed", t0
				} else {
					wantOpen++
				}
				if err := db.SaveLink(ctx, l); err != nil {
					t.Fatal(err)
				}
			}
		}
		walk := func(t *testing.T, limit int) map[string]int {
			t.Helper()
			seen := map[string]int{}
			after := ""
			for page := 0; ; page++ {
				if page > 100 {
					t.Fatalf("limit %d: no end after 100 pages", limit)
				}
				ls, err := db.OpenLinks(ctx, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(ls) == 0 {
					return seen
				}
				issues := map[string]bool{}
				for _, l := range ls {
					if l.Closed() {
						t.Errorf("limit %d: closed link %s on a page", limit, l.ErrorID)
					}
					issues[l.IssueID] = true
					seen[l.ErrorID]++
				}
				if len(issues) > limit {
					t.Errorf("limit %d: page %d names %d issues", limit, page, len(issues))
				}
				after = ls[len(ls)-1].IssueID
			}
		}
		for _, limit := range []int{1, 2, 7, 50, 100} {
			t.Run("limit "+strconv.Itoa(limit), func(t *testing.T) {
				seen := walk(t, limit)
				if len(seen) != wantOpen {
					t.Errorf("saw %d open links, want %d", len(seen), wantOpen)
				}
				for id, n := range seen {
					if n != 1 {
						t.Errorf("link %s seen %d times", id, n)
					}
				}
			})
		}
		t.Run("status changes move links in and out", func(t *testing.T) {
			done, err := db.Link(ctx, "e-01-0") // open, i-01 has one error.
			if err != nil {
				t.Fatal(err)
			}
			done.StateType, done.ClosedAt = "completed", t0
			reopened, err := db.Link(ctx, "e-05-0") // closed.
			if err != nil {
				t.Fatal(err)
			}
			reopened.StateType, reopened.ClosedAt = "started", time.Time{}
			for _, l := range []alert.IssueLink{done, reopened} {
				if err := db.SaveLink(ctx, l); err != nil {
					t.Fatal(err)
				}
			}
			seen := walk(t, 10)
			if seen["e-01-0"] != 0 || seen["e-05-0"] != 1 || len(seen) != wantOpen {
				t.Errorf("after the change: e-01-0 seen %d, e-05-0 seen %d, %d links; want 0, 1, %d",
					seen["e-01-0"], seen["e-05-0"], len(seen), wantOpen)
			}
		})
	})
}

// TestOpenLinksUsesPartialIndex checks SQLite's plan: the open links are
// found through issue_links_open, not by scanning the table. (PostgreSQL
// picks by statistics, so its plan is not pinned.)
func TestOpenLinksUsesPartialIndex(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	plan := store.OpenLinksPlan(t, db)
	t.Logf("plan:\n%s", plan)
	if !strings.Contains(plan, "issue_links_open") || strings.Contains(plan, "SCAN l\n") || strings.Contains(plan, "SCAN o\n") {
		t.Errorf("OpenLinks plan does not go through issue_links_open:\n%s", plan)
	}
}

func pad(n int) string { return strconv.Itoa(n/10) + strconv.Itoa(n%10) }
