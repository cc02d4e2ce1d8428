-- A patient's birth year, for the rules that depend on age (the fever rise of patients over 75).
-- Keep in step with ../sqlite/0015_patient_birth_year.sql.
--
-- Only the year, never the date of birth: the registry keeps as little that identifies a
-- resident as it can (devices.Patient). NULL means unknown, as for every patient registered
-- before this column.

ALTER TABLE patients ADD COLUMN birth_year INTEGER;
