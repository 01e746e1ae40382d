package store_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/proliferate/proliferate-linear/store/storetest"
)

// BenchmarkAcceptAlert measures AcceptAlert (upsert plus render job, one
// transaction) per dialect: "new" stores a new error each time, "fold"
// repeats one error, the common case during an incident.
func BenchmarkAcceptAlert(b *testing.B) {
	for _, dc := range storetest.Dialects(b) {
		for _, mode := range []string{"new", "fold"} {
			b.Run(dc.Name+"/"+mode, func(b *testing.B) {
				db := dc.Open(b)
				ctx := context.Background()
				a := newAlert("E-bench", "C1")
				for i := 0; b.Loop(); i++ {
					if mode == "new" {
						a.ErrorID = "E-" + strconv.Itoa(i)
					}
					if _, err := db.AcceptAlert(ctx, a); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
			})
		}
	}
}

// BenchmarkAcceptAlertParallel is AcceptAlert from many goroutines at once,
// as the webhook handler sees it under load.
func BenchmarkAcceptAlertParallel(b *testing.B) {
	for _, dc := range storetest.Dialects(b) {
		b.Run(dc.Name, func(b *testing.B) {
			db := dc.Open(b)
			ctx := context.Background()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				a := newAlert("E-bench", "C1")
				i := 0
				for pb.Next() {
					i++
					a.ErrorID = "E-" + strconv.Itoa(i%50) // 50 errors folding.
					if _, err := db.AcceptAlert(ctx, a); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}
