package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/linear/webhook"
)

// DeliveryRetention is how long a Linear-Delivery id is worth keeping.
// Linear retries a failed delivery at most 3 times, after 1 minute, 1 hour
// and 6 hours (https://developers.linear.app/docs/graphql/webhooks), so a repeat comes
// within about 7 hours; a week leaves room for a replica that was down and
// for a late manual redelivery, and still keeps the table small. Pass
// now.Add(-DeliveryRetention) to PruneDeliveries.
const DeliveryRetention = 7 * 24 * time.Hour

// MaxDeliveryAttempts is how many failed applies DeliveryFailed counts
// before it gives a delivery up. Replays run about once a minute, so this
// rides out a few minutes of trouble without retrying a delivery that can
// never apply for the whole retention week. A failure while the database
// itself is down is not counted (DeliveryFailed fails too), so an outage
// does not use the attempts up.
const MaxDeliveryAttempts = 10

// Delivery is a Linear delivery as stored for replay.
type Delivery = webhook.Delivery

// maxDeliveryID bounds a stored delivery id. Linear sends a UUID; the id
// comes from a request header, so anything far longer is not Linear's and
// must not grow the table.
const maxDeliveryID = 200

// maxDeliveryError bounds the failure text kept with a delivery.
const maxDeliveryError = 1000

// checkDeliveryID refuses an id the table should not hold.
func checkDeliveryID(id string) error {
	if strings.TrimSpace(id) == "" || len(id) > maxDeliveryID {
		return fmt.Errorf("delivery id of %d bytes (want 1 to %d): %w", len(id), maxDeliveryID, alert.ErrInvalid)
	}
	return nil
}

// RecordDelivery remembers a verified Linear webhook delivery (d.ID is its
// Linear-Delivery header) together with its body, not applied yet, and
// reports whether it is the first time the id is seen: fresh is false for
// a repeat, which the handler answers 200 and drops, and the stored row is
// left as it was. One INSERT ... ON CONFLICT DO NOTHING on the primary key
// decides, so of several replicas receiving the same delivery at once
// exactly one gets fresh. A zero d.ReceivedAt is now; d.Attempts and
// d.Superseded are ignored.
//
// The body is what makes the delivery durable: Linear does not resend a
// delivery it got a 200 for, so if the process dies before the apply,
// UnappliedDeliveries hands it back. A delivery recorded without a body
// is recorded as applied (there is nothing to replay), for callers that
// only dedupe.
//
// Record only after the signature and timestamp are verified, so a forged
// request cannot burn the id of a genuine delivery.
func (db *DB) RecordDelivery(ctx context.Context, d Delivery) (fresh bool, err error) {
	if err := checkDeliveryID(d.ID); err != nil {
		return false, err
	}
	if len(d.Body) > webhook.MaxBody {
		return false, fmt.Errorf("delivery %s: body of %d bytes exceeds %d: %w", d.ID, len(d.Body), webhook.MaxBody, alert.ErrInvalid)
	}
	at := d.ReceivedAt
	if at.IsZero() {
		at = db.clock()
	}
	var body, applied any // NULL unless set: a nil []byte is not NULL for every driver.
	if len(d.Body) > 0 {
		body = d.Body
	} else {
		applied = db.t(at)
	}
	var subject any
	if d.Subject != "" {
		// NULL never equals NULL, so deliveries without a subject never
		// supersede one another.
		subject = d.Subject
	}
	res, err := db.x.ExecContext(ctx, db.q(`INSERT INTO webhook_deliveries
		(delivery_id, received_at, subject, body, applied_at, attempts)
		VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (delivery_id) DO NOTHING`),
		d.ID, db.t(at), subject, body, applied)
	if err != nil {
		return false, wrap(err, "record delivery %s", d.ID)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap(err, "record delivery %s", d.ID)
	}
	return n == 1, nil
}

// MarkDeliveryApplied records that delivery id was applied, so it is not
// replayed, and drops its body, which is no longer needed. Marking an id
// that is unknown (pruned) or applied already is not an error.
func (db *DB) MarkDeliveryApplied(ctx context.Context, id string) error {
	_, err := db.x.ExecContext(ctx, db.q(`UPDATE webhook_deliveries SET applied_at = ?, body = NULL
		WHERE delivery_id = ? AND applied_at IS NULL`), db.t(db.clock()), id)
	return wrap(err, "mark delivery %s applied", id)
}

// DeliveryFailed counts a failed apply of delivery id and keeps reason
// (an error's text: never put a secret in it). The MaxDeliveryAttempts-th
// failure gives the delivery up: it is marked applied, keeping its body
// and last error for a person to look at, and gaveUp is true. A failure of
// an id that is unknown or applied already (another replica applied it
// meanwhile) changes nothing and is not an error.
func (db *DB) DeliveryFailed(ctx context.Context, id, reason string) (gaveUp bool, err error) {
	// attempts on the right-hand side is the value before the update, in
	// both dialects.
	var attempts int
	err = db.x.GetContext(ctx, &attempts, db.q(`UPDATE webhook_deliveries
		SET attempts = attempts + 1, last_error = ?,
		    applied_at = CASE WHEN attempts + 1 >= ? THEN ? ELSE applied_at END
		WHERE delivery_id = ? AND applied_at IS NULL
		RETURNING attempts`), storableText(reason, maxDeliveryError), MaxDeliveryAttempts, db.t(db.clock()), id)
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, wrap(err, "delivery %s failed", id)
	}
	return attempts >= MaxDeliveryAttempts, nil
}

// unappliedSQL lists the deliveries to replay, oldest first, each with
// whether a newer delivery of its subject exists (applied or not: either
// way the newer state wins). Ties on received_at are broken by id, the
// same order the list uses, so of one subject exactly one row is not
// superseded. Rows without a body are skipped: an older binary recorded
// them during a rolling upgrade and there is nothing to replay.
const unappliedSQL = `SELECT d.delivery_id, COALESCE(d.subject, '') AS subject, d.body, d.received_at, d.attempts,
	EXISTS (SELECT 1 FROM webhook_deliveries n WHERE n.subject = d.subject
		AND (n.received_at > d.received_at OR (n.received_at = d.received_at AND n.delivery_id > d.delivery_id))) AS superseded
	FROM webhook_deliveries d
	WHERE d.applied_at IS NULL AND d.body IS NOT NULL AND d.received_at < ?
	ORDER BY d.received_at, d.delivery_id
	LIMIT ?`

// deliveryRow is a row of unappliedSQL.
type deliveryRow struct {
	ID         string    `db:"delivery_id"`
	Subject    string    `db:"subject"`
	Body       []byte    `db:"body"`
	ReceivedAt time.Time `db:"received_at"`
	Attempts   int       `db:"attempts"`
	Superseded bool      `db:"superseded"`
}

// DefaultUnappliedLimit is UnappliedDeliveries' limit when it is given
// none.
const DefaultUnappliedLimit = 100

// UnappliedDeliveries returns up to limit deliveries received before
// receivedBefore that are neither applied nor given up, oldest first
// (limit <= 0 means DefaultUnappliedLimit). Pass a receivedBefore some
// time in the past, so deliveries still being applied in memory are left
// alone. Delivery.Superseded marks those with a newer delivery of the same
// subject: mark them applied rather than replay them.
func (db *DB) UnappliedDeliveries(ctx context.Context, receivedBefore time.Time, limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = DefaultUnappliedLimit
	}
	var rows []deliveryRow
	if err := db.x.SelectContext(ctx, &rows, db.q(unappliedSQL), db.t(receivedBefore), limit); err != nil {
		return nil, wrap(err, "unapplied deliveries")
	}
	out := make([]Delivery, 0, len(rows))
	for _, r := range rows {
		out = append(out, Delivery{ID: r.ID, Subject: r.Subject, Body: r.Body, ReceivedAt: r.ReceivedAt.UTC(),
			Attempts: r.Attempts, Superseded: r.Superseded})
	}
	return out, nil
}

// ForgetDelivery removes a recorded delivery id, for a handler that
// recorded it and then failed before answering 200: Linear will retry the
// delivery, and the retry must not be dropped as a repeat. Forgetting an
// id that is not there is not an error.
func (db *DB) ForgetDelivery(ctx context.Context, deliveryID string) error {
	_, err := db.x.ExecContext(ctx, db.q(`DELETE FROM webhook_deliveries WHERE delivery_id = ?`), deliveryID)
	return wrap(err, "forget delivery %s", deliveryID)
}

// PruneDeliveries deletes deliveries received before before, applied or
// not, and returns how many it deleted. Run it now and then (hourly is
// plenty) with now.Add(-DeliveryRetention); by then an unapplied one has
// long been given up. The index on received_at makes it a range delete.
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

// storableText makes s storable as TEXT in both dialects (valid UTF-8, no NUL,
// which PostgreSQL refuses) and at most limit bytes, cut at a rune boundary.
func storableText(s string, limit int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
