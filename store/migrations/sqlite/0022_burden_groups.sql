-- The burden of a period without sorting its alerts. Keep in step with
-- ../postgres/0022_burden_groups.sql.
--
-- The burden's figures are one per category, owner (a clinical alert's team, a fault's site) and
-- rule. Grouping a month of a city's alerts (some 80,000) by them took a sort of them all, most
-- of the burden's time. burden_groups lists every (category, owner, rule) that has an alert,
-- kept by triggers as alerts are written; alerts_burden_group has each group's alerts by
-- creation, with every column the figures read. The burden then reads, group after group in
-- order, the alerts of the period from the index: nothing to sort.
-- b_owner has no type, as the index's owner expression has no affinity: a TEXT column compared
-- with it would not let the index be searched on it.

CREATE TABLE burden_groups (
    b_category TEXT NOT NULL,
    b_owner         NOT NULL,
    b_rule     TEXT NOT NULL,
    PRIMARY KEY (b_category, b_owner, b_rule)
) WITHOUT ROWID;
INSERT INTO burden_groups (b_category, b_owner, b_rule)
    SELECT DISTINCT category, CASE WHEN category = 'clinical' THEN team ELSE site END, rule FROM alerts;

CREATE TRIGGER alerts_burden_group_insert AFTER INSERT ON alerts BEGIN
    INSERT OR IGNORE INTO burden_groups (b_category, b_owner, b_rule)
        VALUES (NEW.category, CASE WHEN NEW.category = 'clinical' THEN NEW.team ELSE NEW.site END, NEW.rule);
END;
CREATE TRIGGER alerts_burden_group_update AFTER UPDATE OF category, team, site, rule ON alerts BEGIN
    INSERT OR IGNORE INTO burden_groups (b_category, b_owner, b_rule)
        VALUES (NEW.category, CASE WHEN NEW.category = 'clinical' THEN NEW.team ELSE NEW.site END, NEW.rule);
END;

CREATE INDEX alerts_burden_group ON alerts (category, (CASE WHEN category = 'clinical' THEN team ELSE site END), rule,
    created_ms, subject, state, resolved_by, late, silenced, doubt, acknowledged_ms, team, site);
