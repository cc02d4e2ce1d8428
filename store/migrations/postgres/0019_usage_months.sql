-- The monthly aggregate of usage. Keep in step with ../sqlite/0019_usage_months.sql.
--
-- Utilisation, the spare/short assessment and the plan look at months, but device_usage has a
-- row per device and day: a city's quarter is 7 million rows to read for each report.
-- usage_months has one row per local month and site, whose uses column holds every device's
-- uses there on each day of the month (its layout is in store/usagemonths.go). Each fold of the
-- usage log merges the uses it folds into their rows, in the same transaction as device_usage,
-- and a rebuild (ReplaceUsage) writes the months it replaces days of again, with the statement
-- below restricted to those months. Here it is filled from the day counts already stored.

CREATE TABLE usage_months (
    month   TEXT COLLATE "C" NOT NULL,    -- YYYY-MM in the site's time zone
    site_id TEXT COLLATE "C" NOT NULL,
    uses    BYTEA NOT NULL,
    PRIMARY KEY (month, site_id)
);

INSERT INTO usage_months (month, site_id, uses)
SELECT month, site_id, decode(string_agg(entry, '' ORDER BY device_id), 'hex') FROM (
    SELECT substr(day, 1, 7) AS month, site_id, device_id,
        lpad(to_hex(octet_length(device_id)), 2, '0') || encode(convert_to(device_id, 'UTF8'), 'hex') ||
        lpad(to_hex(bit_or(1::bigint << (substr(day, 9, 2)::int - 1))), 8, '0') ||
        string_agg(CASE WHEN uses < 65535 THEN lpad(to_hex(uses), 4, '0') ELSE 'ffff' || lpad(to_hex(uses), 8, '0') END, '' ORDER BY day) AS entry
    FROM device_usage
    WHERE uses > 0 AND day ~ '^[0-9]{4}-[0-9]{2}-(0[1-9]|[12][0-9]|3[01])$'
    GROUP BY substr(day, 1, 7), site_id, device_id
) e GROUP BY month, site_id;
