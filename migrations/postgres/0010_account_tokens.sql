-- Single-use links sent to an account's address: verifying it (`verify_email`), verifying a
-- new address before it replaces the old one (`change_email`), resetting the password
-- (`reset_password`). Only the SHA-256 of the token is stored. A link is live until it is
-- used or superseded (and works until `expires_at`); at most one live link per user and
-- purpose, so a new request supersedes the old link.
CREATE TABLE account_tokens (
    id            UUID PRIMARY KEY NOT NULL,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('verify_email', 'change_email', 'reset_password')),
    token_hash    BYTEA NOT NULL,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    used_at       TIMESTAMPTZ,
    superseded_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX uq_account_tokens_hash ON account_tokens (token_hash);
CREATE UNIQUE INDEX uq_account_tokens_live ON account_tokens (user_id, purpose)
    WHERE used_at IS NULL AND superseded_at IS NULL;
