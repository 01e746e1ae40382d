package issueref_test

import (
	"errors"
	"fmt"

	"github.com/proliferate/proliferate-linear/alert/issueref"
)

func ExampleParse() {
	for _, in := range []string{
		"<https://linear.app/acme/issue/ENG-123/login-fails|ENG-123>",
		"  eng-7 ",
		"https://github.com/acme/app/issues/7",
	} {
		ref, err := issueref.Parse(in)
		switch {
		case errors.Is(err, issueref.ErrNotLinear):
			fmt.Println("not linear:", err)
		case err != nil:
			fmt.Println("error:", err)
		default:
			fmt.Println(ref.Lookup(), ref.WorkspaceURLKey, ref.SameWorkspace("acme"))
		}
	}
	// Output:
	// ENG-123 acme true
	// ENG-7  true
	// not linear: That link isn't to Linear. Paste the issue's Linear URL (https://linear.app/…/issue/ENG-123) or its identifier (ENG-123).
}
