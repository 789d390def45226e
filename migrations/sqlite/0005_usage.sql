-- Usage metering: exact hourly rollups, the monthly counters the quota is checked against, and
-- idempotency records of ingested batches. Hours and months are numbered from the Unix epoch
-- (hour = unix seconds / 3600; month = (year - 1970) * 12 + month - 1, UTC), so both backends
-- group by day (hour / 24) and month with the same SQL. Units are thousandths of an event unit.

CREATE TABLE usage_hourly (
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    meter        TEXT NOT NULL,
    hour         INTEGER NOT NULL,
    month        INTEGER NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity >= 0),
    units        INTEGER NOT NULL CHECK (units >= 0),
    PRIMARY KEY (workspace_id, hour, meter)
);

CREATE TABLE usage_monthly (
    workspace_id BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    month        INTEGER NOT NULL,
    units        INTEGER NOT NULL CHECK (units >= 0),
    PRIMARY KEY (workspace_id, month)
);

CREATE TABLE usage_batches (
    workspace_id    BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    body_hash       BLOB NOT NULL,
    response        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, idempotency_key)
);
CREATE INDEX ix_usage_batches_age ON usage_batches (created_at);
