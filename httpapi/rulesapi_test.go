package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRulesAPI(t *testing.T) {
	t.Parallel()
	f := newLinearFixture(t)
	get := func() map[string]any {
		t.Helper()
		r := f.api(t, http.MethodGet, "/rules", nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET rules: %d %v", r.status, r.body)
		}
		return r.body
	}
	if d := cmp.Diff(map[string]any{"version": float64(0), "rules": []any{}}, get()); d != "" {
		t.Fatalf("fresh (-want +got):\n%s", d)
	}

	put := `{"rules": [
		{"environment": "production", "error_type": "*TimeoutError", "team": "ENG", "priority": "urgent", "labels": ["TIMEOUT", "backend"]},
		{"syntax": "project=billing -> team=OPS project=on-call assignee=cy@acme.test auto"}
	]}`
	r := f.api(t, http.MethodPut, "/rules", []byte(put))
	if r.status != http.StatusOK {
		t.Fatalf("PUT: %d %v", r.status, r.body)
	}
	want := map[string]any{"version": float64(1), "rules": []any{
		map[string]any{"environment": "production", "error_type": "*TimeoutError", "team": "ENG", "priority": "urgent",
			"labels": []any{"timeout", "backend"}, "syntax": "env=production type=*TimeoutError -> team=ENG priority=urgent labels=timeout,backend"},
		map[string]any{"project": "billing", "team": "OPS", "assignee": "cy@acme.test", "linear_project": "On-call", "auto": true,
			"syntax": "project=billing -> team=OPS assignee=cy@acme.test project=On-call auto"},
	}}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Fatalf("PUT answer (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, get()); d != "" {
		t.Fatalf("GET after PUT (-want +got):\n%s", d)
	}

	refusals := []struct{ name, body, code, says string }{
		{"unknown team", `{"rules": [{"error_type": "*", "team": "NOPE"}]}`, "invalid_rule", "rule 1: no Linear team has the key NOPE (team keys: ENG, OPS)"},
		{"label of another team", `{"rules": [{"error_type": "*", "team": "OPS", "labels": ["backend"]}]}`, "invalid_rule", "rule 1: team OPS has no label backend (its labels: incident; workspace labels: customer-reported)"},
		{"not a member", `{"rules": [{"error_type": "*", "team": "OPS", "assignee": "bob@acme.test"}]}`, "invalid_rule", "bob@acme.test is not a member of team OPS"},
		{"project of another team", `{"rules": [{"error_type": "*", "team": "OPS", "linear_project": "Q3 Reliability"}]}`, "invalid_rule", "team OPS has no project Q3 Reliability"},
		{"bad trigger", `{"rules": [{"trigger": "daily", "team": "ENG"}]}`, "invalid_rule", "rule 1: trigger"},
		{"bad priority", `{"rules": [{"team": "ENG", "priority": "critical"}]}`, "invalid_request", "rules[0].priority"},
		{"bad syntax", `{"rules": [{"syntax": "team=ENG"}]}`, "invalid_request", "rules[0].syntax"},
		{"syntax disagrees", `{"rules": [{"team": "OPS", "syntax": "type=* -> team=ENG"}]}`, "invalid_request", "disagrees"},
		{"unknown field", `{"rules": [{"teamKey": "ENG"}]}`, "invalid_request", "teamKey"},
		{"no rules", `{}`, "invalid_request", "rules: required"},
		{"stale version", `{"version": 0, "rules": []}`, "rules_changed", "GET them and retry"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			r := f.api(t, http.MethodPut, "/rules", []byte(c.body))
			if r.body["code"] != c.code || !strings.Contains(r.body["error"].(string), c.says) {
				t.Errorf("%d %v, want code %s saying %q", r.status, r.body, c.code, c.says)
			}
			if d := cmp.Diff(want, get()); d != "" {
				t.Errorf("a refused PUT changed the rules (-want +got):\n%s", d)
			}
		})
	}

	// A GET's body PUT back as it is, with its version, is accepted.
	back := `{"version": 1, "rules": [{"environment": "production", "error_type": "*TimeoutError", "team": "ENG", "priority": "urgent",
		"labels": ["timeout", "backend"], "syntax": "env=production type=*TimeoutError -> team=ENG priority=urgent labels=timeout,backend"}]}`
	if r := f.api(t, http.MethodPut, "/rules", []byte(back)); r.status != http.StatusOK || r.body["version"] != float64(2) {
		t.Fatalf("PUT back: %d %v", r.status, r.body)
	}

	for _, m := range []string{http.MethodGet, http.MethodPut} {
		r := f.do(t, m, RulesPath, []byte(`{"rules": []}`), nil)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", m, r.status)
		}
	}
	if got := get(); got["version"] != float64(2) {
		t.Errorf("unauthenticated PUT changed the rules: %v", got)
	}
}
