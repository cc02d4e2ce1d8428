-- The devices of each site by status, for the burden's population (the devices of each site
-- not retired), which read every device's row for its status. Keep in step with
-- ../sqlite/0023_devices_site_status.sql.

CREATE INDEX devices_site_status ON devices (site_id, status);
