package store

import (
	"context"

	"github.com/proliferate/proliferate-linear/alert"
)

// DeadJobByDedupeKey returns the newest dead job holding key; ErrNotFound
// if none. An auto rule's filing that failed for good stays dead under its
// error's key, so a later job for the error knows the thread was told.
func (db *DB) DeadJobByDedupeKey(ctx context.Context, key string) (alert.Job, error) {
	var j alert.Job
	err := db.x.GetContext(ctx, &j, db.q(`SELECT `+jobColumns+` FROM jobs WHERE dedupe_key = ? AND status = ? ORDER BY id DESC LIMIT 1`), key, jobDead)
	if err != nil {
		return alert.Job{}, wrap(err, "dead job %s", key)
	}
	return utcJob(j), nil
}
