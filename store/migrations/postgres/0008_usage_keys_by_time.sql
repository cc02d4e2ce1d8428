-- The keys of counted uses ordered by time, then device. Keep in step with
-- ../sqlite/0008_usage_keys_by_time.sql, which explains why.

ALTER TABLE device_uses DROP CONSTRAINT device_uses_pkey;
ALTER TABLE device_uses ADD PRIMARY KEY (at_ms, device_id);
DROP INDEX device_uses_day;
