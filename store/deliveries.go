package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/proliferate/proliferate-linear/alert"
)

// DeliveryRetention is how long a Linear-Delivery id is worth keeping.
// Linear retries a failed delivery at most 3 times, after 1 minute, 1 hour
// and 6 hours (https://developers.linear.app/docs/graphql/webhooks), so a repeat comes
// within about 7 hours; a week leaves room for a replica that was down and
// for a late manual redelivery, and still keeps the table small. Pass
// now.Add(-DeliveryRetention) to PruneDeliveries.
const DeliveryRetention = 7 * 24 * time.Hour

// maxDeliveryID bounds a stored delivery id. Linear sends a UUID; the id
// comes from a request header, so anything far longer is not Linear's and
// must not grow the table.
const maxDeliveryID = 200

// checkDeliveryID refuses an id the table should not hold.
func checkDeliveryID(id string) error {
	if strings.TrimSpace(id) == "" || len(id) > maxDeliveryID {
		return fmt.Errorf("delivery id of %d bytes (want 1 to %d): %w", len(id), maxDeliveryID, alert.ErrInvalid)
	}
	return nil
}

// RecordDelivery remembers a Linear webhook delivery (its Linear-Delivery
// header) and reports whether it is the first time the id is seen: fresh
// is false for a repeat, which the handler answers 200 and drops. One
// INSERT ... ON CONFLICT DO NOTHING on the primary key decides, so of
// several replicas receiving the same delivery at once exactly one gets
// fresh. A zero receivedAt is now.
//
// Record only after the signature and timestamp are verified, so a forged
// request cannot burn the id of a genuine delivery.
func (db *DB) RecordDelivery(ctx context.Context, deliveryID string, receivedAt time.Time) (fresh bool, err error) {
	if err := checkDeliveryID(deliveryID); err != nil {
		return false, err
	}
	if receivedAt.IsZero() {
		receivedAt = db.clock()
	}
	res, err := db.x.ExecContext(ctx, db.q(`INSERT INTO webhook_deliveries (delivery_id, received_at)
		VALUES (?, ?) ON CONFLICT (delivery_id) DO NOTHING`), deliveryID, db.t(receivedAt))
	if err != nil {
		return false, wrap(err, "record delivery %s", deliveryID)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap(err, "record delivery %s", deliveryID)
	}
	return n == 1, nil
}

// ForgetDelivery removes a recorded delivery id, for a handler that
// recorded it and then failed before answering 200: Linear will retry the
// delivery, and the retry must not be dropped as a repeat. Forgetting an
// id that is not there is not an error.
func (db *DB) ForgetDelivery(ctx context.Context, deliveryID string) error {
	_, err := db.x.ExecContext(ctx, db.q(`DELETE FROM webhook_deliveries WHERE delivery_id = ?`), deliveryID)
	return wrap(err, "forget delivery %s", deliveryID)
}

// PruneDeliveries deletes delivery ids received before before and returns
// how many it deleted. Run it now and then (hourly is plenty) with
// now.Add(-DeliveryRetention); the index on received_at makes it a range
// delete.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.x.ExecContext(ctx, db.q(`DELETE FROM webhook_deliveries WHERE received_at < ?`), db.t(before))
	if err != nil {
		return 0, wrap(err, "prune deliveries before %s", before.UTC().Format(time.RFC3339))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(err, "prune deliveries")
	}
	return n, nil
}
