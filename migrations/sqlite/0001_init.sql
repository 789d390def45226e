-- Accounts, workspaces, memberships, sessions, refresh tokens, API keys and signing keys.
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC); ids are 16-byte UUID blobs.

CREATE TABLE users (
    id                    BLOB PRIMARY KEY NOT NULL,
    email                 TEXT NOT NULL,
    email_key             TEXT NOT NULL,
    name                  TEXT NOT NULL,
    password_hash         TEXT,
    email_verified        INTEGER NOT NULL DEFAULT 0,
    personal_workspace_id BLOB REFERENCES workspaces (id) ON DELETE SET NULL,
    primary_workspace_id  BLOB REFERENCES workspaces (id) ON DELETE SET NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE UNIQUE INDEX uq_users_email_key ON users (email_key);

CREATE TABLE workspaces (
    id          BLOB PRIMARY KEY NOT NULL,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    is_personal INTEGER NOT NULL DEFAULT 0,
    created_by  BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX uq_workspaces_slug ON workspaces (slug);

CREATE TABLE memberships (
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'field_worker', 'viewer', 'demo')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX ix_memberships_user ON memberships (user_id);

CREATE TABLE sessions (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id BLOB REFERENCES workspaces (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    end_reason   TEXT,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX ix_sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    spent_at   INTEGER
);
CREATE INDEX ix_refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT,
    prefix       TEXT NOT NULL,
    secret_hash  BLOB NOT NULL,
    read_only    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at   INTEGER,
    revoked_at   INTEGER
);
CREATE UNIQUE INDEX uq_api_keys_secret_hash ON api_keys (secret_hash);
CREATE INDEX ix_api_keys_user ON api_keys (user_id);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    private_der BLOB NOT NULL,
    public_raw  BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
