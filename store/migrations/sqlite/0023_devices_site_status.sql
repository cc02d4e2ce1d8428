-- The devices of each site by status, for the burden's population (the devices of each site
-- not retired), which read every device's row for its status: at a city's size, a third of the
-- burden's time. Keep in step with ../postgres/0023_devices_site_status.sql.

CREATE INDEX devices_site_status ON devices (site_id, status);
