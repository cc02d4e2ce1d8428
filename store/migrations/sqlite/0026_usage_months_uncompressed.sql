-- PostgreSQL only (see ../postgres/0026_usage_months_uncompressed.sql): SQLite does not
-- compress what it stores. This migration keeps the two dialects' numbering in step.
SELECT 1;
