package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/proliferate/proliferate-linear/alert"
	"github.com/proliferate/proliferate-linear/secret"
)

// ErrNoKeyring is returned by every method that seals or opens a secret
// (tokens, PKCE verifiers) when SetKeyring was not called: refusing is
// better than storing a token in plain text.
var ErrNoKeyring = errors.New("store: no encryption keyring set (call SetKeyring before using connections)")

// SetKeyring sets the keys that seal tokens and PKCE verifiers at rest and
// open them again. Call it before the first connection or OAuth state
// method; it may be called again (with the same keys plus a new current
// one, say) while the DB is in use.
func (db *DB) SetKeyring(kr *secret.Keyring) { db.kr.Store(kr) }

// keyring is the keyring set with SetKeyring, or ErrNoKeyring.
func (db *DB) keyring() (*secret.Keyring, error) {
	kr := db.kr.Load()
	if kr == nil {
		return nil, ErrNoKeyring
	}
	return kr, nil
}

// Sealed columns. The AAD of a sealed value names its table, row and
// column, so a ciphertext copied to another row or column (by a bug, or
// by someone with write access to the database) fails to open instead of
// handing one workspace another's token.
const (
	colAccessToken  = "access_token"
	colRefreshToken = "refresh_token"
	colVerifier     = "verifier"
)

// connAAD binds a token to its connection row and column.
func connAAD(slackTeamID, column string) []byte {
	return []byte("connections/" + slackTeamID + "/" + column)
}

// stateAAD binds a PKCE verifier to its oauth_states row.
func stateAAD(stateHash string) []byte {
	return []byte("oauth_states/" + stateHash + "/" + colVerifier)
}

// stateHash is the key an OAuth state is stored under: its hex SHA-256.
// The state has 256 random bits, so a fast unsalted hash cannot be
// reversed, and a database reader learns nothing usable from it.
func stateHash(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// seal encrypts a secret for storage; "" stays "" (nothing to hide, and it
// lets a column say "no such token").
func seal(kr *secret.Keyring, plain string, aad []byte) (string, error) {
	if plain == "" {
		return "", nil
	}
	s, err := kr.Encrypt([]byte(plain), aad)
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", aad, err)
	}
	return s, nil
}

// unseal opens a stored secret; "" stays "". The error names where the
// value lives (the AAD) and wraps secret's sentinel, never the value.
func unseal(kr *secret.Keyring, sealed string, aad []byte) (string, error) {
	if sealed == "" {
		return "", nil
	}
	plain, err := kr.Decrypt(sealed, aad)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", aad, err)
	}
	return string(plain), nil
}

// ResealAll re-encrypts every sealed value (access and refresh tokens,
// PKCE verifiers) that was sealed with a key other than the keyring's
// current one, and reports how many values it rewrote. It is the key
// rotation command: deploy with the new key as current and the old one as
// previous, run ResealAll, then drop the old key. Expired OAuth states are
// deleted rather than resealed.
//
// Each row is resealed in its own transaction under the same lock as
// WithConnectionLock, so a token refreshed meanwhile is never overwritten
// with an older one. A value that does not open (a retired key, a copied
// ciphertext) does not stop the others: its error is joined into err and
// ResealAll goes on, so n counts what was done either way.
func (db *DB) ResealAll(ctx context.Context) (n int, err error) {
	kr, err := db.keyring()
	if err != nil {
		return 0, err
	}
	if _, err := db.exec(ctx, nil, `DELETE FROM oauth_states WHERE expires_at <= ?`, db.t(db.clock())); err != nil {
		return 0, fmt.Errorf("reseal: sweep expired oauth states: %w", err)
	}
	var teams, states []string
	if err := db.x.SelectContext(ctx, &teams, `SELECT slack_team_id FROM connections ORDER BY slack_team_id`); err != nil {
		return 0, fmt.Errorf("reseal: list connections: %w", err)
	}
	if err := db.x.SelectContext(ctx, &states, `SELECT state_hash FROM oauth_states ORDER BY state_hash`); err != nil {
		return 0, fmt.Errorf("reseal: list oauth states: %w", err)
	}
	var errs []error
	for _, team := range teams {
		k, err := db.resealRow(ctx, kr, "connections", "slack_team_id", team, map[string][]byte{
			"access_token_enc":  connAAD(team, colAccessToken),
			"refresh_token_enc": connAAD(team, colRefreshToken),
		})
		n += k
		errs = append(errs, err)
	}
	for _, h := range states {
		k, err := db.resealRow(ctx, kr, "oauth_states", "state_hash", h, map[string][]byte{
			"verifier_enc": stateAAD(h),
		})
		n += k
		errs = append(errs, err)
	}
	err = errors.Join(errs...)
	db.log.InfoContext(ctx, "sealed values re-encrypted", "count", n, "key_version", kr.CurrentVersion(), "failed", err != nil)
	return n, err
}

// resealRow reseals the given columns (name → AAD) of one row, locking it
// first. A row deleted meanwhile is skipped. Table and column names are
// this package's constants, never input.
func (db *DB) resealRow(ctx context.Context, kr *secret.Keyring, table, keyCol, key string, cols map[string][]byte) (int, error) {
	n := 0
	err := db.inTx(ctx, func(tx *sqlx.Tx) error {
		n = 0 // inTx does not retry, but keep the count true to what commits.
		for col, aad := range cols {
			var sealed string
			err := db.get(ctx, tx, &sealed, `SELECT `+col+` FROM `+table+` WHERE `+keyCol+` = ?`+db.forUpdate(), key)
			if err != nil {
				return wrap(err, "reseal: read %s", aad)
			}
			if sealed == "" {
				continue
			}
			resealed, changed, err := kr.Reseal(sealed, aad)
			if err != nil {
				return fmt.Errorf("reseal %s: %w", aad, err)
			}
			if !changed {
				continue
			}
			if _, err := db.exec(ctx, tx, `UPDATE `+table+` SET `+col+` = ? WHERE `+keyCol+` = ?`, resealed, key); err != nil {
				return fmt.Errorf("reseal %s: write: %w", aad, err)
			}
			n++
		}
		return nil
	})
	if errors.Is(err, alert.ErrNotFound) { // deleted since it was listed: nothing to reseal.
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// forUpdate is the row-lock clause of a SELECT in this dialect. SQLite has
// no row locks and needs none: every transaction here begins IMMEDIATE,
// which takes the database's single write lock (see sqliteDSN).
func (db *DB) forUpdate() string {
	if db.dialect == DialectPostgres {
		return ` FOR UPDATE`
	}
	return ""
}
