-- Escalation of unacknowledged urgent alerts (alerts/escalate.go). Keep in step with
-- ../postgres/0011_escalation.sql.
--
-- teams.ack_within_ms: how long the team's urgent and critical alerts may stay unacknowledged
-- before they escalate, in milliseconds; 0 means the configured default (alerts.escalate_after).
--
-- alerts.escalated_ms and escalated_to: when the alert last escalated and to whom (a user id,
-- '' when the team had no one to page). alerts.escalation_level (0009) counts the escalations;
-- an escalator claims a step with UPDATE ... WHERE escalation_level = <the level it read>, so
-- that two instances escalate each step once.
--
-- alerts_unacknowledged holds only the alerts the escalator looks at on every tick.

ALTER TABLE teams ADD COLUMN ack_within_ms INTEGER NOT NULL DEFAULT 0 CHECK (ack_within_ms >= 0);
ALTER TABLE alerts ADD COLUMN escalated_ms INTEGER;
ALTER TABLE alerts ADD COLUMN escalated_to TEXT NOT NULL DEFAULT '';
CREATE INDEX alerts_unacknowledged ON alerts (id) WHERE state = 'open' AND category = 'clinical' AND severity >= 3;
