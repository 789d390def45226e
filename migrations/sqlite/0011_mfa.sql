-- The TOTP second factor (RFC 6238): one factor per user (pending until confirmed, then
-- enabled), its one-time recovery codes (SHA-256 stored), the short-lived tickets a sign-in
-- answers for an enrolled account, and a workspace's demand that its members use MFA.
CREATE TABLE totp_factors (
    user_id        BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The shared secret: sealed (nonce || ChaCha20-Poly1305) when a key-encryption key is set.
    secret         BLOB NOT NULL,
    sealed         INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    confirmed_at   INTEGER,
    -- The last 30 s step a code was accepted for: a code works once (`WHERE last_used_step < $step`).
    last_used_step INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE recovery_codes (
    code_hash  BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX ix_recovery_codes_user ON recovery_codes (user_id);

CREATE TABLE mfa_tickets (
    ticket_hash BLOB PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0,
    used_at     INTEGER
);
CREATE INDEX ix_mfa_tickets_expires ON mfa_tickets (expires_at);

ALTER TABLE workspaces ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;
