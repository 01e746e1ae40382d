package bot

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/proliferate/proliferate-linear/alert"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

// golden compares v, as JSON, with testdata/name.golden.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep <, > and & readable in the files.
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatalf("marshal: %v", err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bot -run %s -update to create it)", err, t.Name())
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, d)
	}
}

// asJSON decodes v's JSON into generic maps, for walking rendered views.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	t0 = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	t1 = time.Date(2026, 11, 23, 14, 5, 0, 0, time.UTC)
)

// sampleAlert is a typical alert for rendering tests.
func sampleAlert() alert.Alert {
	return alert.Alert{
		ID: 42, ErrorID: "err-1", Channel: "C100", MessageTS: "1700000000.000100",
		URL: "https://app.proliferate.dev/acme/errors/err-1", Project: "checkout", Level: "error",
		ErrorType: "TypeError", ErrorMessage: "Cannot read properties of undefined (reading 'id')",
		Stack:       "TypeError: Cannot read properties of undefined\n    at charge (cart.js:10:5)\n    at main (index.js:3:1)",
		Environment: "production", Release: "v1.4.2", FirstSeen: t0, LastSeen: t1,
		EventCount: 1234, UsersAffected: 56, Trigger: alert.TriggerNewIssue, Occurrences: 1,
	}
}

func sampleLink() alert.IssueLink {
	return alert.IssueLink{
		ErrorID: "err-1", IssueID: "iss-uuid", Identifier: "ENG-42", Title: "TypeError: Cannot read properties of undefined",
		URL: "https://linear.app/acme/issue/ENG-42/typeerror", StateName: "In Progress", StateType: "started",
		TeamID: "team-eng", TeamKey: "ENG", AssigneeName: "Ada Lovelace", Kind: alert.LinkCreated,
		CreatedAt: t0, UpdatedAt: t0.Add(time.Hour),
	}
}

func sampleTeams() []alert.Team {
	return []alert.Team{{ID: "team-eng", Key: "ENG", Name: "Engineering"}, {ID: "team-ops", Key: "OPS", Name: "Operations"}}
}

func sampleMembers() []alert.User {
	return []alert.User{
		{ID: "u1", Name: "Ada Lovelace", DisplayName: "ada", Email: "ada@example.com"},
		{ID: "u2", Name: "Grace Hopper", Email: "grace@example.com"},
	}
}
