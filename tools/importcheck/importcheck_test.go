// Package importcheck holds the test that enforces the README's layering
// rule: imports point inward. Adapters import the core (`alert`), never each
// other; only the wiring (`cmd`) puts them together. It is a test, not a
// linter, so `go test ./...` in CI runs it with no extra tool.
package importcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// module is the import path prefix of this repository's packages.
const module = "github.com/proliferate/proliferate-linear"

// kind is a package's place in the layering.
type kind int

const (
	unknown kind = iota
	core         // alert/...: the domain; imports only core and leaves
	leaf         // shared utilities any layer may import; import only core and leaves
	adapter      // bot, linear, store, httpapi: import core, leaves and their own tree
	fake         // test doubles: an adapter of their tree, but only tests outside it import them
	wiring       // cmd and the cross-package test suites: may import anything
)

// fakes are the test doubles. They speak an adapter's wire protocol, so they
// may import their own adapter; other trees' non-test code must not use
// them (cmd's demo mode is wiring and does, on purpose).
var fakes = map[string]bool{
	"bot/fakeslack":     true,
	"linear/fakelinear": true,
	"store/storetest":   true,
}

// leaves are packages that import nothing but the core and other leaves, so
// every layer may import them without an adapter depending on another:
//   - crashpoint: test-time crash injection points, no imports.
//   - secret: secret types that never print their value, no imports.
//   - config: plain settings (imports secret).
//   - internal/testmain: the TestMain every package's tests share.
//   - linear/webhook: exception. It lives under linear, but it is the pure
//     decoding and HMAC verification of Linear's webhook wire format, with
//     no I/O and no import but alert. httpapi receives deliveries with it
//     and store's tests read Linear's payloads with it; neither touches
//     the Linear GraphQL client.
var leaves = map[string]bool{
	"crashpoint":        true,
	"secret":            true,
	"config":            true,
	"linear/webhook":    true,
	"internal/testmain": true,
}

// adapters and wirings are top-level directories.
var (
	adapters = map[string]bool{"bot": true, "linear": true, "store": true, "httpapi": true}
	wirings  = map[string]bool{
		"cmd":    true, // the binary: the only place adapters meet
		"faults": true, // test-only fault-injection suite across adapters
		"deploy": true, // test-only checks of the deploy files against config and httpapi
		"tools":  true, // standalone developer tools and this check
	}
)

// top is the first element of a module-relative path.
func top(rel string) string {
	t, _, _ := strings.Cut(rel, "/")
	return t
}

// classify names the kind of a module-relative package path.
func classify(rel string) kind {
	switch {
	case rel == "alert" || strings.HasPrefix(rel, "alert/"):
		return core
	case fakes[rel]:
		return fake
	case leaves[rel]:
		return leaf
	case adapters[top(rel)]:
		return adapter
	case wirings[top(rel)]:
		return wiring
	}
	return unknown
}

// pkg is one package of the module: its module-relative path and the
// module-relative paths of the module packages its non-test code imports.
// Test imports are not checked: a test wires its package to fakes and other
// adapters the way cmd does, and nothing ships from it.
type pkg struct {
	Path    string
	Imports []string
}

// allowed reports whether non-test code of from may import to.
func allowed(from, to string) bool {
	kf, kt := classify(from), classify(to)
	switch kf {
	case wiring:
		return true
	case core, leaf:
		return kt == core || kt == leaf
	case adapter, fake:
		if kt == core || kt == leaf {
			return true
		}
		// Within its own tree an adapter may import its sub-packages
		// (linear/oauth uses linear), but no fake: those are for tests.
		return top(from) == top(to) && (kt == adapter || kf == fake)
	}
	return false
}

// check returns one line per broken rule, sorted: an unclassified package
// (a new top-level directory must be placed in the layering here) or an
// import that points outward or sideways.
func check(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		if classify(p.Path) == unknown {
			bad = append(bad, fmt.Sprintf("%s: not classified as core, leaf, adapter, fake or wiring in tools/importcheck", p.Path))
			continue
		}
		for _, imp := range p.Imports {
			if !allowed(p.Path, imp) {
				bad = append(bad, fmt.Sprintf("%s imports %s: adapters import alert and leaves, never each other or a fake; only cmd wires them", p.Path, imp))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		pkgs []pkg
		want []string
	}{
		{
			name: "inward imports pass",
			pkgs: []pkg{
				{Path: "alert", Imports: []string{"alert/issueref"}},
				{Path: "alert/issueref"},
				{Path: "config", Imports: []string{"secret"}},
				{Path: "bot", Imports: []string{"alert", "alert/issueref"}},
				{Path: "linear/oauth", Imports: []string{"alert", "linear"}},
				{Path: "linear/fakelinear", Imports: []string{"linear", "linear/webhook"}},
				{Path: "store", Imports: []string{"alert", "linear/webhook", "secret"}},
				{Path: "httpapi", Imports: []string{"alert", "crashpoint", "linear/webhook"}},
				{Path: "cmd/proliferate-linear", Imports: []string{"bot", "bot/fakeslack", "linear", "store", "httpapi", "config"}},
			},
		},
		{
			name: "adapter imports another adapter",
			pkgs: []pkg{{Path: "httpapi", Imports: []string{"alert", "store"}}},
			want: []string{"httpapi imports store: adapters import alert and leaves, never each other or a fake; only cmd wires them"},
		},
		{
			name: "adapter sub-package imports another tree",
			pkgs: []pkg{{Path: "linear/oauth", Imports: []string{"bot"}}},
			want: []string{"linear/oauth imports bot: adapters import alert and leaves, never each other or a fake; only cmd wires them"},
		},
		{
			name: "core imports an adapter",
			pkgs: []pkg{{Path: "alert", Imports: []string{"linear"}}},
			want: []string{"alert imports linear: adapters import alert and leaves, never each other or a fake; only cmd wires them"},
		},
		{
			name: "leaf imports an adapter",
			pkgs: []pkg{{Path: "config", Imports: []string{"store"}}},
			want: []string{"config imports store: adapters import alert and leaves, never each other or a fake; only cmd wires them"},
		},
		{
			name: "non-test code imports a fake, even its own tree's",
			pkgs: []pkg{
				{Path: "bot", Imports: []string{"bot/fakeslack"}},
				{Path: "httpapi", Imports: []string{"store/storetest"}},
			},
			want: []string{
				"bot imports bot/fakeslack: adapters import alert and leaves, never each other or a fake; only cmd wires them",
				"httpapi imports store/storetest: adapters import alert and leaves, never each other or a fake; only cmd wires them",
			},
		},
		{
			name: "unclassified top-level package",
			pkgs: []pkg{{Path: "metrics", Imports: []string{"alert"}}},
			want: []string{"metrics: not classified as core, leaf, adapter, fake or wiring in tools/importcheck"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, check(tt.pkgs)); diff != "" {
				t.Errorf("check (-want +got):\n%s", diff)
			}
		})
	}
}

// listed is the part of `go list -json` this check reads.
type listed struct {
	ImportPath string
	Imports    []string
}

// modulePackages lists every package of the module with the module
// packages its non-test code imports, module-relative.
func modulePackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var l listed
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		p := pkg{Path: strings.TrimPrefix(l.ImportPath, module+"/")}
		for _, imp := range l.Imports {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				p.Imports = append(p.Imports, rel)
			}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestModuleImportsPointInward(t *testing.T) {
	pkgs := modulePackages(t)
	// A broken listing (wrong pattern, wrong directory) must not pass as
	// "no violations": the module has every layer.
	seen := map[kind]bool{}
	for _, p := range pkgs {
		seen[classify(p.Path)] = true
	}
	for _, k := range []kind{core, leaf, adapter, fake, wiring} {
		if !seen[k] {
			t.Fatalf("go list found no package of kind %d among %d packages", k, len(pkgs))
		}
	}
	for _, v := range check(pkgs) {
		t.Error(v)
	}
}
