-- The burden of a period without sorting its alerts: SQLite only (see
-- ../sqlite/0022_burden_groups.sql, where the sort of a month of a city's alerts was most of
-- the burden's time). PostgreSQL sorts them in the burden's own work_mem (store/burden.go) and
-- keeps its plan; this migration keeps the two dialects' numbering in step.
SELECT 1;
