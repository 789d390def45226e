-- Workspace profile and plan, member counts, member search keys, and the audit log.

ALTER TABLE workspaces ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';
ALTER TABLE workspaces ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN logo_url TEXT;
ALTER TABLE workspaces ADD COLUMN description TEXT;
ALTER TABLE workspaces ADD COLUMN website TEXT;
ALTER TABLE workspaces ADD COLUMN timezone TEXT;
ALTER TABLE workspaces ADD COLUMN billing_email TEXT;
ALTER TABLE workspaces ADD COLUMN support_email TEXT;
ALTER TABLE workspaces ADD COLUMN unit_system TEXT CHECK (unit_system IN ('imperial', 'metric'));
ALTER TABLE workspaces ADD COLUMN slack_connect_url TEXT;
ALTER TABLE workspaces ADD COLUMN lane TEXT;
ALTER TABLE workspaces ADD COLUMN map_home TEXT;
ALTER TABLE workspaces ADD COLUMN world_video_mode TEXT CHECK (world_video_mode IN ('NORMAL', 'NOUPLOAD', 'BLUR'));
ALTER TABLE workspaces ADD COLUMN raw_file_downloads INTEGER NOT NULL DEFAULT 0;
UPDATE workspaces SET member_count = (SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = workspaces.id);

ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE users SET name_key = lower(name);

CREATE INDEX ix_memberships_page ON memberships (workspace_id, created_at, user_id);
CREATE INDEX ix_memberships_role ON memberships (workspace_id, role);
CREATE INDEX ix_sessions_workspace ON sessions (workspace_id) WHERE workspace_id IS NOT NULL;

CREATE TABLE audit_events (
    id           BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB,
    actor_id     BLOB,
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT,
    before       TEXT,
    after        TEXT,
    ip           TEXT,
    user_agent   TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX ix_audit_events_workspace ON audit_events (workspace_id, created_at, id);
CREATE INDEX ix_audit_events_actor ON audit_events (actor_id, created_at);
