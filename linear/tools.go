//go:build tools

// This file pins the code generator in go.mod so that `go generate` runs the
// same genqlient version as the one that produced generated.go.
package linear

import _ "github.com/Khan/genqlient"
