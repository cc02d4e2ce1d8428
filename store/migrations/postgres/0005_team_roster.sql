-- A team's lead and on-call roster (user ids, the roster as a JSON array in rota order), for
-- the escalation of urgent alerts. Keep the sqlite and postgres versions in step.
ALTER TABLE teams ADD COLUMN lead TEXT NOT NULL DEFAULT '';
ALTER TABLE teams ADD COLUMN on_call TEXT NOT NULL DEFAULT '[]';
