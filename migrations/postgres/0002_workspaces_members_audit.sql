-- Workspace profile and plan, member counts, member search keys, and the audit log.

ALTER TABLE workspaces
    ADD COLUMN plan TEXT NOT NULL DEFAULT 'free',
    ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN logo_url TEXT,
    ADD COLUMN description TEXT,
    ADD COLUMN website TEXT,
    ADD COLUMN timezone TEXT,
    ADD COLUMN billing_email TEXT,
    ADD COLUMN support_email TEXT,
    ADD COLUMN unit_system TEXT CHECK (unit_system IN ('imperial', 'metric')),
    ADD COLUMN slack_connect_url TEXT,
    ADD COLUMN lane TEXT,
    ADD COLUMN map_home TEXT,
    ADD COLUMN world_video_mode TEXT CHECK (world_video_mode IN ('NORMAL', 'NOUPLOAD', 'BLUR')),
    ADD COLUMN raw_file_downloads BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE workspaces SET member_count = (SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = workspaces.id);

ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE users SET name_key = lower(name);

CREATE INDEX ix_memberships_page ON memberships (workspace_id, created_at, user_id);
CREATE INDEX ix_memberships_role ON memberships (workspace_id, role);
CREATE INDEX ix_sessions_workspace ON sessions (workspace_id) WHERE workspace_id IS NOT NULL;

CREATE TABLE audit_events (
    id           UUID PRIMARY KEY,
    workspace_id UUID,
    actor_id     UUID,
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT,
    before       TEXT,
    after        TEXT,
    ip           TEXT,
    user_agent   TEXT,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_audit_events_workspace ON audit_events (workspace_id, created_at, id);
CREATE INDEX ix_audit_events_actor ON audit_events (actor_id, created_at);
