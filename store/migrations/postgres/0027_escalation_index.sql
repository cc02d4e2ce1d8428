-- The escalator's read from an index alone. Keep in step with
-- ../sqlite/0027_escalation_index.sql, which explains it.

DROP INDEX alerts_unacknowledged;
CREATE INDEX alerts_unacknowledged ON alerts (late, doubt, id)
    INCLUDE (escalation_level, escalated_ms, escalated_to, team, site)
    WHERE state = 'open' AND category = 'clinical' AND severity >= 3;
CREATE INDEX alert_events_paged ON alert_events (alert_id, at_ms) WHERE notify = 1 AND severity >= 3;
