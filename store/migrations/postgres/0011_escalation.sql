-- Escalation of unacknowledged urgent alerts. Keep in step with ../sqlite/0011_escalation.sql,
-- which explains the columns.

ALTER TABLE teams ADD COLUMN ack_within_ms BIGINT NOT NULL DEFAULT 0 CHECK (ack_within_ms >= 0);
ALTER TABLE alerts ADD COLUMN escalated_ms BIGINT;
ALTER TABLE alerts ADD COLUMN escalated_to TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX alerts_unacknowledged ON alerts (id) WHERE state = 'open' AND category = 'clinical' AND severity >= 3;
