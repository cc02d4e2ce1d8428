-- The monthly aggregate of usage. Keep in step with ../postgres/0019_usage_months.sql.
--
-- Utilisation, the spare/short assessment and the plan look at months, but device_usage has a
-- row per device and day: a city's quarter is 7 million rows to read for each report.
-- usage_months has one row per local month and site, whose uses column holds every device's
-- uses there on each day of the month (its layout is in store/usagemonths.go). Each fold of the
-- usage log merges the uses it folds into their rows, in the same transaction as device_usage,
-- and a rebuild (ReplaceUsage) writes the months it replaces days of again, with the statement
-- below restricted to those months. Here it is filled from the day counts already stored.

CREATE TABLE usage_months (
    month   TEXT NOT NULL,                -- YYYY-MM in the site's time zone
    site_id TEXT NOT NULL,
    uses    BLOB NOT NULL,
    PRIMARY KEY (month, site_id)
);

INSERT INTO usage_months (month, site_id, uses)
SELECT month, site_id, unhex(group_concat(entry, '' ORDER BY device_id)) FROM (
    SELECT substr(day, 1, 7) AS month, site_id, device_id,
        printf('%02x', length(CAST(device_id AS BLOB))) || hex(device_id) ||
        printf('%08x', sum(1 << (CAST(substr(day, 9, 2) AS INTEGER) - 1))) ||
        group_concat(CASE WHEN uses < 65535 THEN printf('%04x', uses) ELSE 'ffff' || printf('%08x', uses) END, '' ORDER BY day) AS entry
    FROM device_usage
    WHERE uses > 0
        AND day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-3][0-9]' AND substr(day, 9, 2) BETWEEN '01' AND '31'
    GROUP BY substr(day, 1, 7), site_id, device_id
) GROUP BY month, site_id;
