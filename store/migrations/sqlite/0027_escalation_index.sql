-- The escalator's read from an index alone. Keep in step with
-- ../postgres/0027_escalation_index.sql.
--
-- Every tick the escalator reads the open urgent and critical clinical alerts that are neither
-- late nor in doubt (store/escalation.go). alerts_unacknowledged (0011) held only their ids, so
-- each was read from its row, and the escalation columns come after the evidence, in the row's
-- overflow pages. Under a steady stream of writes a read connection starts each read with an
-- empty page cache, so that was thousands of pages read from the file every tick: at 100,000
-- devices with some 4,000 such alerts open, 16% of serve's CPU. The index now holds every
-- column the escalator reads, in the order it reads them (late and doubt first, so that the
-- planner prefers it to alerts_state), and alert_events_paged finds when an alert was first
-- notified at urgent or above without reading any event.

DROP INDEX alerts_unacknowledged;
CREATE INDEX alerts_unacknowledged ON alerts (late, doubt, id, escalation_level, escalated_ms, escalated_to, team, site,
    state, category, severity) WHERE state = 'open' AND category = 'clinical' AND severity >= 3;
CREATE INDEX alert_events_paged ON alert_events (alert_id, at_ms, notify, severity) WHERE notify = 1 AND severity >= 3;
