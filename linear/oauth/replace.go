package oauth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/proliferate/proliferate-linear/alert"
)

// ReplaceError is Complete's answer when the Slack team is connected to
// another working Linear workspace: one workspace per installation, and
// replacing it is the admin's explicit choice. Nothing was saved; the
// proposed connection waits, sealed, for StateTTL under ConfirmState, for
// ConfirmReplace (or CancelReplace). errors.Is(err, alert.ErrConflict)
// holds.
type ReplaceError = alert.ReplaceError

// Sealer encrypts small secrets with authenticated data; *secret.Keyring
// implements it.
type Sealer interface {
	Encrypt(plaintext, aad []byte) (string, error)
	Decrypt(sealed string, aad []byte) ([]byte, error)
}

// stash is a proposed replacement as it waits in the pending store.
type stash struct {
	Proposed alert.Connection `json:"proposed"`
	// Replaces is the workspace the admin agrees to replace; if another
	// has been connected meanwhile the confirmation no longer applies.
	Replaces string `json:"replaces"`
	// The tokens, kept apart so that Proposed is stored redacted whatever
	// alert.Connection's encoding tags say.
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// stashAAD binds a sealed stash to its Slack team and state, so it cannot
// be replayed under another.
func stashAAD(team, state string) []byte {
	return []byte("proliferate-linear/replace\x00" + team + "\x00" + state)
}

// proposeReplace seals proposed into the pending store and returns the
// *ReplaceError that asks for confirmation.
func (m *Manager) proposeReplace(ctx context.Context, current, proposed alert.Connection, log *slog.Logger) error {
	p, err := NewPending(proposed.SlackTeamID, proposed.ConnectedBy, m.now())
	if err != nil {
		m.revokeQuietly(ctx, proposed, log)
		return err
	}
	raw, err := json.Marshal(stash{Proposed: redacted(proposed), Replaces: current.OrgID,
		AccessToken: proposed.AccessToken, RefreshToken: proposed.RefreshToken})
	if err == nil {
		var sealed string
		if sealed, err = m.sealer.Encrypt(raw, stashAAD(p.SlackTeamID, p.State)); err == nil {
			err = m.store.SavePendingAuth(ctx, p.State, p.SlackTeamID, p.SlackUserID, stashPrefix+sealed, p.ExpiresAt)
		}
	}
	if err != nil {
		m.revokeQuietly(ctx, proposed, log)
		return fmt.Errorf("linear oauth callback: keep the proposed connection: %w", err)
	}
	log.InfoContext(ctx, "linear connect needs confirmation to replace another workspace", "linear_org_current", current.OrgID)
	return &ReplaceError{Current: redacted(current), Proposed: redacted(proposed), ConfirmState: p.State}
}

// takeStash takes the waiting replacement of confirmState for slackTeamID;
// an unknown, used, expired or foreign one is an error wrapping
// alert.ErrNotFound.
func (m *Manager) takeStash(ctx context.Context, slackTeamID, confirmState string) (stash, error) {
	notFound := fmt.Errorf("linear replace: no such confirmation: %w", alert.ErrNotFound)
	if confirmState == "" {
		return stash{}, notFound
	}
	team, _, v, _, err := m.store.TakePendingAuth(ctx, confirmState, m.now())
	if err != nil {
		return stash{}, fmt.Errorf("linear replace: %w", err)
	}
	sealed, ok := strings.CutPrefix(v, stashPrefix)
	if !ok || team != slackTeamID {
		return stash{}, notFound
	}
	raw, err := m.sealer.Decrypt(sealed, stashAAD(team, confirmState))
	if err != nil {
		// Sealed by another process without a shared Sealer, or tampered.
		m.log.WarnContext(ctx, "linear replace: the waiting connection cannot be opened", "slack_team", team, "err", err)
		return stash{}, notFound
	}
	var st stash
	if err := json.Unmarshal(raw, &st); err != nil {
		return stash{}, fmt.Errorf("linear replace: %w", err)
	}
	st.Proposed.AccessToken, st.Proposed.RefreshToken = st.AccessToken, st.RefreshToken
	return st, nil
}

// ConfirmReplace finishes a replacement Complete proposed: the proposed
// connection is saved and the replaced workspace's grant revoked. If yet
// another workspace was connected meanwhile, the error wraps
// alert.ErrConflict and the proposal is dropped.
func (m *Manager) ConfirmReplace(ctx context.Context, slackTeamID, confirmState string) (alert.Connection, error) {
	st, err := m.takeStash(ctx, slackTeamID, confirmState)
	if err != nil {
		return alert.Connection{}, err
	}
	log := m.log.With("slack_team", slackTeamID, "linear_org", st.Proposed.OrgID)
	var replaced alert.Connection
	saved, err := m.lockOrCreate(ctx, slackTeamID, func(cur alert.Connection) (alert.Connection, error) {
		if cur.OrgID != "" && cur.OrgID != st.Replaces && cur.OrgID != st.Proposed.OrgID {
			return alert.Connection{}, fmt.Errorf("linear replace: the connected workspace changed meanwhile: %w", alert.ErrConflict)
		}
		replaced = cur
		return merge(cur, st.Proposed), nil
	})
	if err != nil {
		m.revokeQuietly(ctx, st.Proposed, log)
		return alert.Connection{}, fmt.Errorf("linear replace: %w", err)
	}
	if replaced.OrgID != "" && replaced.OrgID != st.Proposed.OrgID {
		m.revokeQuietly(ctx, replaced, log)
	}
	m.remember(slackTeamID)
	m.forget(slackTeamID)
	log.InfoContext(ctx, "linear workspace replaced", "linear_org_replaced", replaced.OrgID)
	return redacted(saved), nil
}

// CancelReplace drops a proposed replacement and revokes its grant; the
// current connection stays.
func (m *Manager) CancelReplace(ctx context.Context, slackTeamID, confirmState string) error {
	st, err := m.takeStash(ctx, slackTeamID, confirmState)
	if err != nil {
		return err
	}
	if err := m.revoke(ctx, st.Proposed); err != nil {
		return fmt.Errorf("linear replace cancel: %w", err)
	}
	return nil
}

// ephemeralSealer is AES-256-GCM under a key made at start-up: a stash it
// seals opens only in this process, which suits one replica.
type ephemeralSealer struct{ aead cipher.AEAD }

func newEphemeralSealer() Sealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+).
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return ephemeralSealer{aead}
}

func (s ephemeralSealer) Encrypt(plaintext, aad []byte) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plaintext, aad)), nil
}

func (s ephemeralSealer) Decrypt(sealed string, aad []byte) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return nil, errors.New("sealed value is malformed")
	}
	n := s.aead.NonceSize()
	return s.aead.Open(nil, raw[:n], raw[n:], aad)
}
