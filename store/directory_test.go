package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
)

func testLoadDirectory(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	t1 := t0.Add(3 * day)
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p1", t0))
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p2", t1))

	d, err := s.LoadDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.RegistryVersion(ctx); d.Version() != v || v == 0 {
		t.Errorf("Directory.Version() = %d; want the registry version %d", d.Version(), v)
	}
	if d.Len() != 4 {
		t.Errorf("Directory.Len() = %d; want 4 devices", d.Len())
	}
	if got, ok := d.Device("st-1"); !ok || !reflect.DeepEqual(*got, station1) {
		t.Errorf("Directory.Device(st-1) = %+v, %v; want %+v", got, ok, station1)
	}
	if got, ok := d.Patient("p1"); !ok || !reflect.DeepEqual(*got, patient[0]) {
		t.Errorf("Directory.Patient(p1) = %+v, %v; want %+v", got, ok, patient[0])
	}
	if got, ok := d.Site("s1"); !ok || !reflect.DeepEqual(*got, site1) || !d.HasPatient("p3") {
		t.Errorf("Directory.Site(s1) = %+v, %v; want %+v (and p3 known)", got, ok, site1)
	}
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Millisecond), ""},
		{t0, "p1"},
		{t1.Add(-time.Millisecond), "p1"},
		{t1, "p2"},
		{t1.Add(300 * day), "p2"},
	} {
		if got := d.PatientAt("cuff-1", tt.at); got != tt.want {
			t.Errorf("PatientAt(cuff-1, %v) = %q; want %q", tt.at, got, tt.want)
		}
	}
	if !d.HasPatient("p3") || d.HasPatient("p9") {
		t.Errorf("HasPatient(p3), HasPatient(p9) = %v, %v; want true, false", d.HasPatient("p3"), d.HasPatient("p9"))
	}

	must(t, "ReturnDevice", s.ReturnDevice(asAdmin, "cuff-1", t1.Add(day)))
	d2, err := s.LoadDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d2.Version() <= d.Version() {
		t.Errorf("Version after a return = %d; want above %d", d2.Version(), d.Version())
	}
	if got := d2.PatientAt("cuff-1", t1.Add(day)); got != "" {
		t.Errorf("PatientAt(cuff-1) after its return = %q; want none", got)
	}
	if got := d2.PatientAt("cuff-1", t1); got != "p2" {
		t.Errorf("PatientAt(cuff-1) during the loan, after its return = %q; want p2", got)
	}
}

func testRegistryVersion(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	v, err := s.RegistryVersion(ctx)
	if err != nil || v != 0 {
		t.Fatalf("RegistryVersion() of a new database = %d, %v; want 0", v, err)
	}
	step := func(what string, err error) {
		t.Helper()
		must(t, what, err)
		got, err := s.RegistryVersion(ctx)
		if err != nil || got != v+1 {
			t.Errorf("after %s, RegistryVersion() = %d, %v; want %d", what, got, err, v+1)
		}
		v = got
	}
	step("CreateSite", s.CreateSite(asAdmin, site1))
	step("UpdateSite", s.UpdateSite(asAdmin, site1))
	step("CreateTeam", s.CreateTeam(asAdmin, team1))
	step("UpdateTeam", s.UpdateTeam(asAdmin, team1))
	step("CreatePatient", s.CreatePatient(asAdmin, patient[0]))
	step("UpdatePatient", s.UpdatePatient(asAdmin, patient[0]))
	step("CreateDevice", s.CreateDevice(asAdmin, cuff1))
	step("UpdateDevice", s.UpdateDevice(asAdmin, cuff1))
	step("SetDeviceSecret", s.SetDeviceSecret(asAdmin, "cuff-1", "$7$1$x$y"))
	step("AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p1", t0))
	step("ReturnDevice", s.ReturnDevice(asAdmin, "cuff-1", t0.Add(day)))

	// Reads and refused changes leave it alone.
	s.GetSite(ctx, "s1")
	s.ListDevices(ctx, devices.ListOptions{})
	s.Assignments(ctx, "cuff-1")
	s.LoadDirectory(ctx)
	s.AuditLog(ctx, audit.Filter{})
	s.CreateSite(asAdmin, site1)
	s.UpdateTeam(asAdmin, devices.Team{ID: "t9", SiteID: "s1", Name: "x"})
	if got, _ := s.RegistryVersion(ctx); got != v {
		t.Errorf("after reads and refused changes, RegistryVersion() = %d; want %d", got, v)
	}
}

func testLoadDirectoryIsASnapshot(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	// While devices are added one change at a time, a consistent snapshot always holds as many
	// devices more than the seed as its version is above the seed's.
	base, _ := s.LoadDirectory(ctx)
	done := make(chan error, 1)
	go func() {
		for i := range 60 {
			d := cuff2
			d.ID = fmt.Sprintf("more-%02d", i)
			if err := s.CreateDevice(asAdmin, d); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for loads := 0; ; loads++ {
		select {
		case err := <-done:
			must(t, "CreateDevice", err)
			t.Logf("%d loads while adding", loads)
			return
		default:
		}
		d, err := s.LoadDirectory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if added, bumped := d.Len()-base.Len(), d.Version()-base.Version(); int64(added) != bumped {
			t.Fatalf("directory at version %d (+%d) has %d devices (+%d); want one more device per version", d.Version(), bumped, d.Len(), added)
		}
	}
}
