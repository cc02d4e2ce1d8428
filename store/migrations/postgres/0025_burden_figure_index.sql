-- The burden of a long period without sorting its alerts. Keep in step with
-- ../sqlite/0025_burden_figure_index.sql.
--
-- The burden groups a period's alerts by figure (category, owner, rule) and patient, then by
-- figure (store/burden.go). For a month, PostgreSQL reads the period from alerts_burden (by
-- creation) and sorts some 80,000 alerts. For a year of a city's, a million, the sort was most
-- of 1.4 s. alerts_burden_figure has every alert in that order, with every column the figures
-- read (team and site too, so that the owner's expression can be read from the index alone),
-- so a long period is read in order, its creation checked in the index, with nothing to sort.
-- The planner chooses between the two by the period's share of the alerts.

CREATE INDEX alerts_burden_figure ON alerts (category, (CASE WHEN category = 'clinical' THEN team ELSE site END), rule, subject)
    INCLUDE (created_ms, state, resolved_by, late, silenced, doubt, acknowledged_ms, team, site);
