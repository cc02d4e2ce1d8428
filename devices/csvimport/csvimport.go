// Package csvimport reads the registry's bulk-import CSV files: sites, teams, patients, devices,
// assignments and past repairs (maintenance), one row each, with a header row naming the
// columns. A bad row is reported with its line number and reason; good rows are returned for the
// caller to keep.
package csvimport

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

// RowError is a row that could not be read, with its line in the file (the header is line 1)
// and, when the reason is about one cell, its column.
type RowError struct {
	Line   int
	Column string
	Reason string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Row is one good row with its line.
type Row[T any] struct {
	Line  int
	Value T
}

// Device is a device row: the device, and the secret given in the file, if any (provisioning by
// the manufacturer). Only its hash is ever stored.
type Device struct {
	devices.Device
	Secret string
}

// Column lists of each file. Columns marked optional may be left out of the header.
var (
	SiteColumns       = []string{"id", "name", "district", "address", "lat", "lon", "time_zone", "opening_hours"}
	TeamColumns       = []string{"id", "site", "name"}
	PatientColumns    = []string{"id", "team", "plans", "birth_year"}
	DeviceColumns     = []string{"id", "kind", "model", "serial", "firmware", "site", "mode", "status", "rated_uses_per_day", "next_calibration", "secret", "in_service"}
	AssignmentColumns = []string{"device", "patient", "from"}
	RepairColumns     = []string{"device", "from", "until"}
)

// Sites reads a sites file.
func Sites(r io.Reader) ([]Row[devices.Site], []RowError, error) {
	return read(r, SiteColumns, []string{"id", "name"}, func(f fields) (devices.Site, error) {
		s := devices.Site{ID: f.s("id"), Name: f.s("name"), District: f.s("district"), Address: f.s("address"),
			Lat: f.float("lat"), Lon: f.float("lon"), TimeZone: f.s("time_zone"), OpeningHours: f.s("opening_hours")}
		if err := f.err(); err != nil {
			return s, err
		}
		return s, s.Validate()
	})
}

// Teams reads a teams file.
func Teams(r io.Reader) ([]Row[devices.Team], []RowError, error) {
	return read(r, TeamColumns, TeamColumns, func(f fields) (devices.Team, error) {
		t := devices.Team{ID: f.s("id"), SiteID: f.s("site"), Name: f.s("name")}
		return t, t.Validate()
	})
}

// Patients reads a patients file; plans are separated by ";". birth_year is a year such as
// 1948, only the year (devices.Patient); empty or 0 means unknown.
func Patients(r io.Reader) ([]Row[devices.Patient], []RowError, error) {
	return read(r, PatientColumns, []string{"id", "team"}, func(f fields) (devices.Patient, error) {
		p := devices.Patient{ID: f.s("id"), TeamID: f.s("team"), BirthYear: f.int("birth_year")}
		for plan := range strings.SplitSeq(f.s("plans"), ";") {
			if plan = strings.TrimSpace(plan); plan != "" {
				p.Plans = append(p.Plans, plan)
			}
		}
		if err := f.err(); err != nil {
			return p, err
		}
		return p, p.Validate()
	})
}

// Devices reads a devices file. Status defaults to active.
func Devices(r io.Reader) ([]Row[Device], []RowError, error) {
	return read(r, DeviceColumns, []string{"id", "kind", "site", "mode"}, func(f fields) (Device, error) {
		d := Device{Device: devices.Device{ID: f.s("id"), Kind: devices.Kind(f.s("kind")), Model: f.s("model"),
			Serial: f.s("serial"), Firmware: f.s("firmware"), SiteID: f.s("site"), Mode: devices.Mode(f.s("mode")),
			Status: devices.Status(f.s("status")), RatedUsesPerDay: f.int("rated_uses_per_day"),
			NextCalibration: f.time("next_calibration"), InService: f.time("in_service")}, Secret: f.s("secret")}
		if d.Status == "" {
			d.Status = devices.Active
		}
		if err := f.err(); err != nil {
			return d, err
		}
		if d.Secret != "" && len(d.Secret) < 16 {
			return d, errcode.FieldErrorf(errcode.Invalid, "secret", "secret: at least 16 characters")
		}
		if err := d.Validate(); err != nil {
			return d, err
		}
		// Each row creates a device: refuse here, with the row's line, an id the store would
		// refuse for a new device.
		return d, devices.CheckNewDeviceID(d.ID)
	})
}

// Assignments reads an assignments file.
func Assignments(r io.Reader) ([]Row[devices.Assignment], []RowError, error) {
	return read(r, AssignmentColumns, AssignmentColumns, func(f fields) (devices.Assignment, error) {
		a := devices.Assignment{DeviceID: f.s("device"), PatientID: f.s("patient"), From: f.time("from")}
		if err := f.err(); err != nil {
			return a, err
		}
		if !reading.ValidID(a.DeviceID) || !reading.ValidID(a.PatientID) {
			return a, errors.New("device and patient must be ids (1-64 characters of A-Z a-z 0-9 . _ : -)")
		}
		if a.From.IsZero() {
			return a, errcode.FieldErrorf(errcode.Invalid, "from", "from: required")
		}
		return a, nil
	})
}

// Repair is a row of a maintenance file: a device's past time under repair, from when it was
// put under maintenance until it was active again.
type Repair struct {
	DeviceID    string
	From, Until time.Time
}

// Repairs reads a maintenance file: every column is required, and a repair ends after it
// starts.
func Repairs(r io.Reader) ([]Row[Repair], []RowError, error) {
	return read(r, RepairColumns, RepairColumns, func(f fields) (Repair, error) {
		x := Repair{DeviceID: f.s("device"), From: f.time("from"), Until: f.time("until")}
		if err := f.err(); err != nil {
			return x, err
		}
		switch {
		case !reading.ValidID(x.DeviceID):
			return x, errcode.FieldErrorf(errcode.Invalid, "device", "device must be an id (1-64 characters of A-Z a-z 0-9 . _ : -)")
		case x.From.IsZero():
			return x, errcode.FieldErrorf(errcode.Invalid, "from", "from: required")
		case x.Until.IsZero():
			return x, errcode.FieldErrorf(errcode.Invalid, "until", "until: required: a repair of the history has ended")
		case !x.From.Before(x.Until):
			return x, errcode.FieldErrorf(errcode.Invalid, "until", "until: the repair ends before it starts")
		}
		return x, nil
	})
}

// read parses the file: the header must name only known columns and every required one. A
// file-level problem (no header, unknown column) is the error; row problems are RowErrors.
func read[T any](r io.Reader, known, required []string, parse func(fields) (T, error)) ([]Row[T], []RowError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, errors.New("empty file: the first line must name the columns")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	index := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(known, h) {
			return nil, nil, fmt.Errorf("header: unknown column %q; columns are %s", h, strings.Join(known, ","))
		}
		index[h] = i
	}
	for _, c := range required {
		if _, ok := index[c]; !ok {
			return nil, nil, fmt.Errorf("header: missing column %q", c)
		}
	}
	var rows []Row[T]
	var bad []RowError
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad = append(bad, RowError{Line: pe.Line, Reason: pe.Err.Error()})
				continue
			}
			return rows, bad, err
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(header) {
			bad = append(bad, RowError{Line: line, Reason: fmt.Sprintf("%d fields; the header has %d", len(rec), len(header))})
			continue
		}
		v, err := parse(fields{rec: rec, index: index, first: new(error)})
		if err != nil {
			re := RowError{Line: line, Reason: err.Error()}
			var de *errcode.Error
			if errors.As(err, &de) {
				re.Reason, re.Column = de.Message, de.Field
			}
			bad = append(bad, re)
			continue
		}
		rows = append(rows, Row[T]{Line: line, Value: v})
	}
	return rows, bad, nil
}

// fields reads typed cells of one record, remembering the first conversion error in a slot
// shared by its copies.
type fields struct {
	rec   []string
	index map[string]int
	first *error
}

func (f fields) s(col string) string {
	i, ok := f.index[col]
	if !ok {
		return ""
	}
	return strings.TrimSpace(f.rec[i])
}

func (f fields) fail(col string, err error) {
	if *f.first == nil {
		*f.first = errcode.FieldErrorf(errcode.Invalid, col, "%s: %v", col, err)
	}
}

func (f fields) float(col string) float64 {
	v := f.s(col)
	if v == "" {
		return 0
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		f.fail(col, fmt.Errorf("%q is not a number", v))
	}
	return x
}

func (f fields) int(col string) int {
	v := f.s(col)
	if v == "" {
		return 0
	}
	x, err := strconv.Atoi(v)
	if err != nil {
		f.fail(col, fmt.Errorf("%q is not a whole number", v))
	}
	return x
}

func (f fields) time(col string) time.Time {
	v := f.s(col)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		if d, err2 := time.Parse(time.DateOnly, v); err2 == nil {
			return d
		}
		f.fail(col, fmt.Errorf("%q is not an RFC 3339 time or a date (2026-11-22)", v))
	}
	return t
}

func (f fields) err() error { return *f.first }
