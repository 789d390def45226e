-- Custom roles of a workspace: a key unique in the workspace, a name, the built-in role it is
-- based on (it orders the role among owners and admins and names it in the dialects; never
-- `owner`) and its permissions, space-separated. A membership or invitation holding one keeps
-- the base in `role` and the custom role in `role_id`; a role still held by a member cannot be
-- deleted (checked at the end of the statement, so deleting the workspace still cascades).
CREATE TABLE roles (
    id           BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    base_role    TEXT NOT NULL CHECK (base_role IN ('admin', 'editor', 'field_worker', 'viewer', 'demo')),
    permissions  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX uq_roles_key ON roles (workspace_id, key);

ALTER TABLE memberships ADD COLUMN role_id BLOB REFERENCES roles (id);
CREATE INDEX ix_memberships_custom_role ON memberships (role_id, created_at, user_id);
ALTER TABLE invitations ADD COLUMN role_id BLOB REFERENCES roles (id) ON DELETE SET NULL;
CREATE INDEX ix_invitations_custom_role ON invitations (role_id, status);
