package simulators

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PlanSeparator separates a patient's care plans in patients.csv.
const PlanSeparator = ";"

// WriteCSV writes the registry into dir (created if need be) as five CSV files (RFC 4180, with a
// header row), and a sixth when it has repairs:
//
//	sites.csv        id,name,district,address,lat,lon,time_zone,opening_hours
//	teams.csv        id,site,name
//	patients.csv     id,team,plans             plans separated by ";"
//	devices.csv      id,kind,model,serial,firmware,site,mode,status,rated_uses_per_day,secret,in_service
//	assignments.csv  device,patient,from       from in RFC 3339
//	maintenance.csv  device,from,until         each past repair, RFC 3339
//
// in_service is RFC 3339, or empty when the registry does not record it (Registry).
// devices.csv holds the devices' secrets in clear and is written readable by its owner only.
// Without repairs, a maintenance.csv left in dir by an earlier export is removed.
func (r *Registry) WriteCSV(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("registry export: %w", err)
	}
	files := []struct {
		name string
		perm os.FileMode
		rows [][]string
	}{
		{"sites.csv", 0o644, r.siteRows()},
		{"teams.csv", 0o644, r.teamRows()},
		{"patients.csv", 0o644, r.patientRows()},
		{"devices.csv", 0o600, r.deviceRows()},
		{"assignments.csv", 0o644, r.assignmentRows()},
	}
	if len(r.Repairs) > 0 {
		files = append(files, struct {
			name string
			perm os.FileMode
			rows [][]string
		}{"maintenance.csv", 0o644, r.repairRows()})
	} else if err := os.Remove(filepath.Join(dir, "maintenance.csv")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("registry export: %w", err)
	}
	for _, f := range files {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		if err := w.WriteAll(f.rows); err != nil {
			return fmt.Errorf("registry export: %s: %w", f.name, err)
		}
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, b.Bytes(), f.perm); err != nil {
			return fmt.Errorf("registry export: %w", err)
		}
		// WriteFile keeps the mode of a file that was there before.
		if err := os.Chmod(path, f.perm); err != nil {
			return fmt.Errorf("registry export: %w", err)
		}
	}
	return nil
}

func (r *Registry) siteRows() [][]string {
	rows := [][]string{{"id", "name", "district", "address", "lat", "lon", "time_zone", "opening_hours"}}
	for _, s := range r.Sites {
		rows = append(rows, []string{s.ID, s.Name, s.District, s.Address,
			strconv.FormatFloat(s.Lat, 'f', -1, 64), strconv.FormatFloat(s.Lon, 'f', -1, 64), s.TimeZone, s.OpeningHours})
	}
	return rows
}

func (r *Registry) teamRows() [][]string {
	rows := [][]string{{"id", "site", "name"}}
	for _, t := range r.Teams {
		rows = append(rows, []string{t.ID, t.SiteID, t.Name})
	}
	return rows
}

func (r *Registry) patientRows() [][]string {
	rows := [][]string{{"id", "team", "plans"}}
	for _, p := range r.Patients {
		rows = append(rows, []string{p.ID, p.TeamID, strings.Join(p.Plans, PlanSeparator)})
	}
	return rows
}

func (r *Registry) deviceRows() [][]string {
	rows := [][]string{{"id", "kind", "model", "serial", "firmware", "site", "mode", "status", "rated_uses_per_day", "secret", "in_service"}}
	for _, d := range r.Devices {
		inService := ""
		if !d.InService.IsZero() {
			inService = d.InService.Format(time.RFC3339)
		}
		rows = append(rows, []string{d.ID, string(d.Kind), d.Model, d.Serial, d.Firmware, d.SiteID,
			string(d.Mode), string(d.Status), strconv.Itoa(d.RatedUsesPerDay), r.Secrets[d.ID], inService})
	}
	return rows
}

func (r *Registry) assignmentRows() [][]string {
	rows := [][]string{{"device", "patient", "from"}}
	for _, a := range r.Assignments {
		rows = append(rows, []string{a.DeviceID, a.PatientID, a.From.Format(time.RFC3339)})
	}
	return rows
}

func (r *Registry) repairRows() [][]string {
	rows := [][]string{{"device", "from", "until"}}
	for _, x := range r.Repairs {
		rows = append(rows, []string{x.Device, x.From.Format(time.RFC3339), x.Until.Format(time.RFC3339)})
	}
	return rows
}
