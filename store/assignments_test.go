package store

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// wantAssignments checks the device's assignments.
func wantAssignments(t *testing.T, s *Store, deviceID string, want ...devices.Assignment) {
	t.Helper()
	got, err := s.Assignments(context.Background(), deviceID)
	if err != nil || !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("Assignments(%s) = %+v, %v\nwant %+v", deviceID, got, err, want)
	}
}

func testAssignments(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	seed(t, s)
	wantAssignments(t, s, "cuff-1")

	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p1", t0))
	wantAssignments(t, s, "cuff-1", devices.Assignment{DeviceID: "cuff-1", PatientID: "p1", From: t0})

	// Lending it to someone else ends the first loan when the second starts.
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p2", t0.Add(5*day)))
	wantAssignments(t, s, "cuff-1",
		devices.Assignment{DeviceID: "cuff-1", PatientID: "p1", From: t0, Until: t0.Add(5 * day)},
		devices.Assignment{DeviceID: "cuff-1", PatientID: "p2", From: t0.Add(5 * day)})

	must(t, "ReturnDevice", s.ReturnDevice(asAdmin, "cuff-1", t0.Add(8*day)))
	wantCode(t, "ReturnDevice(not lent)", s.ReturnDevice(asAdmin, "cuff-1", t0.Add(9*day)), errcode.NotFound)

	// Lent again from the moment it came back; a time in another zone is the same instant.
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p3", t0.Add(8*day).In(time.FixedZone("CST", 8*3600))))
	wantAssignments(t, s, "cuff-1",
		devices.Assignment{DeviceID: "cuff-1", PatientID: "p1", From: t0, Until: t0.Add(5 * day)},
		devices.Assignment{DeviceID: "cuff-1", PatientID: "p2", From: t0.Add(5 * day), Until: t0.Add(8 * day)},
		devices.Assignment{DeviceID: "cuff-1", PatientID: "p3", From: t0.Add(8 * day)})
	wantAssignments(t, s, "cuff-2")

	_, err := s.Assignments(context.Background(), "nope")
	wantCode(t, "Assignments(nope)", err, errcode.NotFound)
}

func testAssignmentRefusals(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	maint := cuff2
	maint.ID, maint.Status = "cuff-m", devices.Maintenance
	must(t, "CreateDevice", s.CreateDevice(asAdmin, maint))
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p1", t0))
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-2", "p2", t0))
	must(t, "ReturnDevice", s.ReturnDevice(asAdmin, "cuff-2", t0.Add(day)))
	version, _ := s.RegistryVersion(ctx)

	tests := []struct {
		name     string
		device   string
		patient  string
		from     time.Time
		wantCode string
	}{
		{"station device", "st-1", "p1", t0, errcode.Invalid},
		{"retired device", "gm-old", "p1", t0, errcode.Invalid},
		{"device under repair", "cuff-m", "p1", t0, errcode.Invalid},
		{"unknown patient", "cuff-2", "p9", t0.Add(2 * day), errcode.Invalid},
		{"unknown device", "cuff-9", "p1", t0, errcode.NotFound},
		{"no start time", "cuff-2", "p1", time.Time{}, errcode.Invalid},
		{"before the current loan began", "cuff-1", "p2", t0.Add(-time.Hour), errcode.Invalid},
		{"when the current loan began", "cuff-1", "p2", t0, errcode.Invalid},
		{"before the last loan ended", "cuff-2", "p1", t0.Add(day - time.Millisecond), errcode.Invalid},
	}
	for _, tt := range tests {
		err := s.AssignDevice(asAdmin, tt.device, tt.patient, tt.from)
		wantCode(t, fmt.Sprintf("%s: AssignDevice(%s, %s, %v)", tt.name, tt.device, tt.patient, tt.from), err, tt.wantCode)
	}
	wantCode(t, "ReturnDevice(before the loan began)", s.ReturnDevice(asAdmin, "cuff-1", t0.Add(-time.Hour)), errcode.Invalid)
	wantCode(t, "ReturnDevice(never lent)", s.ReturnDevice(asAdmin, "st-1", t0), errcode.NotFound)
	wantCode(t, "ReturnDevice(unknown device)", s.ReturnDevice(asAdmin, "cuff-9", t0), errcode.NotFound)

	wantAssignments(t, s, "cuff-1", devices.Assignment{DeviceID: "cuff-1", PatientID: "p1", From: t0})
	wantAssignments(t, s, "cuff-2", devices.Assignment{DeviceID: "cuff-2", PatientID: "p2", From: t0, Until: t0.Add(day)})
	if v, _ := s.RegistryVersion(ctx); v != version {
		t.Errorf("RegistryVersion after refused changes = %d; want %d as before", v, version)
	}
}

func testLentDeviceCannotBeRetired(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	seed(t, s)
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p1", t0))
	retire, station, repair := cuff1, cuff1, cuff1
	retire.Status = devices.Retired
	station.Mode, station.RatedUsesPerDay = devices.StationMode, 10
	repair.Status = devices.Maintenance
	wantCode(t, "UpdateDevice(retire a lent device)", s.UpdateDevice(asAdmin, retire), errcode.Invalid)
	wantCode(t, "UpdateDevice(make a lent device a station)", s.UpdateDevice(asAdmin, station), errcode.Invalid)
	must(t, "UpdateDevice(repair a lent device)", s.UpdateDevice(asAdmin, repair))
	must(t, "ReturnDevice", s.ReturnDevice(asAdmin, "cuff-1", t0.Add(day)))
	must(t, "UpdateDevice(retire a returned device)", s.UpdateDevice(asAdmin, retire))
}

func testConcurrentAssignmentsDoNotOverlap(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	before, _ := s.RegistryVersion(ctx)

	const n = 12
	errs := make([]error, n)
	siteErrs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.AssignDevice(asAdmin, "cuff-1", patient[i%len(patient)].ID, t0.Add(time.Duration(i)*time.Hour))
			siteErrs[i] = s.CreateSite(asAdmin, devices.Site{ID: "s-race", Name: fmt.Sprint(i)})
		}()
	}
	wg.Wait()

	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
		} else {
			wantCode(t, fmt.Sprintf("AssignDevice #%d", i), err, errcode.Invalid) // it started before a later loan
		}
	}
	created := 0
	for i, err := range siteErrs {
		if err == nil {
			created++
		} else {
			wantCode(t, fmt.Sprintf("CreateSite(s-race) #%d", i), err, errcode.Conflict)
		}
	}
	if created != 1 {
		t.Errorf("%d concurrent CreateSite(s-race) succeeded; want exactly 1", created)
	}
	as, err := s.Assignments(ctx, "cuff-1")
	if err != nil || len(as) != ok || ok == 0 {
		t.Fatalf("Assignments(cuff-1) = %d, %v; want the %d that succeeded", len(as), err, ok)
	}
	for i, a := range as {
		last := i == len(as)-1
		if last != a.Until.IsZero() || !last && !a.Until.Equal(as[i+1].From) {
			t.Errorf("assignment %d of %d = %+v; want each to end where the next begins, and only the last open", i, len(as), a)
		}
	}
	if v, _ := s.RegistryVersion(ctx); v != before+int64(ok)+1 {
		t.Errorf("RegistryVersion = %d; want %d + %d loans + 1 site", v, before, ok)
	}
}
