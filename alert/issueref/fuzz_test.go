package issueref

import (
	"errors"
	"regexp"
	"testing"
)

var (
	identifierRE = regexp.MustCompile(`^[A-Z][A-Z0-9]*-[1-9][0-9]*$`)
	uuidRE       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	workspaceRE  = regexp.MustCompile(`^[a-z0-9_-]+$`)
)

// FuzzParse feeds Parse arbitrary text. It must never panic; a refusal is
// always an *Error of a known kind; and whatever it accepts is well formed
// and stable: the identifier or UUID parses back to itself, and so does the
// canonical URL built from the ref.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"ENG-123", "eng-123", "a-1", "ENG-0", "ENG-01", uuid,
		"https://linear.app/acme/issue/ENG-123/slug?x=1#y",
		"<https://linear.app/acme/issue/ENG-123|label>",
		"linear.app/acme/issue/ENG-1/",
		"https://evil@linear.app/acme/issue/ENG-1",
		"https://example.com/acme/issue/ENG-1",
		"\u017f-1", "\u200bENG-1", "<>", "<|>", "://", "a:/b", "%zz/x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		ref, err := Parse(input)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || perr.Msg == "" {
				t.Fatalf("Parse(%q): error %#v is not a user-facing *Error", input, err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotLinear) {
				t.Fatalf("Parse(%q): error %v has an unknown kind", input, err)
			}
			return
		}
		if len(input) > MaxInputLen {
			t.Fatalf("Parse accepted %d bytes", len(input))
		}
		if (ref.Identifier == "") == (ref.UUID == "") {
			t.Fatalf("Parse(%q) = %+v: want exactly one of Identifier and UUID", input, ref)
		}
		if ref.Identifier != "" && !identifierRE.MatchString(ref.Identifier) {
			t.Fatalf("Parse(%q): identifier %q is not canonical", input, ref.Identifier)
		}
		if ref.UUID != "" && !uuidRE.MatchString(ref.UUID) {
			t.Fatalf("Parse(%q): uuid %q is not canonical", input, ref.UUID)
		}
		if ref.WorkspaceURLKey != "" && !workspaceRE.MatchString(ref.WorkspaceURLKey) {
			t.Fatalf("Parse(%q): workspace %q is not canonical", input, ref.WorkspaceURLKey)
		}

		again, err := Parse(ref.Lookup())
		if err != nil || again != (Ref{Identifier: ref.Identifier, UUID: ref.UUID}) {
			t.Fatalf("Parse(%q) = %+v, but its lookup re-parses to %+v, %v", input, ref, again, err)
		}
		if ref.WorkspaceURLKey != "" {
			canonical := "https://linear.app/" + ref.WorkspaceURLKey + "/issue/" + ref.Lookup()
			again, err := Parse(canonical)
			if err != nil || again != ref {
				t.Fatalf("Parse(%q) = %+v, but %q re-parses to %+v, %v", input, ref, canonical, again, err)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, in := range []string{"eng-123", "<https://linear.app/acme/issue/ENG-123/login-fails-on-safari?x=1|ENG-123>"} {
		b.Run(in[:3], func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
