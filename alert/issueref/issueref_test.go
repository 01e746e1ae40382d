package issueref

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const uuid = "2f0e8a8e-5b4c-4d3e-9f1a-0123456789ab"

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  Ref
	}{
		{"url with slug", "https://linear.app/acme/issue/ENG-123/login-fails-on-safari", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"url without slug", "https://linear.app/acme/issue/ENG-123", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"url trailing slash", "https://linear.app/acme/issue/ENG-123/", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"url slug and trailing slash", "https://linear.app/acme/issue/ENG-123/some-slug/", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"url with query", "https://linear.app/acme/issue/ENG-123/slug?noRedirect=1", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"url with fragment", "https://linear.app/acme/issue/ENG-123#comment-5f2a", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"url with query and fragment", "https://linear.app/acme/issue/ENG-123/slug/?a=1&b=2#x", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"http", "http://linear.app/acme/issue/ENG-9", Ref{Identifier: "ENG-9", WorkspaceURLKey: "acme"}},
		{"upper-case scheme and host", "HTTPS://LINEAR.APP/Acme/issue/ENG-9", Ref{Identifier: "ENG-9", WorkspaceURLKey: "acme"}},
		{"no scheme", "linear.app/acme/issue/ENG-9/slug", Ref{Identifier: "ENG-9", WorkspaceURLKey: "acme"}},
		{"lower-case identifier in url", "https://linear.app/acme/issue/eng-42/x", Ref{Identifier: "ENG-42", WorkspaceURLKey: "acme"}},
		{"workspace with hyphen", "https://linear.app/acme-corp/issue/PRO-1", Ref{Identifier: "PRO-1", WorkspaceURLKey: "acme-corp"}},
		{"percent-encoded identifier", "https://linear.app/acme/issue/%45NG-7", Ref{Identifier: "ENG-7", WorkspaceURLKey: "acme"}},
		{"unicode slug", "https://linear.app/acme/issue/ENG-7/%C3%A9chec-de-connexion", Ref{Identifier: "ENG-7", WorkspaceURLKey: "acme"}},
		{"uuid in url", "https://linear.app/acme/issue/" + strings.ToUpper(uuid), Ref{UUID: uuid, WorkspaceURLKey: "acme"}},
		{"slack wrapped", "<https://linear.app/acme/issue/ENG-123/slug>", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"slack wrapped with label", "<https://linear.app/acme/issue/ENG-123/slug|ENG-123 Login fails>", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"slack wrapped escaped query", "<https://linear.app/acme/issue/ENG-123?a=1&amp;b=2|x>", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"slack wrapped and padded", "  <https://linear.app/acme/issue/ENG-123>\n", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}},
		{"bare identifier", "ENG-123", Ref{Identifier: "ENG-123"}},
		{"bare lower case", "eng-123", Ref{Identifier: "ENG-123"}},
		{"bare mixed case", "eNg-1", Ref{Identifier: "ENG-1"}},
		{"key with digits", "P2P-77", Ref{Identifier: "P2P-77"}},
		{"one-letter key", "a-5", Ref{Identifier: "A-5"}},
		{"longest key", "ABCDEFGHIJ-5", Ref{Identifier: "ABCDEFGHIJ-5"}},
		{"largest number", "ENG-999999999", Ref{Identifier: "ENG-999999999"}},
		{"padded identifier", " \t ENG-123 \n", Ref{Identifier: "ENG-123"}},
		{"zero-width padding", "\u200bENG-123\ufeff", Ref{Identifier: "ENG-123"}},
		{"non-breaking space padding", "\u00a0ENG-123\u00a0", Ref{Identifier: "ENG-123"}},
		{"uuid", uuid, Ref{UUID: uuid}},
		{"upper-case uuid", strings.ToUpper(uuid), Ref{UUID: uuid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.input)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.input, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.input, diff)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		kind    error
		message string // "" means msgMalformed.
	}{
		{"empty", "", ErrMalformed, msgEmpty},
		{"blank", " \n\t ", ErrMalformed, msgEmpty},
		{"too long", "ENG-1" + strings.Repeat(" ", MaxInputLen), ErrMalformed, msgTooLong},
		{"word", "hello", ErrMalformed, ""},
		{"number only", "123", ErrMalformed, ""},
		{"hash number", "#123", ErrMalformed, ""},
		{"no number", "ENG-", ErrMalformed, ""},
		{"no key", "-123", ErrMalformed, ""},
		{"no dash", "ENG123", ErrMalformed, ""},
		{"zero", "ENG-0", ErrMalformed, ""},
		{"leading zero", "ENG-0123", ErrMalformed, ""},
		{"negative", "ENG--1", ErrMalformed, ""},
		{"plus sign", "ENG-+1", ErrMalformed, ""},
		{"key starts with digit", "2ENG-1", ErrMalformed, ""},
		{"key too long", "ABCDEFGHIJK-1", ErrMalformed, ""},
		{"number too long", "ENG-1234567890", ErrMalformed, ""},
		{"underscore in key", "EN_G-1", ErrMalformed, ""},
		{"two dashes", "ENG-1-2", ErrMalformed, ""},
		{"space inside", "ENG 123", ErrMalformed, ""},
		{"trailing punctuation", "ENG-123.", ErrMalformed, ""},
		{"parenthesised", "(ENG-123)", ErrMalformed, ""},
		{"two identifiers", "ENG-1 ENG-2", ErrMalformed, ""},
		{"non-ascii letter", "ÉNG-1", ErrMalformed, ""},
		{"long s folds to S", "\u017f-1", ErrMalformed, ""},
		{"kelvin sign", "\u212a-1", ErrMalformed, ""},
		{"fullwidth digits", "ENG-１２", ErrMalformed, ""},
		{"arabic-indic digits", "ENG-١٢", ErrMalformed, ""},
		{"uuid without dashes", strings.ReplaceAll(uuid, "-", ""), ErrMalformed, ""},
		{"uuid in braces", "{" + uuid + "}", ErrMalformed, ""},
		{"urn uuid", "urn:uuid:" + uuid, ErrMalformed, ""},
		{"uuid non-hex", "2f0e8a8e-5b4c-4d3e-9f1a-0123456789ag", ErrMalformed, ""},
		{"uuid dash misplaced", "2f0e8a8e5-b4c-4d3e-9f1a-0123456789ab", ErrMalformed, ""},
		{"other host", "https://github.com/acme/repo/issues/1", ErrNotLinear, msgNotLinear},
		{"lookalike host", "https://linear.app.evil.example/acme/issue/ENG-1", ErrNotLinear, msgNotLinear},
		{"subdomain", "https://www.linear.app/acme/issue/ENG-1", ErrNotLinear, msgNotLinear},
		{"host with trailing dot", "https://linear.app./acme/issue/ENG-1", ErrNotLinear, msgNotLinear},
		{"other host no scheme", "example.com/acme/issue/ENG-1", ErrNotLinear, msgNotLinear},
		{"slack wrapped other host", "<https://example.com/x|ENG-1>", ErrNotLinear, msgNotLinear},
		{"user info", "https://evil@linear.app/acme/issue/ENG-1", ErrMalformed, ""},
		{"port", "https://linear.app:8443/acme/issue/ENG-1", ErrMalformed, ""},
		{"empty port", "https://linear.app:/acme/issue/ENG-1", ErrMalformed, ""},
		{"ftp", "ftp://linear.app/acme/issue/ENG-1", ErrMalformed, ""},
		{"javascript", "javascript://linear.app/acme/issue/ENG-1", ErrMalformed, ""},
		{"mailto", "mailto:someone@example.com/x", ErrMalformed, ""},
		{"linear deep link", "linear://acme/issue/ENG-1", ErrMalformed, ""},
		{"root", "https://linear.app/", ErrMalformed, msgNotIssue},
		{"workspace only", "https://linear.app/acme", ErrMalformed, msgNotIssue},
		{"project link", "https://linear.app/acme/project/auth-rework-1a2b3c", ErrMalformed, msgNotIssue},
		{"team link", "https://linear.app/acme/team/ENG/active", ErrMalformed, msgNotIssue},
		{"issue without id", "https://linear.app/acme/issue", ErrMalformed, msgNotIssue},
		{"issue with empty id", "https://linear.app/acme/issue//", ErrMalformed, msgNotIssue},
		{"too many segments", "https://linear.app/acme/issue/ENG-1/slug/more", ErrMalformed, msgNotIssue},
		{"double slash after slug", "https://linear.app/acme/issue/ENG-1/slug//", ErrMalformed, msgNotIssue},
		{"no workspace", "https://linear.app/issue/ENG-1", ErrMalformed, msgNotIssue},
		{"empty workspace", "https://linear.app//issue/ENG-1", ErrMalformed, ""},
		{"bad workspace", "https://linear.app/ac%20me/issue/ENG-1", ErrMalformed, ""},
		{"bad identifier in url", "https://linear.app/acme/issue/ENG-01/slug", ErrMalformed, ""},
		{"slack user mention", "<@U12345>", ErrMalformed, ""},
		{"slack channel", "<#C12345|general>", ErrMalformed, ""},
		{"empty slack link", "<>", ErrMalformed, ""},
		{"empty slack link with label", "<|label>", ErrMalformed, ""},
		{"unbalanced slack link", "<https://linear.app/acme/issue/ENG-1", ErrMalformed, ""},
		{"control character", "ENG-1\x00", ErrMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.input)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.input, got)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("Parse(%q) error %v is not %v", tt.input, err, tt.kind)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error %T is not *Error", tt.input, err)
			}
			want := tt.message
			if want == "" {
				want = msgMalformed
			}
			if perr.Error() != want {
				t.Errorf("Parse(%q) message = %q, want %q (detail %q)", tt.input, perr.Error(), want, perr.Detail)
			}
			if perr.Detail == "" {
				t.Errorf("Parse(%q) error has no Detail", tt.input)
			}
			if got != (Ref{}) {
				t.Errorf("Parse(%q) returned %+v with its error", tt.input, got)
			}
		})
	}
}

func TestErrorMessagesDoNotEchoInput(t *testing.T) {
	// The input is attacker-controlled text; the message goes into a Slack
	// view, so it must not carry it.
	const marker = "<!channel>zzz"
	for _, input := range []string{marker, "https://example.com/" + marker, "https://linear.app/acme/issue/" + marker} {
		_, err := Parse(input)
		if err == nil {
			t.Fatalf("Parse(%q) accepted", input)
		}
		if strings.Contains(err.Error(), "zzz") {
			t.Errorf("message for %q echoes the input: %q", input, err.Error())
		}
	}
}

func TestRefAccessors(t *testing.T) {
	tests := []struct {
		name    string
		ref     Ref
		lookup  string
		teamKey string
		number  int
	}{
		{"identifier", Ref{Identifier: "ENG-123", WorkspaceURLKey: "acme"}, "ENG-123", "ENG", 123},
		{"uuid", Ref{UUID: uuid}, uuid, "", 0},
		{"zero", Ref{}, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []any{tt.ref.Lookup(), tt.ref.String(), tt.ref.TeamKey(), tt.ref.Number()}
			want := []any{tt.lookup, tt.lookup, tt.teamKey, tt.number}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("accessors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSameWorkspace(t *testing.T) {
	tests := []struct {
		name string
		ref  Ref
		keys []string
		want bool
	}{
		{"bare identifier, no keys", Ref{Identifier: "ENG-1"}, nil, true},
		{"bare identifier, any keys", Ref{Identifier: "ENG-1"}, []string{"other"}, true},
		{"current key", Ref{Identifier: "ENG-1", WorkspaceURLKey: "acme"}, []string{"acme"}, true},
		{"current key, other case", Ref{Identifier: "ENG-1", WorkspaceURLKey: "acme"}, []string{"ACME"}, true},
		{"previous key", Ref{Identifier: "ENG-1", WorkspaceURLKey: "acme-old"}, []string{"acme", "acme-old"}, true},
		{"other workspace", Ref{Identifier: "ENG-1", WorkspaceURLKey: "globex"}, []string{"acme", "acme-old"}, false},
		{"no keys known", Ref{Identifier: "ENG-1", WorkspaceURLKey: "acme"}, nil, false},
		{"empty key never matches", Ref{UUID: uuid, WorkspaceURLKey: "acme"}, []string{""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ref.SameWorkspace(tt.keys...); got != tt.want {
				t.Errorf("SameWorkspace(%q) = %v, want %v", tt.keys, got, tt.want)
			}
		})
	}
}

func TestParseFromURLSameWorkspace(t *testing.T) {
	ref, err := Parse("https://linear.app/Acme/issue/ENG-1")
	if err != nil {
		t.Fatal(err)
	}
	if !ref.SameWorkspace("acme") || ref.SameWorkspace("globex") {
		t.Errorf("ref %+v: workspace check wrong", ref)
	}
}
