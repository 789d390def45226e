-- The TOTP second factor (RFC 6238): one factor per user (pending until confirmed, then
-- enabled), its one-time recovery codes (SHA-256 stored), the short-lived tickets a sign-in
-- answers for an enrolled account, and a workspace's demand that its members use MFA.
CREATE TABLE totp_factors (
    user_id        UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The shared secret: sealed (nonce || ChaCha20-Poly1305) when a key-encryption key is set.
    secret         BYTEA NOT NULL,
    sealed         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMPTZ NOT NULL,
    confirmed_at   TIMESTAMPTZ,
    -- The last 30 s step a code was accepted for: a code works once (`WHERE last_used_step < $step`).
    last_used_step BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE recovery_codes (
    code_hash  BYTEA PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX ix_recovery_codes_user ON recovery_codes (user_id);

CREATE TABLE mfa_tickets (
    ticket_hash BYTEA PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    failures    BIGINT NOT NULL DEFAULT 0,
    used_at     TIMESTAMPTZ
);
CREATE INDEX ix_mfa_tickets_expires ON mfa_tickets (expires_at);

ALTER TABLE workspaces ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
