package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// realManifest is the repository's manifest, relative to this package.
const realManifest = "../../manifest.yml"

// schemaFile finds Slack's schema: $SLACK_MANIFEST_SCHEMA, else ../shared
// beside the repository root (where CI and the dev machines keep it). It
// lives outside the repository, so a bare clone skips these tests; CI (CI
// set) must have it and fails instead.
func schemaFile(t *testing.T) string {
	t.Helper()
	path := os.Getenv("SLACK_MANIFEST_SCHEMA")
	if path == "" {
		path = filepath.Join("..", "..", defaultSchema)
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Slack manifest schema not found (set SLACK_MANIFEST_SCHEMA): %v", err)
		}
		t.Skipf("Slack manifest schema not found (set SLACK_MANIFEST_SCHEMA): %v", err)
	}
	return path
}

func compiled(t *testing.T) *jsonschema.Schema {
	t.Helper()
	sch, err := compileSchema(schemaFile(t))
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// minimal is the smallest manifest the tests grow from.
const minimal = "display_information:\n  name: Proliferate Linear\n"

func TestValidateManifestAccepts(t *testing.T) {
	sch := compiled(t)
	repo, err := os.ReadFile(realManifest)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		manifest string
	}{
		{"repository manifest.yml", string(repo)},
		{"minimal", minimal},
		{"name of exactly 35 characters", "display_information:\n  name: " + strings.Repeat("n", 35) + "\n"},
		{"unfurl domain matching the look-ahead pattern", minimal + "features:\n  unfurl_domains: [app.proliferate.dev]\n"},
		{"slash command without url under Socket Mode", minimal + `features:
  slash_commands:
    - command: /x
      description: d
settings:
  socket_mode_enabled: true
  interactivity: {is_enabled: true}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validateManifest(sch, []byte(tt.manifest))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 0 {
				t.Errorf("violations of a valid manifest: %+v", got)
			}
		})
	}
}

func TestValidateManifestRejects(t *testing.T) {
	sch := compiled(t)
	tests := []struct {
		name     string
		manifest string
		want     []violation
	}{
		{
			name:     "missing display_information.name",
			manifest: "display_information:\n  description: no name\n",
			want:     []violation{{"/display_information", "missing property 'name'"}},
		},
		{
			name:     "missing display_information",
			manifest: "settings:\n  socket_mode_enabled: true\n",
			want:     []violation{{"", "missing property 'display_information'"}},
		},
		{
			name:     "name too long",
			manifest: "display_information:\n  name: " + strings.Repeat("n", 36) + "\n",
			want:     []violation{{"/display_information/name", "maxLength: got 36, want 35"}},
		},
		{
			name:     "slash command without leading slash",
			manifest: minimal + "features:\n  slash_commands:\n    - command: proliferate-linear\n      description: d\n",
			want:     []violation{{"/features/slash_commands/0/command", `'proliferate-linear' does not match pattern '^\\/'`}},
		},
		{
			name:     "slash command without description",
			manifest: minimal + "features:\n  slash_commands:\n    - command: /proliferate-linear\n",
			want:     []violation{{"/features/slash_commands/0", "missing property 'description'"}},
		},
		{
			name:     "bot scopes as a string, not a list",
			manifest: minimal + "oauth_config:\n  scopes:\n    bot: chat:write\n",
			want:     []violation{{"/oauth_config/scopes/bot", "got string, want array"}},
		},
		{
			name:     "unknown scope kind",
			manifest: minimal + "oauth_config:\n  scopes:\n    bots: [chat:write]\n",
			want:     []violation{{"/oauth_config/scopes", "additional properties 'bots' not allowed"}},
		},
		{
			name:     "scope entry that is a map",
			manifest: minimal + "oauth_config:\n  scopes:\n    bot:\n      - chat: write\n",
			want:     []violation{{"/oauth_config/scopes/bot/0", "got object, want string"}},
		},
		{
			name:     "interactivity without is_enabled",
			manifest: minimal + "settings:\n  interactivity:\n    request_url: https://example.com/slack\n",
			want:     []violation{{"/settings/interactivity", "missing property 'is_enabled'"}},
		},
		{
			// Go's regexp cannot even compile this pattern; regexp2 in
			// ECMAScript mode does, and rejects the leading hyphen.
			name:     "unfurl domain with a leading hyphen",
			manifest: minimal + "features:\n  unfurl_domains: [-bad.example]\n",
			want:     []violation{{"/features/unfurl_domains/0", `'-bad.example' does not match pattern '^(?![\\.\\-])([-a-z0-9\\.])+([a-z0-9])$'`}},
		},
		{
			name:     "socket_mode_enabled as a string",
			manifest: minimal + "settings:\n  socket_mode_enabled: \"true\"\n",
			want:     []violation{{"/settings/socket_mode_enabled", "got string, want boolean"}},
		},
		{
			name:     "several problems are all reported, in pointer order",
			manifest: "display_information: {}\nfeatures:\n  bot_user: {always_online: true}\n",
			want: []violation{
				{"/display_information", "missing property 'name'"},
				{"/features/bot_user", "missing property 'display_name'"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validateManifest(sch, []byte(tt.manifest))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateManifestNotYAML(t *testing.T) {
	sch := compiled(t)
	if _, err := validateManifest(sch, []byte("display_information: [unclosed\n")); err == nil {
		t.Fatal("want a YAML error, got nil")
	}
}

func TestRun(t *testing.T) {
	schema := schemaFile(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.yml", "display_information: {}\n")
	broken := write("broken.yml", "display_information: [\n")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string // substring
	}{
		{"valid manifest", []string{"-schema", schema, realManifest}, 0, realManifest + ": valid against " + schema + "\n", ""},
		{"violation", []string{"-schema", schema, bad}, 1, "", bad + ": at '/display_information': missing property 'name'\n"},
		{"YAML syntax error", []string{"-schema", schema, broken}, 2, "", "parse YAML"},
		{"missing manifest", []string{"-schema", schema, filepath.Join(dir, "none.yml")}, 2, "", "no such file"},
		{"missing schema", []string{"-schema", filepath.Join(dir, "none.json"), realManifest}, 2, "", "compile schema"},
		{"two manifests", []string{"-schema", schema, bad, bad}, 2, "", "usage:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if got := stdout.String(); got != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", got, tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestECMACompile(t *testing.T) {
	// The unfurl_domains pattern from Slack's schema: the reason for regexp2.
	const lookAhead = `^(?![\.\-])([-a-z0-9\.])+([a-z0-9])$`
	if _, err := regexp.Compile(lookAhead); err == nil {
		t.Fatal("Go's regexp compiled a look-ahead; regexp2 may no longer be needed")
	}
	re, err := ecmaCompile(lookAhead)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want bool
	}{
		{"example.com", true},
		{"-example.com", false},
		{".example.com", false},
		{"example.", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := re.MatchString(tt.in); got != tt.want {
				t.Errorf("MatchString(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	if got := re.String(); got != lookAhead {
		t.Errorf("String() = %q, want %q", got, lookAhead)
	}
	if _, err := ecmaCompile(`(`); err == nil {
		t.Error("ecmaCompile accepted an invalid pattern")
	}
}

func TestJSONPointer(t *testing.T) {
	tests := []struct {
		name   string
		tokens []string
		want   string
	}{
		{"root", nil, ""},
		{"plain", []string{"features", "slash_commands", "0"}, "/features/slash_commands/0"},
		{"escapes", []string{"a/b", "c~d"}, "/a~1b/c~0d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jsonPointer(tt.tokens); got != tt.want {
				t.Errorf("jsonPointer(%q) = %q, want %q", tt.tokens, got, tt.want)
			}
		})
	}
}
