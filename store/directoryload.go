package store

import (
	"context"
	"fmt"

	"github.com/vitalwatch/vitalwatch/devices"
)

// maxDirectoryChanges bounds the devices, and the patients, changed since a directory's version
// that LoadDirectorySince reads one by one; with more, it reads the whole registry.
const maxDirectoryChanges = 5000

// LoadDirectorySince returns what LoadDirectory returns, from old (a directory that it or
// LoadDirectory returned) and what changed after old's version: the devices and patients the
// changes touched (migrations 0021 and 0024 record them) are read again, with the sites; the
// rest is old's. With no old, an old without a version, many changes, or an old whose count of
// devices or patients does not come out right, it reads the whole registry. A city lends
// devices all day, each loan a registry change, and reading its 100,000 devices, their loans
// and its patients again at each took half a second.
func (s *Registry) LoadDirectorySince(ctx context.Context, old *devices.Directory) (*devices.Directory, error) {
	if old == nil || old.Version() < 0 {
		return s.LoadDirectory(ctx)
	}
	tx, version, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if version < old.Version() {
		tx.Rollback()
		return s.LoadDirectory(ctx)
	}
	changed := func(query string) ([]string, error) {
		return queryAll(ctx, tx, query, []any{old.Version(), maxDirectoryChanges + 1}, scanString)
	}
	ids, err := changed(`SELECT device_id FROM device_changes WHERE version > $1 LIMIT $2`)
	if err != nil {
		return nil, fmt.Errorf("load directory: %w", err)
	}
	pids, err := changed(`SELECT patient_id FROM patient_changes WHERE version > $1 LIMIT $2`)
	if err != nil {
		return nil, fmt.Errorf("load directory: %w", err)
	}
	if len(ids) > maxDirectoryChanges || len(pids) > maxDirectoryChanges {
		tx.Rollback()
		return s.LoadDirectory(ctx)
	}
	var devs []devices.Device
	var assigns []devices.Assignment
	var people []devices.Patient
	for i := 0; i < len(ids); i += idsPerIn {
		part := ids[i:min(i+idsPerIn, len(ids))]
		args := make([]any, len(part))
		for k, id := range part {
			args[k] = id
		}
		ds, err := queryAll(ctx, tx, `SELECT `+deviceColumns+` FROM devices WHERE id IN (`+placeholders(1, len(part))+`)`, args, scanDevice)
		if err != nil {
			return nil, fmt.Errorf("load directory: %w", err)
		}
		as, err := queryAll(ctx, tx, `SELECT `+assignmentColumns+` FROM assignments WHERE device_id IN (`+placeholders(1, len(part))+`)`, args, scanAssignment)
		if err != nil {
			return nil, fmt.Errorf("load directory: %w", err)
		}
		devs, assigns = append(devs, ds...), append(assigns, as...)
	}
	for i := 0; i < len(pids); i += idsPerIn {
		part := pids[i:min(i+idsPerIn, len(pids))]
		args := make([]any, len(part))
		for k, id := range part {
			args[k] = id
		}
		ps, err := queryAll(ctx, tx, `SELECT `+patientColumns+` FROM patients p WHERE p.id IN (`+placeholders(1, len(part))+`)`, args, scanPatient)
		if err != nil {
			return nil, fmt.Errorf("load directory: %w", err)
		}
		people = append(people, ps...)
	}
	sites, err := queryAll(ctx, tx, `SELECT `+siteColumns+` FROM sites ORDER BY id`, nil, scanSite)
	if err != nil {
		return nil, fmt.Errorf("load directory: %w", err)
	}
	d := old.Amend(version, ids, devs, assigns, pids, people, sites)
	// A check that old was what the store held: as many devices and patients.
	var nd, np int
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM devices), (SELECT COUNT(*) FROM patients)`).Scan(&nd, &np); err != nil {
		return nil, fmt.Errorf("load directory: %w", err)
	}
	kept := 0
	d.Patients(func(*devices.Patient) bool { kept++; return true })
	if nd != d.Len() || np != kept {
		tx.Rollback()
		return s.LoadDirectory(ctx)
	}
	return d, tx.Commit()
}

// idsPerIn bounds the ids of one IN list.
const idsPerIn = 500
