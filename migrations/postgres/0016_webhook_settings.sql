-- Per-endpoint delivery settings and the dead-letter log.
-- `name` labels an endpoint; `dialect` is the API that created it: a SpatialFlow endpoint's
-- deliveries also carry SpatialFlow's `X-SF-Signature`. `max_retries` ends retrying after that
-- many retries (NULL: retry for about three days), `timeout_seconds` bounds each attempt (NULL:
-- the configured ROSTER_WEBHOOK_TIMEOUT), `rate_limit_per_minute` caps the attempts started in
-- each 60-second window, counted from `rate_window_start` (NULL: no cap).
ALTER TABLE webhook_endpoints ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN dialect TEXT NOT NULL DEFAULT 'native'
    CHECK (dialect IN ('native', 'spatialflow'));
ALTER TABLE webhook_endpoints ADD COLUMN max_retries BIGINT
    CHECK (max_retries BETWEEN 0 AND 100);
ALTER TABLE webhook_endpoints ADD COLUMN timeout_seconds BIGINT
    CHECK (timeout_seconds BETWEEN 1 AND 300);
ALTER TABLE webhook_endpoints ADD COLUMN rate_limit_per_minute BIGINT
    CHECK (rate_limit_per_minute BETWEEN 1 AND 100000);
ALTER TABLE webhook_endpoints ADD COLUMN rate_window_start TIMESTAMPTZ;
ALTER TABLE webhook_endpoints ADD COLUMN rate_window_count BIGINT NOT NULL DEFAULT 0;

-- Attempts a delivery made before it was last sent again (a redelivery or a retry of its dead
-- letter starts `attempts` afresh); with `attempts`, every attempt ever made.
ALTER TABLE webhook_deliveries ADD COLUMN earlier_attempts BIGINT NOT NULL DEFAULT 0;

-- A delivery that ran out of retries, one row each time it did: `requeued_at` is set when it
-- is sent again (redelivered or retried), which closes the entry.
CREATE TABLE webhook_dead_letters (
    id           UUID PRIMARY KEY,
    event_id     UUID NOT NULL,
    endpoint_id  UUID NOT NULL,
    workspace_id UUID NOT NULL,
    attempts     BIGINT NOT NULL,
    last_status  BIGINT,
    last_error   TEXT,
    failed_at    TIMESTAMPTZ NOT NULL,
    requeued_at  TIMESTAMPTZ,
    FOREIGN KEY (event_id, endpoint_id)
        REFERENCES webhook_deliveries (event_id, endpoint_id) ON DELETE CASCADE
);
CREATE INDEX ix_webhook_dead_letters_workspace ON webhook_dead_letters (workspace_id, failed_at);
CREATE INDEX ix_webhook_dead_letters_delivery ON webhook_dead_letters (event_id, endpoint_id)
    WHERE requeued_at IS NULL;
