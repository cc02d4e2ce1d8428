-- Alerts by when they were raised, for the alert-burden figures of a period (store/burden.go),
-- which would otherwise read the whole table. Keep in step with ../postgres/0014_alerts_by_creation.sql.

CREATE INDEX alerts_created ON alerts (created_ms);
