-- A workspace's audit log, fast at any size (issue 16): filtered by action, a page reads only the
-- matching events, newest first, through their own index; and the totals a page reports come from
-- counts the database keeps per workspace and action, instead of counting every event on every
-- page (6.5 ms for 100,000 events, measured in docs/BENCHMARKS.md).
CREATE INDEX ix_audit_events_workspace_action ON audit_events (workspace_id, action, created_at, id);

CREATE TABLE audit_counts (
    workspace_id BLOB NOT NULL,
    action       TEXT NOT NULL,
    events       INTEGER NOT NULL CHECK (events >= 0),
    PRIMARY KEY (workspace_id, action)
);

INSERT INTO audit_counts (workspace_id, action, events)
SELECT workspace_id, action, COUNT(*) FROM audit_events WHERE workspace_id IS NOT NULL
GROUP BY workspace_id, action;

CREATE TRIGGER audit_counts_insert AFTER INSERT ON audit_events
WHEN NEW.workspace_id IS NOT NULL
BEGIN
    INSERT INTO audit_counts (workspace_id, action, events) VALUES (NEW.workspace_id, NEW.action, 1)
    ON CONFLICT (workspace_id, action) DO UPDATE SET events = events + 1;
END;

CREATE TRIGGER audit_counts_delete AFTER DELETE ON audit_events
WHEN OLD.workspace_id IS NOT NULL
BEGIN
    UPDATE audit_counts SET events = events - 1
    WHERE workspace_id = OLD.workspace_id AND action = OLD.action;
END;
