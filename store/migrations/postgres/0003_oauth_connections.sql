-- Linear OAuth connections (issue 3), PostgreSQL. Same columns and tables
-- as the SQLite file.

-- Who authorised the app, why a connection needs a reconnect (an OAuth
-- error code or a short phrase, never a token), and the team preselected in
-- the create modal.
ALTER TABLE connections ADD COLUMN user_name        TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN user_email       TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN status_reason    TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN default_team_key TEXT NOT NULL DEFAULT '';

-- Connect flows under way. The callback may reach another replica than the
-- one that made the link, so they live here rather than in memory.
-- state_hash is the hex SHA-256 of the OAuth state: the state is a bearer
-- secret for the flow, so only its digest is kept (it has 256 random bits,
-- so a fast hash is enough). verifier_enc is the PKCE verifier, sealed
-- like the tokens.
CREATE TABLE oauth_states (
    state_hash    TEXT        PRIMARY KEY,
    slack_team_id TEXT        NOT NULL,
    slack_user_id TEXT        NOT NULL,
    verifier_enc  TEXT        NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
-- Expired flows are swept by expiry.
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);
