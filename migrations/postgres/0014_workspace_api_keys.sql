-- Workspace API keys (service accounts): a key of a workspace, not of a person. It holds its
-- own permissions (space-separated, as `roles.permissions`), chosen within its creator's at
-- creation, and authenticates for its workspace only. It outlives its creator (`created_by`
-- becomes NULL when their account goes). Rotation marks the old key `replaced_by` its
-- successor and shortens its expiry to the end of the grace period.
CREATE TABLE workspace_api_keys (
    id           UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    permissions  TEXT NOT NULL,
    created_by   UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    replaced_by  UUID REFERENCES workspace_api_keys (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX uq_workspace_api_keys_secret ON workspace_api_keys (secret_hash);
CREATE INDEX ix_workspace_api_keys_workspace ON workspace_api_keys (workspace_id, created_at);
