-- The audit log as hash chains: one per workspace (chain_id = workspace_id) and one per account
-- for events of no workspace (chain_id = the acting user). Each event stores its place (seq),
-- the hash of the event before it and its own; `audit_chains` holds each chain's head, and its
-- row is what orders appends to one chain. Events written before this migration stay outside
-- the chains (chain_id, seq and hashes NULL): each chain starts at seq 1 from the genesis hash.

ALTER TABLE audit_events ADD COLUMN chain_id UUID;
ALTER TABLE audit_events ADD COLUMN seq BIGINT;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX uq_audit_events_chain_seq ON audit_events (chain_id, seq);
CREATE INDEX ix_audit_events_time ON audit_events (created_at);

CREATE TABLE audit_chains (
    chain_id UUID PRIMARY KEY,
    kind     TEXT NOT NULL CHECK (kind IN ('workspace', 'account')),
    seq      BIGINT NOT NULL,
    head     TEXT
);

CREATE INDEX ix_outbox_sent ON outbox (sent_at) WHERE status = 'sent';
