package api

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/store"
)

// periodsOf is the store with hand-made device periods.
type periodsOf struct {
	*store.Store
	periods []devices.Period
}

func (p periodsOf) DevicePeriods(context.Context, time.Time, time.Time, ...string) ([]devices.Period, error) {
	return p.periods, nil
}

// repairPeriods are the registry fixture's devices' periods for the repairs test (times UTC):
//   - dA1, a cuff at sA: a repeated-errors alert on 9 October at 12:00, still open when it was
//     put under maintenance on the 10th, active on the 12th: 60 hours from the fault, while dA2,
//     the other cuff, was free (not lent until 1 November): none redirected. Under maintenance
//     again from 3 to 5 November, the alert of October not its own: 48 hours from
//     maintenance, all redirected (dA2 lent).
//   - stA, sA's only station: under maintenance 20 to 21 October, 24 hours, all redirected.
//   - dB1, a cuff at sB: under maintenance since 5 October, still open; dB2 lent from
//     1 November 08:00: redirected from then to now (20 November), 448 hours.
func repairPeriods() []devices.Period {
	d := func(m time.Month, day, h int) time.Time { return time.Date(2026, m, day, h, 0, 0, 0, time.UTC) }
	since := d(time.September, 1, 0)
	var ps []devices.Period
	add := func(id, site string, steps ...any) {
		for i := 0; i < len(steps); i += 2 {
			p := devices.Period{DeviceID: id, SiteID: site, Status: steps[i].(devices.Status), From: steps[i+1].(time.Time)}
			if i+3 < len(steps) {
				p.Until = steps[i+3].(time.Time)
			}
			ps = append(ps, p)
		}
	}
	a, m := devices.Active, devices.Maintenance
	add("dA1", "sA", a, since, m, d(10, 10, 0), a, d(10, 12, 0), m, d(11, 3, 0), a, d(11, 5, 0))
	add("dA2", "sA", a, since)
	add("dB1", "sB", a, since, m, d(10, 5, 0))
	add("dB2", "sB", a, since)
	add("stA", "sA", a, since, m, d(10, 20, 0), a, d(10, 21, 0))
	return ps
}

// The repairs' numbers over HTTP: from the fault or from maintenance, the redirected hours per
// month, centre and type, in JSON and CSV; the open repair with its redirected hours so far; a
// fleet manager sees only their sites' repairs, and a device's repairs only for their devices.
func TestRepairTurnaroundNumbers(t *testing.T) {
	f := newRegistryFixture(t)
	ctx := context.Background()
	fault, _, _, err := f.store.ApplyFinding(ctx, alerts.Finding{Rule: alerts.RuleRepeatedErrors, RuleVersion: 1, Category: alerts.Fault,
		Severity: alerts.Warning, Subject: alerts.Subject{Kind: "device", ID: "dA1"}, Device: "dA1", Site: "sA",
		At: time.Date(2026, 10, 9, 12, 0, 0, 0, time.UTC), Value: "3 errors"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	reports, err := fleet.New(fleet.Deps{Store: periodsOf{f.store, repairPeriods()}, Moves: f.store, Faults: f.store,
		Directory: f.store.LoadDirectory, Now: func() time.Time { return now }}, reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: f.store, Registry: f.store, Devices: f.view,
		Fleet: reports, Auth: registryPrincipals, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}

	var j repairsJSON
	f.want(http.StatusOK, "admin", "GET", "/utilisation/repairs?from=2026-10&to=2026-11", "", &j)
	want := []turnaroundJSON{
		{Month: "2026-10", Site: "sA", Type: "bp_cuff", Repairs: 1, FromFault: 1, MedianHours: 60, P90Hours: 60, DaysOut: 2.5, RedirectedHours: 0},
		{Month: "2026-10", Site: "sA", Type: "station", Repairs: 1, FromFault: 0, MedianHours: 24, P90Hours: 24, DaysOut: 1, RedirectedHours: 24},
		{Month: "2026-11", Site: "sA", Type: "bp_cuff", Repairs: 1, FromFault: 0, MedianHours: 48, P90Hours: 48, DaysOut: 2, RedirectedHours: 48},
	}
	if len(j.Months) != len(want) {
		t.Fatalf("months = %+v; want %+v", j.Months, want)
	}
	for i := range want {
		if j.Months[i] != want[i] {
			t.Errorf("month %d = %+v; want %+v", i, j.Months[i], want[i])
		}
	}
	maint := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	if len(j.Open) != 1 || j.Open[0].Device != "dB1" || j.Open[0].StartedBy != "maintenance" || !j.Open[0].Since.Equal(maint) ||
		!j.Open[0].Maintenance.Equal(maint) || j.Open[0].RedirectedHours != 448 || !j.Open[0].Until.IsZero() {
		t.Errorf("open = %+v; want dB1 since 5 October, from maintenance, 448 hours redirected", j.Open)
	}

	j = repairsJSON{}
	f.want(http.StatusOK, "fleetA", "GET", "/utilisation/repairs?from=2026-10&to=2026-11", "", &j)
	if len(j.Months) != 3 || len(j.Open) != 0 {
		t.Errorf("fleetA's repairs = %+v; want sA's three groups and no open repair", j)
	}
	j = repairsJSON{}
	f.want(http.StatusOK, "fleetB", "GET", "/utilisation/repairs?from=2026-10&to=2026-11", "", &j)
	if len(j.Months) != 0 || len(j.Open) != 1 || j.Open[0].Device != "dB1" {
		t.Errorf("fleetB's repairs = %+v; want only dB1 open", j)
	}
	f.want(http.StatusForbidden, "fleetB", "GET", "/utilisation/repairs?site=sA", "", nil)

	w := f.want(http.StatusOK, "fleetA", "GET", "/utilisation/repairs?from=2026-10&to=2026-11&format=csv&type=station", "", nil)
	rows, err := csv.NewReader(w.Body).ReadAll()
	if err != nil || len(rows) != 2 || strings.Join(rows[1], ",") != "2026-10,sA,station,1,24.00,24.00,1.00,0,24.00" {
		t.Errorf("CSV = %v, %v; want the header and stA's October: 24 hours, all redirected", rows, err)
	}

	var d deviceRepairsJSON
	f.want(http.StatusOK, "fleetA", "GET", "/devices/dA1/repairs", "", &d)
	if len(d.Repairs) != 2 {
		t.Fatalf("dA1's repairs = %+v; want 2", d)
	}
	nov, oct := d.Repairs[0], d.Repairs[1]
	if nov.StartedBy != "maintenance" || nov.Alert != 0 || nov.Hours != 48 || nov.RedirectedHours != 48 ||
		!nov.Since.Equal(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("dA1's November repair = %+v; want 48 hours from maintenance, all redirected", nov)
	}
	if oct.StartedBy != "fault_alert" || oct.Alert != fault.ID || oct.Hours != 60 || oct.RedirectedHours != 0 ||
		!oct.Since.Equal(time.Date(2026, 10, 9, 12, 0, 0, 0, time.UTC)) || !oct.Maintenance.Equal(time.Date(2026, 10, 10, 0, 0, 0, 0, time.UTC)) ||
		!oct.Until.Equal(time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("dA1's October repair = %+v; want 60 hours from alert %d, none redirected", oct, fault.ID)
	}
	f.want(http.StatusForbidden, "fleetB", "GET", "/devices/dA1/repairs", "", nil)
	d = deviceRepairsJSON{}
	f.want(http.StatusOK, "fleetB", "GET", "/devices/dB1/repairs", "", &d)
	if len(d.Repairs) != 1 || d.Repairs[0].Hours != 0 || d.Repairs[0].RedirectedHours != 448 {
		t.Errorf("dB1's repairs = %+v; want the open one, 448 hours redirected", d)
	}
}
