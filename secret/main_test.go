package secret

import (
	"testing"

	"github.com/proliferate/proliferate-linear/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Run(m) }
