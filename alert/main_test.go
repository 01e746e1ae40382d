package alert_test

import (
	"testing"

	"github.com/proliferate/proliferate-linear/internal/testmain"
)

// Most of these tests wait on a fake's answer, a pace or a lease for part
// of their time: four at once keep the two cores busier than two.
func TestMain(m *testing.M) {
	testmain.Parallel(4)
	testmain.Run(m)
}
