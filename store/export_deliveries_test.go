package store

import (
	"context"
	"testing"
)

// DeliveryState is a webhook_deliveries row as tests inspect it.
type DeliveryState struct {
	Applied   bool
	HasBody   bool
	Attempts  int
	LastError string
}

// DeliveryRow reads the state of delivery id.
func DeliveryRow(t testing.TB, db *DB, id string) DeliveryState {
	t.Helper()
	var r struct {
		Applied   bool   `db:"applied"`
		HasBody   bool   `db:"has_body"`
		Attempts  int    `db:"attempts"`
		LastError string `db:"last_error"`
	}
	err := db.x.GetContext(context.Background(), &r, db.q(`SELECT applied_at IS NOT NULL AS applied,
		body IS NOT NULL AS has_body, attempts, COALESCE(last_error, '') AS last_error
		FROM webhook_deliveries WHERE delivery_id = ?`), id)
	if err != nil {
		t.Fatalf("delivery %s: %v", id, err)
	}
	return DeliveryState(r)
}
