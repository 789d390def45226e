-- Invitations, the mail outbox, and rate-limit counters.

CREATE TABLE invitations (
    id           UUID PRIMARY KEY NOT NULL,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    email_key    TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'field_worker', 'viewer', 'demo')),
    status       TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    token_hash   BYTEA NOT NULL,
    inviter_id   UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ,
    accepted_by  UUID REFERENCES users (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX uq_invitations_token ON invitations (token_hash);
-- At most one pending invitation per (workspace, email).
CREATE UNIQUE INDEX uq_invitations_pending ON invitations (workspace_id, email_key) WHERE status = 'pending';
CREATE INDEX ix_invitations_page ON invitations (workspace_id, status, created_at, id);
CREATE INDEX ix_invitations_email ON invitations (email_key, status);

CREATE TABLE outbox (
    id              UUID PRIMARY KEY NOT NULL,
    invitation_id   UUID REFERENCES invitations (id) ON DELETE SET NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT,
    html_body       TEXT,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'superseded')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_at      TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
