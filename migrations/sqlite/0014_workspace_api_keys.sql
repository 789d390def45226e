-- Workspace API keys (service accounts): a key of a workspace, not of a person. It holds its
-- own permissions (space-separated, as `roles.permissions`), chosen within its creator's at
-- creation, and authenticates for its workspace only. It outlives its creator (`created_by`
-- becomes NULL when their account goes). Rotation marks the old key `replaced_by` its
-- successor and shortens its expiry to the end of the grace period.
CREATE TABLE workspace_api_keys (
    id           BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  BLOB NOT NULL,
    permissions  TEXT NOT NULL,
    created_by   BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    replaced_by  BLOB REFERENCES workspace_api_keys (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX uq_workspace_api_keys_secret ON workspace_api_keys (secret_hash);
CREATE INDEX ix_workspace_api_keys_workspace ON workspace_api_keys (workspace_id, created_at);
