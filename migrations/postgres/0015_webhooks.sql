-- Webhooks. An endpoint is a URL of a workspace that hears about the workspace's changes,
-- signed with its secret (Standard Webhooks; sealed at rest when a key-encryption key is set).
-- After a rotation the previous secret signs beside the new one until `previous_until`.
-- `workspace_id` has no foreign key on purpose: the `workspace.deleted` event is delivered
-- after its workspace is gone, and the worker retires such endpoints once nothing is pending.
CREATE TABLE webhook_endpoints (
    id              UUID PRIMARY KEY,
    workspace_id    UUID NOT NULL,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    -- '*' for every event type, else the types separated and surrounded by single spaces.
    event_types     TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    -- Why a disabled endpoint is disabled: 'manual', or 'failing' when deliveries kept failing.
    disabled_reason TEXT CHECK (disabled_reason IN ('manual', 'failing')),
    secret          BYTEA NOT NULL,
    sealed          BOOLEAN NOT NULL DEFAULT FALSE,
    previous_secret BYTEA,
    previous_sealed BOOLEAN NOT NULL DEFAULT FALSE,
    previous_until  TIMESTAMPTZ,
    -- Consecutive failed attempts, and when the run of failures began.
    failure_streak  BIGINT NOT NULL DEFAULT 0,
    failing_since   TIMESTAMPTZ,
    created_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_webhook_endpoints_workspace ON webhook_endpoints (workspace_id, created_at);

-- An event, written in the transaction of the change it reports (only when its workspace has
-- an endpoint). `id` and `seq` are the audit event's: one per change, ordered per workspace.
CREATE TABLE webhook_events (
    id           UUID PRIMARY KEY,
    workspace_id UUID NOT NULL,
    seq          BIGINT NOT NULL,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_webhook_events_workspace ON webhook_events (workspace_id, seq);

-- One event for one endpoint, queued with the event. `pending` until a 2xx (`delivered`) or
-- until retries run out (`failed`: the dead letters). A worker claims a due delivery by moving
-- `next_attempt_at` past the attempt's timeout, so a worker that dies loses nothing.
CREATE TABLE webhook_deliveries (
    event_id        UUID NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id     UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_attempt_at TIMESTAMPTZ,
    last_status     BIGINT,
    last_error      TEXT,
    last_response   TEXT,
    last_latency_ms BIGINT,
    delivered_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (event_id, endpoint_id)
);
CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX ix_webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
