package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// DeliveryRetention is how long a Linear-Delivery id is worth keeping.
// Linear retries a failed delivery at most 3 times, after 1 minute, 1 hour
// and 6 hours (https://developers.linear.app/docs/graphql/webhooks), so a repeat comes
// within about 7 hours; a week leaves room for a replica that was down and
// for a late manual redelivery, and still keeps the table small. Pass
// now.Add(-DeliveryRetention) to PruneDeliveries.
const DeliveryRetention = 7 * 24 * time.Hour

// upsertDeliveryJobSQL queues a delivery's job, or, when a job of the same
// subject (dedupe key) is still queued, gives that job the newer
// delivery's payload: every delivery carries its issue's whole state, so
// the older one is not worth applying, and applying it after the newer one
// (it was waiting out a backoff) would show an older state. The replaced
// job is due now and starts its attempts afresh. A running job of the
// subject is outside the index: the new job waits for it (serial key) and
// runs after it; should the running one fail, its retry folds into the new
// one (RetryJob).
const upsertDeliveryJobSQL = `INSERT INTO jobs (kind, payload, dedupe_key, serial_key, status, attempts, run_at, created_at)
VALUES (?, ?, ?, ?, 'queued', 0, ?, ?)
ON CONFLICT (dedupe_key) WHERE status = 'queued' DO UPDATE SET
	payload = excluded.payload, run_at = excluded.run_at, attempts = 0, last_error = '', created_at = excluded.created_at`

// RecordDelivery remembers a verified Linear webhook delivery (deliveryID is
// its Linear-Delivery header) and queues j, the job that applies it, in
// one transaction, and reports whether the id is new: fresh is false for a
// repeat, which the handler answers 200 and drops, and nothing changes.
// The INSERT ... ON CONFLICT DO NOTHING on the primary key decides, so of
// several replicas receiving the same delivery at once exactly one gets
// fresh. A queued job with j's dedupe key takes j's payload instead of a
// second job being queued (see upsertDeliveryJobSQL).
//
// Record only after the signature and timestamp are verified, so a forged
// request cannot burn the id of a genuine delivery.
func (db *DB) RecordDelivery(ctx context.Context, deliveryID string, j alert.Job) (fresh bool, err error) {
	if err := alert.CheckDeliveryID(deliveryID); err != nil {
		return false, err
	}
	if j.Kind == "" || j.DedupeKey == "" || j.AlertID != 0 {
		return false, fmt.Errorf("delivery %s: job needs a kind and a dedupe key, and no alert: %w", deliveryID, alert.ErrInvalid)
	}
	now := db.clock()
	err = db.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := db.exec(ctx, tx, `INSERT INTO webhook_deliveries (delivery_id, received_at)
			VALUES (?, ?) ON CONFLICT (delivery_id) DO NOTHING`, deliveryID, db.t(now))
		if err != nil {
			return wrap(err, "record delivery %s", deliveryID)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return wrap(err, "record delivery %s", deliveryID)
		}
		if fresh = n == 1; !fresh {
			return nil
		}
		_, err = db.exec(ctx, tx, upsertDeliveryJobSQL, string(j.Kind), clean(j.Payload),
			j.DedupeKey, nullString(j.SerialKey), db.t(now), db.t(now))
		return wrap(err, "queue the job of delivery %s", deliveryID)
	})
	if err != nil {
		return false, err
	}
	return fresh, nil
}

// PruneDeliveries deletes delivery ids received before before and returns
// how many it deleted. Run it now and then (hourly is plenty) with
// now.Add(-DeliveryRetention); the jobs they queued are long done. The
// index on received_at makes it a range delete.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.exec(ctx, nil, `DELETE FROM webhook_deliveries WHERE received_at < ?`, db.t(before))
	if err != nil {
		return 0, wrap(err, "prune deliveries before %s", before.UTC().Format(time.RFC3339))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(err, "prune deliveries")
	}
	return n, nil
}
