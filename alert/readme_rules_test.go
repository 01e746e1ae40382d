package alert

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestReadmeRuleExamples parses every `rules add` example in the README
// and checks that, together, they show every matcher and action key.
func TestReadmeRuleExamples(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "/proliferate-linear rules add ")
		if !ok {
			continue
		}
		n++
		if _, err := ParseRule(rest); err != nil {
			t.Errorf("README example %q does not parse: %v", rest, err)
			continue
		}
		toks, _ := ruleTokens(rest)
		side := "m:"
		for _, tok := range toks {
			if tok.arrow {
				side = "a:"
				continue
			}
			key := strings.ToLower(tok.key)
			if k, ok := keyAliases[key]; ok {
				key = k
			}
			seen[side+key] = true
		}
	}
	if n == 0 {
		t.Fatal("the README shows no `/proliferate-linear rules add` example")
	}
	var missing []string
	for _, k := range matcherKeys {
		if !seen["m:"+k] {
			missing = append(missing, "matcher "+k)
		}
	}
	for _, k := range actionKeys {
		if !seen["a:"+k] {
			missing = append(missing, "action "+k)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("the README's rule examples never show %v", missing)
	}
}
