-- PostgreSQL only (see ../postgres/0025_burden_figure_index.sql): SQLite reads the burden of
-- any period figure after figure from alerts_burden_group (migration 0022), with nothing to
-- sort. This migration keeps the two dialects' numbering in step.
SELECT 1;
