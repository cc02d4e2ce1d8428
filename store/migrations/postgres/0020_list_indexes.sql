-- Indexes for the lists and the burden at a city's size (a million alerts, 100,000 devices),
-- found with the query plans of BenchmarkReports (api/reports_bench_test.go). Keep in step
-- with ../sqlite/0020_list_indexes.sql.
--
-- alerts_rule, alerts_last_seen: the alert list by rule, or by when its readings were seen
-- (since=, until=), which otherwise reads the alerts from the newest back until a page is
-- full: all of them, for a rule that rarely fires or a week long past.
-- alerts_burden: every column the burden figures read of the alerts raised in a period, so
-- that a period's figures read the index alone, not each alert's row (with its evidence).
-- It begins with created_ms, so it also does the work of alerts_created, which goes.
-- devices_status, devices_kind: the device list by status or kind, a page at a time by id.

CREATE INDEX alerts_rule ON alerts (rule, id);
CREATE INDEX alerts_last_seen ON alerts (last_seen_ms);
CREATE INDEX alerts_burden ON alerts (created_ms)
    INCLUDE (category, team, site, rule, subject, state, resolved_by, late, silenced, doubt, acknowledged_ms);
DROP INDEX alerts_created;
CREATE INDEX devices_status ON devices (status, id);
CREATE INDEX devices_kind ON devices (kind, id);
