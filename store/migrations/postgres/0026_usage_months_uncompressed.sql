-- The monthly aggregate, stored without compression. PostgreSQL only: SQLite does not compress
-- what it stores.
--
-- A row of usage_months (migration 0019) holds a site's devices for a month, some 6 KB for a
-- hundred devices: over PostgreSQL's 2 KB threshold, so by default it was compressed (pglz) and
-- every report over months read it back through decompression. Reading a city's year of rows
-- (12,000 rows, 76 MB) took 185 ms that way, 114 ms compressed with lz4, and 91 ms with the
-- column EXTERNAL (kept out of line, not compressed), in PostgreSQL's CPU, on the same cores as
-- the report that decodes the rows. The table takes about twice the room (95 MB instead of 48
-- for that year), a small part of device_usage's.

ALTER TABLE usage_months ALTER COLUMN uses SET STORAGE EXTERNAL;

-- Values already stored keep their compression until they are written again: write them again.
-- (A value set to itself keeps its stored form; a concatenation is a new value.)
UPDATE usage_months SET uses = uses || ''::bytea;
