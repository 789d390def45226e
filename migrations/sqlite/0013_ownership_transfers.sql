-- Ownership transfers: an owner proposes that a member become owner; the member accepts or
-- declines, the proposer (or any owner) cancels; unanswered, it expires after seven days.
-- At most one pending transfer per workspace, enforced here.
CREATE TABLE ownership_transfers (
    id             BLOB PRIMARY KEY NOT NULL,
    workspace_id   BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    from_user_id   BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Whether the proposer stays an owner beside the new one (otherwise they become admin).
    keep_ownership INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled', 'expired')),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    decided_at     INTEGER,
    CHECK (from_user_id <> to_user_id)
);
CREATE UNIQUE INDEX uq_ownership_transfers_pending ON ownership_transfers (workspace_id) WHERE status = 'pending';
CREATE INDEX ix_ownership_transfers_workspace ON ownership_transfers (workspace_id, created_at);
