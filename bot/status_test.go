package bot

import (
	"strings"
	"testing"

	"github.com/proliferate/proliferate-linear/alert"
)

// TestTrackedText: the reply to a later Proliferate message names the issue
// and its state, says a closed one's error is back, and before any link
// points at the alert; it never offers to create.
func TestTrackedText(t *testing.T) {
	t.Parallel()
	open := sampleLink()
	closed := sampleLink()
	closed.StateName, closed.StateType = "Done", "completed"
	evil := sampleLink()
	evil.Title = "<!channel> pwn"
	where := "<https://fake.slack.com/archives/C1/p1|the first alert's thread>"
	tests := []struct {
		name string
		link *alert.IssueLink
		want []string
	}{
		{"open", &open, []string{"Tracked in Linear", "<https://linear.app/acme/issue/ENG-42/typeerror|ENG-42>", "In Progress", "assigned to Ada Lovelace", open.URL}},
		{"closed", &closed, []string{"ENG-42", "was completed; the error is back", "Reopen it", where}},
		{"not linked", nil, []string{"already has an alert", "create or link", where}},
		{"escaped title", &evil, []string{"&lt;!channel&gt; pwn"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := trackedText(tt.link, where)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			if strings.Contains(got, "<!channel>") {
				t.Errorf("%q carries a mention", got)
			}
		})
	}
}
