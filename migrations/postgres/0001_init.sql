-- Accounts, workspaces, memberships, sessions, refresh tokens, API keys and signing keys.

CREATE TABLE users (
    id                    UUID PRIMARY KEY,
    email                 TEXT NOT NULL,
    email_key             TEXT NOT NULL,
    name                  TEXT NOT NULL,
    password_hash         TEXT,
    email_verified        BOOLEAN NOT NULL DEFAULT FALSE,
    personal_workspace_id UUID,
    primary_workspace_id  UUID,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX uq_users_email_key ON users (email_key);

CREATE TABLE workspaces (
    id          UUID PRIMARY KEY,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    is_personal BOOLEAN NOT NULL DEFAULT FALSE,
    created_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX uq_workspaces_slug ON workspaces (slug);

ALTER TABLE users
    ADD CONSTRAINT fk_users_personal_workspace FOREIGN KEY (personal_workspace_id) REFERENCES workspaces (id) ON DELETE SET NULL,
    ADD CONSTRAINT fk_users_primary_workspace FOREIGN KEY (primary_workspace_id) REFERENCES workspaces (id) ON DELETE SET NULL;

CREATE TABLE memberships (
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'field_worker', 'viewer', 'demo')),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX ix_memberships_user ON memberships (user_id);

CREATE TABLE sessions (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id UUID REFERENCES workspaces (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ,
    end_reason   TEXT,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX ix_sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    spent_at   TIMESTAMPTZ
);
CREATE INDEX ix_refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT,
    prefix       TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    read_only    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE UNIQUE INDEX uq_api_keys_secret_hash ON api_keys (secret_hash);
CREATE INDEX ix_api_keys_user ON api_keys (user_id);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    private_der BYTEA NOT NULL,
    public_raw  BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
