package store

import (
	"context"

	"github.com/proliferate/proliferate-linear/alert"
)

// CreationByID returns the creation with id (the UUID sent to Linear as
// the id), pending or done; ErrNotFound if none.
func (db *DB) CreationByID(ctx context.Context, id string) (alert.Creation, error) {
	var c alert.Creation
	err := db.get(ctx, nil, &c, `SELECT `+creationColumns+` FROM creations WHERE id = ?`, id)
	if err != nil {
		return alert.Creation{}, wrap(err, "creation %s", id)
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}
