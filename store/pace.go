package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// ReserveChannelSlot reserves channel's next slot for a Slack message, for
// every replica at once: the slot is the latest of now, the previous
// reservation plus gap, and the end of the channel's hold (Retry-After).
// It returns how long until the slot. Past maxWait nothing is reserved and
// ok is false, so a job that will not wait leaves no hole in the pace.
func (db *DB) ReserveChannelSlot(ctx context.Context, channel string, gap, maxWait time.Duration) (time.Duration, bool, error) {
	if db.dialect == DialectPostgres {
		return db.reserveChannelSlotPostgres(ctx, channel, gap, maxWait)
	}
	var (
		wait time.Duration
		ok   bool
	)
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		now := db.clock()
		if _, err := db.exec(ctx, tx, `INSERT INTO channel_pace (channel, next_at, held_until) VALUES (?, ?, ?)
			ON CONFLICT (channel) DO NOTHING`, channel, db.t(now), db.t(now)); err != nil {
			return wrap(err, "pace of %s", channel)
		}
		// FOR UPDATE holds the row until commit on PostgreSQL; SQLite's
		// BEGIN IMMEDIATE already holds the whole database.
		query := `SELECT next_at, held_until FROM channel_pace WHERE channel = ?`
		if db.dialect == DialectPostgres {
			query += ` FOR UPDATE`
		}
		var row struct {
			Next time.Time `db:"next_at"`
			Held time.Time `db:"held_until"`
		}
		if err := db.get(ctx, tx, &row, query, channel); err != nil {
			return wrap(err, "pace of %s", channel)
		}
		slot := now
		if row.Next.After(slot) {
			slot = row.Next
		}
		if row.Held.After(slot) {
			slot = row.Held
		}
		wait = slot.Sub(now)
		if wait > maxWait {
			return nil
		}
		ok = true
		_, err := db.exec(ctx, tx, `UPDATE channel_pace SET next_at = ? WHERE channel = ?`, db.t(slot.Add(gap)), channel)
		return wrap(err, "reserve a slot in %s", channel)
	})
	return wait, ok, err
}

// reserveSlotPostgres reserves the slot in one statement (every message to
// Slack costs one, so a transaction of four round trips was a good part of
// a burst's database work): the upsert locks the channel's row, and its
// WHERE leaves the row alone when the slot is more than maxWait away.
// $1 channel, $2 now, $3 gap and $4 maxWait in microseconds.
const reserveSlotPostgres = `INSERT INTO channel_pace AS p (channel, next_at, held_until)
	VALUES ($1, $2::timestamptz + $3::bigint * interval '1 microsecond', $2)
ON CONFLICT (channel) DO UPDATE
	SET next_at = GREATEST(p.next_at, p.held_until, $2::timestamptz) + $3::bigint * interval '1 microsecond'
	WHERE GREATEST(p.next_at, p.held_until, $2::timestamptz) <= $2::timestamptz + $4::bigint * interval '1 microsecond'
RETURNING next_at`

func (db *DB) reserveChannelSlotPostgres(ctx context.Context, channel string, gap, maxWait time.Duration) (time.Duration, bool, error) {
	now := dbTime(db.clock())
	var next time.Time
	err := db.get(ctx, nil, &next, reserveSlotPostgres, channel, now, gap.Microseconds(), maxWait.Microseconds())
	if err == nil {
		return max(next.Add(-gap).Sub(now), 0), true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, wrap(err, "reserve a slot in %s", channel)
	}
	// Too far off: nothing reserved; say how far.
	var slot time.Time
	if err := db.get(ctx, nil, &slot, `SELECT GREATEST(next_at, held_until) FROM channel_pace WHERE channel = ?`, channel); err != nil {
		return 0, false, wrap(err, "pace of %s", channel)
	}
	return max(slot.Sub(now), 0), false, nil
}

// HoldChannel keeps channel quiet for d from now; a longer hold stays.
// Times are compared as stored: timestamptz on PostgreSQL, fixed-width
// text on SQLite, which orders the same way.
func (db *DB) HoldChannel(ctx context.Context, channel string, d time.Duration) error {
	now := db.clock()
	_, err := db.exec(ctx, nil, `INSERT INTO channel_pace (channel, next_at, held_until) VALUES (?, ?, ?)
		ON CONFLICT (channel) DO UPDATE SET held_until = CASE
			WHEN channel_pace.held_until < excluded.held_until THEN excluded.held_until ELSE channel_pace.held_until END`,
		channel, db.t(now), db.t(now.Add(d)))
	return wrap(err, "hold %s", channel)
}

// ChannelHeld returns how long channel's hold still lasts, 0 if none.
func (db *DB) ChannelHeld(ctx context.Context, channel string) (time.Duration, error) {
	var held time.Time
	err := db.get(ctx, nil, &held, `SELECT held_until FROM channel_pace WHERE channel = ?`, channel)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap(err, "hold of %s", channel)
	}
	return max(held.Sub(db.clock()), 0), nil
}

// clean makes s storable as text in both dialects: PostgreSQL refuses NUL
// and invalid UTF-8 in text ("invalid byte sequence for encoding UTF8:
// 0x00"), which would turn a valid alert into a 503 for ever. Both become
// U+FFFD, on SQLite too, so both stores keep the same text.
func clean(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
