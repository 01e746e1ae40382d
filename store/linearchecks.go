package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// MarkLinearChecked records that Linear, asked at at, had no issue of
// someone else's carrying the error; a later check replaces it.
func (db *DB) MarkLinearChecked(ctx context.Context, errorID string, at time.Time) error {
	_, err := db.exec(ctx, nil, `INSERT INTO linear_checks (error_id, checked_at) VALUES (?, ?)
		ON CONFLICT (error_id) DO UPDATE SET checked_at = excluded.checked_at`, clean(errorID), db.t(at))
	return wrap(err, "record linear check of %s", errorID)
}

// LinearCheckedAt returns when Linear last said no issue carries the
// error, the zero time if it never did.
func (db *DB) LinearCheckedAt(ctx context.Context, errorID string) (time.Time, error) {
	var at time.Time
	err := db.get(ctx, nil, &at, `SELECT checked_at FROM linear_checks WHERE error_id = ?`, clean(errorID))
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap(err, "linear check of %s", errorID)
	}
	return at.UTC(), nil
}
