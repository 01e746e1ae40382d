// Command manifestcheck validates a Slack app manifest (YAML) against Slack's
// official app manifest JSON Schema, so a manifest Slack would refuse at
// "Create New App → From a manifest" fails CI instead.
//
// Usage:
//
//	go run ./tools/manifestcheck [-schema ../shared/slack/manifest.schema.1.0.0.json] [manifest.yml]
//
// It prints "<manifest>: valid against <schema>" and exits 0, or prints one
// line per violation, "<manifest>: at '<JSON pointer>': <message>", and
// exits 1.
// Exit status 2 means the check itself could not run (unreadable schema or
// manifest, YAML syntax error, bad flags).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"sigs.k8s.io/yaml"
)

// defaultSchema is where CI keeps Slack's schema: ../shared beside the clone,
// so the path is relative to the repository root, the cwd of .ci/run.
const defaultSchema = "../shared/slack/manifest.schema.1.0.0.json"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("manifestcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	schemaPath := fs.String("schema", defaultSchema, "path of Slack's app manifest JSON Schema")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "usage: manifestcheck [-schema path] [manifest.yml]")
		return 2
	}
	manifestPath := "manifest.yml"
	if fs.NArg() == 1 {
		manifestPath = fs.Arg(0)
	}

	sch, err := compileSchema(*schemaPath)
	if err != nil {
		fmt.Fprintln(stderr, "manifestcheck:", err)
		return 2
	}
	manifest, err := os.ReadFile(manifestPath)
	if err != nil {
		fmt.Fprintln(stderr, "manifestcheck:", err)
		return 2
	}
	found, err := validateManifest(sch, manifest)
	if err != nil {
		fmt.Fprintf(stderr, "manifestcheck: %s: %v\n", manifestPath, err)
		return 2
	}
	if len(found) == 0 {
		fmt.Fprintf(stdout, "%s: valid against %s\n", manifestPath, *schemaPath)
		return 0
	}
	for _, v := range found {
		fmt.Fprintf(stderr, "%s: at '%s': %s\n", manifestPath, v.Pointer, v.Message)
	}
	return 1
}

// violation is one way the manifest breaks the schema.
type violation struct {
	// Pointer is the RFC 6901 JSON pointer of the offending value in the
	// manifest ("" is the whole document).
	Pointer string
	// Message says what is wrong, in the validator's words.
	Message string
}

// compileSchema loads and compiles the JSON Schema at path.
//
// Slack's schema is written for JavaScript: its patterns use ECMAScript
// syntax such as the negative look-ahead in unfurl_domains
// ("^(?![\\.\\-])..."), which Go's RE2-based regexp package rejects. So the
// compiler gets an ECMAScript engine built on regexp2.
func compileSchema(path string) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.UseRegexpEngine(ecmaCompile)
	sch, err := c.Compile(path)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", path, err)
	}
	return sch, nil
}

// validateManifest converts the YAML manifest to JSON, as Slack does when it
// reads a YAML manifest, and validates it. A nil slice means valid; an error
// means the manifest is not a YAML document at all.
func validateManifest(sch *jsonschema.Schema, manifestYAML []byte) ([]violation, error) {
	js, err := yaml.YAMLToJSON(manifestYAML)
	if err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	// UnmarshalJSON keeps numbers as json.Number, which the validator needs
	// for exact integer checks.
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, fmt.Errorf("decode JSON form of manifest: %w", err)
	}
	err = sch.Validate(doc)
	var verr *jsonschema.ValidationError
	if errors.As(err, &verr) {
		return violations(verr), nil
	}
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return nil, nil
}

// violations flattens the validator's tree of errors to its leaves, which
// carry the concrete complaints ("missing property 'name'"); the inner nodes
// only say that a $ref or a subschema failed. Sorted for stable output.
func violations(root *jsonschema.ValidationError) []violation {
	p := message.NewPrinter(language.English)
	var out []violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, violation{
				Pointer: jsonPointer(e.InstanceLocation),
				Message: e.ErrorKind.LocalizedString(p),
			})
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(root)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pointer != out[j].Pointer {
			return out[i].Pointer < out[j].Pointer
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// jsonPointer joins reference tokens into an RFC 6901 pointer, escaping "~"
// and "/" inside tokens.
func jsonPointer(tokens []string) string {
	var b strings.Builder
	esc := strings.NewReplacer("~", "~0", "/", "~1")
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(esc.Replace(t))
	}
	return b.String()
}

// ecmaRegexp adapts a regexp2 pattern compiled with ECMAScript semantics to
// jsonschema.Regexp.
type ecmaRegexp regexp2.Regexp

// MatchString reports whether s contains a match. regexp2 only fails on a
// match timeout, which is unset here; a failure counts as no match so the
// manifest is rejected rather than waved through.
func (re *ecmaRegexp) MatchString(s string) bool {
	ok, err := (*regexp2.Regexp)(re).MatchString(s)
	return err == nil && ok
}

// String returns the source pattern.
func (re *ecmaRegexp) String() string { return (*regexp2.Regexp)(re).String() }

// ecmaCompile is a jsonschema.RegexpEngine. JSON Schema specifies ECMA-262
// regular expressions for "pattern" (core spec, "Regular Expressions").
func ecmaCompile(pattern string) (jsonschema.Regexp, error) {
	re, err := regexp2.Compile(pattern, regexp2.ECMAScript)
	if err != nil {
		return nil, fmt.Errorf("compile ECMAScript pattern %q: %w", pattern, err)
	}
	return (*ecmaRegexp)(re), nil
}
