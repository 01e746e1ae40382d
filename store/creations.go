package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
)

// creationColumns lists creations' columns in alert.Creation's db tags.
// PostgreSQL stores the id as uuid; reading it back as text gives the
// canonical lower-case form, the same form the store writes on SQLite.
const creationColumns = `id, error_id, alert_id, slack_user, status, issue_id, created_at, updated_at`

// creationID checks that id is a UUID and returns its canonical form, so a
// retry that spells it in upper case still finds its intent on SQLite.
func creationID(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", fmt.Errorf("creation id %q: %w", id, alert.ErrInvalid)
	}
	return u.String(), nil
}

// BeginCreation records a create intent before Linear is called.
//
//   - A creation with c.ID already there is returned unchanged (a retry of
//     the same intent, pending or done).
//   - A pending creation for c.ErrorID not touched for staleAfter is
//     presumed dead (its replica crashed mid-request) and is replaced; a
//     staleAfter of 0 never replaces one (the core reconciles it with
//     Linear first, see ReplaceCreation).
//   - A younger pending creation for c.ErrorID makes it fail with
//     ErrConflict: the partial unique index creations_one_pending allows
//     one pending intent per error, across replicas.
func (db *DB) BeginCreation(ctx context.Context, c alert.Creation, staleAfter time.Duration) (alert.Creation, error) {
	id, err := creationID(c.ID)
	if err != nil {
		return alert.Creation{}, err
	}
	if strings.TrimSpace(c.ErrorID) == "" {
		return alert.Creation{}, fmt.Errorf("creation needs an error id: %w", alert.ErrInvalid)
	}
	var out alert.Creation
	err = db.inTx(ctx, func(tx *sqlx.Tx) error {
		out, err = db.beginCreation(ctx, tx, id, c, staleAfter)
		return err
	})
	if err != nil {
		return alert.Creation{}, err
	}
	return out, nil
}

// beginCreation is BeginCreation in tx; id is c.ID in canonical form.
func (db *DB) beginCreation(ctx context.Context, tx *sqlx.Tx, id string, c alert.Creation, staleAfter time.Duration) (alert.Creation, error) {
	now := db.clock()
	c.ID, c.Status, c.IssueID, c.CreatedAt, c.UpdatedAt = id, alert.CreationPending, "", now, now
	existing, err := db.creation(ctx, tx, id)
	if err == nil {
		return existing, nil
	} else if !errors.Is(err, alert.ErrNotFound) {
		return alert.Creation{}, err
	}
	if staleAfter > 0 {
		if _, err := db.exec(ctx, tx, `DELETE FROM creations
			WHERE error_id = ? AND status = 'pending' AND updated_at <= ?`,
			c.ErrorID, db.t(now.Add(-staleAfter))); err != nil {
			return alert.Creation{}, wrap(err, "drop stale creations of error %s", c.ErrorID)
		}
	}
	// DO NOTHING rather than an error: on PostgreSQL a failed statement
	// would abort the transaction, and a concurrent BeginCreation with
	// the same id must still get its creation back below.
	res, err := db.exec(ctx, tx, `INSERT INTO creations (`+creationColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.ID, c.ErrorID, c.AlertID, c.SlackUser, string(c.Status), c.IssueID, db.t(now), db.t(now))
	if err != nil {
		return alert.Creation{}, wrap(err, "insert creation %s", id)
	}
	if n, err := res.RowsAffected(); err != nil {
		return alert.Creation{}, wrap(err, "insert creation %s", id)
	} else if n == 1 {
		return c, nil
	}
	// Lost a race: either the same intent (then it is ours to return)
	// or another pending one for the error.
	existing, err = db.creation(ctx, tx, id)
	if err == nil {
		return existing, nil
	} else if !errors.Is(err, alert.ErrNotFound) {
		return alert.Creation{}, err
	}
	return alert.Creation{}, fmt.Errorf("another creation for error %s is pending: %w", c.ErrorID, alert.ErrConflict)
}

// creation reads one creation in tx; ErrNotFound if none.
func (db *DB) creation(ctx context.Context, tx *sqlx.Tx, id string) (alert.Creation, error) {
	var c alert.Creation
	err := db.get(ctx, tx, &c, `SELECT `+creationColumns+` FROM creations WHERE id = ?`, id)
	if err != nil {
		return alert.Creation{}, wrap(err, "creation %s", id)
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// CompleteCreation marks creation id done with link.IssueID, saves the link
// and queues jobs, in one transaction: either all of it is recorded or none
// of it. Completing an already done creation with the same issue is a
// no-op retry; with another issue it is ErrConflict. A creation that is
// gone (abandoned, or replaced as stale) is ErrNotFound.
func (db *DB) CompleteCreation(ctx context.Context, id string, link alert.IssueLink, jobs ...alert.Job) error {
	cid, err := creationID(id)
	if err != nil {
		return err
	}
	if err := checkLink(link); err != nil {
		return err
	}
	now := db.clock()
	return db.inTx(ctx, func(tx *sqlx.Tx) error {
		lock := ""
		if db.dialect == DialectPostgres {
			lock = " FOR UPDATE" // SQLite's BEGIN IMMEDIATE already holds the write lock.
		}
		var cur struct {
			Status  string `db:"status"`
			IssueID string `db:"issue_id"`
			ErrorID string `db:"error_id"`
		}
		err := db.get(ctx, tx, &cur, `SELECT status, issue_id, error_id FROM creations WHERE id = ?`+lock, cid)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("complete creation %s: %w", cid, alert.ErrNotFound)
		} else if err != nil {
			return wrap(err, "complete creation %s", cid)
		}
		if cur.ErrorID != link.ErrorID {
			return fmt.Errorf("complete creation %s of error %s with a link of error %s: %w",
				cid, cur.ErrorID, link.ErrorID, alert.ErrInvalid)
		}
		if cur.Status == string(alert.CreationDone) {
			if cur.IssueID != link.IssueID {
				return fmt.Errorf("creation %s is done with issue %s, not %s: %w", cid, cur.IssueID, link.IssueID, alert.ErrConflict)
			}
			return nil
		}
		if _, err := db.exec(ctx, tx, `UPDATE creations SET status = 'done', issue_id = ?, updated_at = ? WHERE id = ?`,
			link.IssueID, db.t(now), cid); err != nil {
			return wrap(err, "complete creation %s", cid)
		}
		if err := db.saveLink(ctx, tx, now, link); err != nil {
			return err
		}
		return db.insertJobs(ctx, tx, now, jobs...)
	})
}

// AbandonCreation deletes a pending creation that failed for good, so the
// error can be created again. ErrNotFound if no such pending creation (it
// was abandoned already, or replaced as stale); ErrConflict if it is done.
func (db *DB) AbandonCreation(ctx context.Context, id string) error {
	cid, err := creationID(id)
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := db.exec(ctx, tx, `DELETE FROM creations WHERE id = ? AND status = 'pending'`, cid)
		if err != nil {
			return wrap(err, "abandon creation %s", cid)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap(err, "abandon creation %s", cid)
		} else if n == 1 {
			return nil
		}
		if _, err := db.creation(ctx, tx, cid); err != nil {
			return fmt.Errorf("abandon: %w", err)
		}
		return fmt.Errorf("abandon creation %s: it is done: %w", cid, alert.ErrConflict)
	})
}

// PendingCreation returns the pending creation of an error; ErrNotFound if
// none is pending.
func (db *DB) PendingCreation(ctx context.Context, errorID string) (alert.Creation, error) {
	var c alert.Creation
	err := db.get(ctx, nil, &c, `SELECT `+creationColumns+` FROM creations
		WHERE error_id = ? AND status = 'pending'`, errorID)
	if err != nil {
		return alert.Creation{}, wrap(err, "pending creation of error %s", errorID)
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// TouchCreation stamps a pending creation just before its issueCreate is
// sent (updated_at = now), so no newer intent replaces it while that
// request may be in flight (see ReplaceCreation). It returns the creation
// as it now is: a done one unchanged, ErrNotFound if it is gone (abandoned,
// or replaced by a newer intent).
func (db *DB) TouchCreation(ctx context.Context, id string) (alert.Creation, error) {
	cid, err := creationID(id)
	if err != nil {
		return alert.Creation{}, err
	}
	now := db.clock()
	var out alert.Creation
	err = db.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := db.exec(ctx, tx, `UPDATE creations SET updated_at = ? WHERE id = ? AND status = 'pending'`,
			db.t(now), cid); err != nil {
			return wrap(err, "touch creation %s", cid)
		}
		out, err = db.creation(ctx, tx, cid)
		return err
	})
	return out, err
}

// ReplaceCreation puts c in place of old, a pending creation of the same
// error presumed dead: its request cannot be in flight any more and Linear
// has no issue with its id. It succeeds only if old is unchanged since it
// was read (same updated_at: TouchCreation moves it), so a replica that is
// just about to send old's request keeps it; otherwise ErrConflict. Once
// replaced, old's own job finds it gone (TouchCreation → ErrNotFound) and
// sends nothing.
func (db *DB) ReplaceCreation(ctx context.Context, old, c alert.Creation) (alert.Creation, error) {
	oid, err := creationID(old.ID)
	if err != nil {
		return alert.Creation{}, err
	}
	cid, err := creationID(c.ID)
	if err != nil {
		return alert.Creation{}, err
	}
	var out alert.Creation
	if c.ErrorID != old.ErrorID {
		return alert.Creation{}, fmt.Errorf("replace a creation of error %s by one of %s: %w", old.ErrorID, c.ErrorID, alert.ErrInvalid)
	}
	err = db.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := db.exec(ctx, tx, `DELETE FROM creations WHERE id = ? AND status = 'pending' AND updated_at = ?`,
			oid, db.t(old.UpdatedAt))
		if err != nil {
			return wrap(err, "replace creation %s", oid)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap(err, "replace creation %s", oid)
		} else if n == 0 {
			return fmt.Errorf("creation %s changed since it was read: %w", oid, alert.ErrConflict)
		}
		out, err = db.beginCreation(ctx, tx, cid, c, 0)
		return err
	})
	if err != nil {
		return alert.Creation{}, err
	}
	return out, nil
}

// PendingCreations returns up to limit pending creations last touched
// before touchedBefore, oldest first: the ones whose run may have died
// with Linear's answer on its way (see alert.Service.ReconcileCreations).
func (db *DB) PendingCreations(ctx context.Context, touchedBefore time.Time, limit int) ([]alert.Creation, error) {
	var cs []alert.Creation
	err := db.sel(ctx, nil, &cs, `SELECT `+creationColumns+` FROM creations
		WHERE status = 'pending' AND updated_at < ? ORDER BY updated_at, id LIMIT ?`, db.t(touchedBefore), limit)
	if err != nil {
		return nil, wrap(err, "pending creations")
	}
	for i := range cs {
		cs[i].CreatedAt, cs[i].UpdatedAt = cs[i].CreatedAt.UTC(), cs[i].UpdatedAt.UTC()
	}
	return cs, nil
}
