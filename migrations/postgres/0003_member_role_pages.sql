-- Role-filtered member pages and counts read one index range.
DROP INDEX ix_memberships_role;
CREATE INDEX ix_memberships_role_page ON memberships (workspace_id, role, created_at, user_id);
