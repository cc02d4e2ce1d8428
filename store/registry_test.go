package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

var t0 = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// The fixture: two sites, a team at each, three patients and four devices.
var (
	site1 = devices.Site{ID: "s1", Name: "Riverside CHC", District: "North", Address: "1 River Rd",
		Lat: 31.23, Lon: 121.47, TimeZone: "Asia/Shanghai", OpeningHours: "Mon-Fri 08:00-17:30"}
	site2   = devices.Site{ID: "s2", Name: "Hilltop CHC", Lat: -33.9, Lon: 151.2}
	team1   = devices.Team{ID: "t1", SiteID: "s1", Name: "Dr Wang's team"}
	team2   = devices.Team{ID: "t2", SiteID: "s2", Name: "Dr Li's team"}
	patient = []devices.Patient{
		{ID: "p1", TeamID: "t1", Plans: []string{"hypertension: BP daily"}},
		{ID: "p2", TeamID: "t1"},
		{ID: "p3", TeamID: "t2", Plans: []string{"diabetes: glucose fasting", "weight weekly"}},
	}
	cuff1 = devices.Device{ID: "cuff-1", Kind: devices.BPCuff, Model: "BP-7", Serial: "A1", Firmware: "1.2",
		SiteID: "s1", Mode: devices.Home, Status: devices.Active,
		NextCalibration: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), SecretHash: "$7$101$c2FsdA==$a2V5MQ=="}
	cuff2 = devices.Device{ID: "cuff-2", Kind: devices.BPCuff, SiteID: "s1", Mode: devices.Home,
		Status: devices.Active, SecretHash: "$7$101$c2FsdA==$a2V5Mg=="}
	station1 = devices.Device{ID: "st-1", Kind: devices.Station, SiteID: "s1", Mode: devices.StationMode,
		Status: devices.Active, RatedUsesPerDay: 40, SecretHash: "$7$101$c2FsdA==$a2V5Mw=="}
	retired1 = devices.Device{ID: "gm-old", Kind: devices.GlucoseMeter, SiteID: "s2", Mode: devices.Home,
		Status: devices.Retired, SecretHash: "$7$101$c2FsdA==$a2V5NA=="}
)

// seed puts the fixture in s.
func seed(t *testing.T, s *Store) {
	t.Helper()
	must(t, "CreateSite", s.CreateSite(asAdmin, site1))
	must(t, "CreateSite", s.CreateSite(asAdmin, site2))
	must(t, "CreateTeam", s.CreateTeam(asAdmin, team1))
	must(t, "CreateTeam", s.CreateTeam(asAdmin, team2))
	for _, p := range patient {
		must(t, "CreatePatient", s.CreatePatient(asAdmin, p))
	}
	for _, d := range []devices.Device{cuff1, cuff2, station1, retired1} {
		must(t, "CreateDevice", s.CreateDevice(asAdmin, d))
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func siteID(s devices.Site) string       { return s.ID }
func teamID(t devices.Team) string       { return t.ID }
func patientID(p devices.Patient) string { return p.ID }
func deviceID(d devices.Device) string   { return d.ID }

func testSites(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	must(t, "CreateSite", s.CreateSite(asAdmin, site1))
	got, err := s.GetSite(ctx, "s1")
	if err != nil || !reflect.DeepEqual(got, site1) {
		t.Errorf("GetSite(s1) = %+v, %v; want %+v", got, err, site1)
	}
	wantCode(t, "CreateSite(s1 again)", s.CreateSite(asAdmin, site1), errcode.Conflict)
	for _, bad := range []devices.Site{
		{ID: "s 9", Name: "x"},
		{ID: "s9"},
		{ID: "s9", Name: "x", Lat: 91},
		{ID: "s9", Name: "x", TimeZone: "Mars/Olympus"},
	} {
		wantCode(t, fmt.Sprintf("CreateSite(%+v)", bad), s.CreateSite(asAdmin, bad), errcode.Invalid)
	}

	moved := site1
	moved.Name, moved.Address, moved.Lat = "Riverside Community Health Centre", "2 River Rd", 31.25
	must(t, "UpdateSite", s.UpdateSite(asAdmin, moved))
	if got, _ := s.GetSite(ctx, "s1"); !reflect.DeepEqual(got, moved) {
		t.Errorf("after UpdateSite, GetSite(s1) = %+v; want %+v", got, moved)
	}
	wantCode(t, "UpdateSite(s9)", s.UpdateSite(asAdmin, devices.Site{ID: "s9", Name: "x"}), errcode.NotFound)
	wantCode(t, "UpdateSite(no name)", s.UpdateSite(asAdmin, devices.Site{ID: "s1"}), errcode.Invalid)
	_, err = s.GetSite(ctx, "s9")
	wantCode(t, "GetSite(s9)", err, errcode.NotFound)

	must(t, "CreateSite", s.CreateSite(asAdmin, site2))
	all, err := s.ListSites(ctx, devices.ListOptions{})
	if err != nil || !reflect.DeepEqual(all, []devices.Site{moved, site2}) {
		t.Errorf("ListSites() = %+v, %v; want s1, s2", all, err)
	}
	if all, err := s.AllSites(ctx); err != nil || !reflect.DeepEqual(all, []devices.Site{moved, site2}) {
		t.Errorf("AllSites() = %+v, %v; want s1, s2", all, err)
	}
}

func testTeams(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	must(t, "CreateSite", s.CreateSite(asAdmin, site1))
	must(t, "CreateSite", s.CreateSite(asAdmin, site2))
	must(t, "CreateTeam", s.CreateTeam(asAdmin, team1))
	if got, err := s.GetTeam(ctx, "t1"); err != nil || !reflect.DeepEqual(got, team1) {
		t.Errorf("GetTeam(t1) = %+v, %v; want %+v", got, err, team1)
	}
	wantCode(t, "CreateTeam(t1 again)", s.CreateTeam(asAdmin, team1), errcode.Conflict)
	err := s.CreateTeam(asAdmin, devices.Team{ID: "t9", SiteID: "s9", Name: "x"})
	wantCode(t, "CreateTeam(at site s9)", err, errcode.Invalid)
	if err == nil || !strings.Contains(err.Error(), "site s9 does not exist") {
		t.Errorf("CreateTeam(at site s9) = %v; want it to say site s9 does not exist", err)
	}
	wantCode(t, "CreateTeam(no name)", s.CreateTeam(asAdmin, devices.Team{ID: "t9", SiteID: "s1"}), errcode.Invalid)

	must(t, "CreateTeam", s.CreateTeam(asAdmin, team2))
	must(t, "CreateTeam", s.CreateTeam(asAdmin, devices.Team{ID: "t3", SiteID: "s2", Name: "Dr Zhao's team"}))
	// A team moves to another site.
	moved := devices.Team{ID: "t1", SiteID: "s2", Name: "Dr Wang's team"}
	must(t, "UpdateTeam", s.UpdateTeam(asAdmin, moved))
	if got, _ := s.GetTeam(ctx, "t1"); !reflect.DeepEqual(got, moved) {
		t.Errorf("after UpdateTeam, GetTeam(t1) = %+v; want %+v", got, moved)
	}
	wantCode(t, "UpdateTeam(to site s9)", s.UpdateTeam(asAdmin, devices.Team{ID: "t1", SiteID: "s9", Name: "x"}), errcode.Invalid)
	wantCode(t, "UpdateTeam(t9)", s.UpdateTeam(asAdmin, devices.Team{ID: "t9", SiteID: "s1", Name: "x"}), errcode.NotFound)
	_, err = s.GetTeam(ctx, "t9")
	wantCode(t, "GetTeam(t9)", err, errcode.NotFound)

	for _, tt := range []struct {
		o    devices.ListOptions
		want []string
	}{
		{devices.ListOptions{}, []string{"t1", "t2", "t3"}},
		{devices.ListOptions{Site: "s2"}, []string{"t1", "t2", "t3"}},
		{devices.ListOptions{Site: "s1"}, []string{}},
		{devices.ListOptions{Site: "s2", After: "t1", Limit: 1}, []string{"t2"}},
	} {
		got, err := s.ListTeams(ctx, tt.o)
		if err != nil || !slices.Equal(ids(got, teamID), tt.want) {
			t.Errorf("ListTeams(%+v) = %v, %v; want %v", tt.o, ids(got, teamID), err, tt.want)
		}
	}
}

func testPatients(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	for _, p := range patient {
		if got, err := s.GetPatient(ctx, p.ID); err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("GetPatient(%s) = %+v, %v; want %+v", p.ID, got, err, p)
		}
	}
	wantCode(t, "CreatePatient(p1 again)", s.CreatePatient(asAdmin, patient[0]), errcode.Conflict)
	wantCode(t, "CreatePatient(in team t9)", s.CreatePatient(asAdmin, devices.Patient{ID: "p9", TeamID: "t9"}), errcode.Invalid)
	wantCode(t, "CreatePatient(empty plan)", s.CreatePatient(asAdmin, devices.Patient{ID: "p9", TeamID: "t1", Plans: []string{""}}), errcode.Invalid)
	wantCode(t, "CreatePatient(bad id)", s.CreatePatient(asAdmin, devices.Patient{ID: "p/9", TeamID: "t1"}), errcode.Invalid)

	// A transfer to the other site's team keeps the id and takes the plans along.
	moved := devices.Patient{ID: "p1", TeamID: "t2", Plans: []string{"hypertension: BP daily", "new: walk"}}
	must(t, "UpdatePatient", s.UpdatePatient(asAdmin, moved))
	if got, _ := s.GetPatient(ctx, "p1"); !reflect.DeepEqual(got, moved) {
		t.Errorf("after UpdatePatient, GetPatient(p1) = %+v; want %+v", got, moved)
	}
	wantCode(t, "UpdatePatient(to team t9)", s.UpdatePatient(asAdmin, devices.Patient{ID: "p1", TeamID: "t9"}), errcode.Invalid)
	wantCode(t, "UpdatePatient(p9)", s.UpdatePatient(asAdmin, devices.Patient{ID: "p9", TeamID: "t1"}), errcode.NotFound)
	_, err := s.GetPatient(ctx, "p9")
	wantCode(t, "GetPatient(p9)", err, errcode.NotFound)

	for _, tt := range []struct {
		o    devices.ListOptions
		want []string
	}{
		{devices.ListOptions{}, []string{"p1", "p2", "p3"}},
		{devices.ListOptions{Team: "t1"}, []string{"p2"}},
		{devices.ListOptions{Team: "t2"}, []string{"p1", "p3"}},
		{devices.ListOptions{Site: "s2"}, []string{"p1", "p3"}},
		{devices.ListOptions{Site: "s2", After: "p1"}, []string{"p3"}},
		{devices.ListOptions{Site: "s1", Team: "t2"}, []string{}},
		{devices.ListOptions{Limit: 2}, []string{"p1", "p2"}},
	} {
		got, err := s.ListPatients(ctx, tt.o)
		if err != nil || !slices.Equal(ids(got, patientID), tt.want) {
			t.Errorf("ListPatients(%+v) = %v, %v; want %v", tt.o, ids(got, patientID), err, tt.want)
		}
	}
}

func testDevices(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	for _, d := range []devices.Device{cuff1, cuff2, station1, retired1} {
		if got, err := s.GetDevice(ctx, d.ID); err != nil || !reflect.DeepEqual(got, d) {
			t.Errorf("GetDevice(%s) = %+v, %v; want %+v", d.ID, got, err, d)
		}
	}
	wantCode(t, "CreateDevice(cuff-1 again)", s.CreateDevice(asAdmin, cuff1), errcode.Conflict)
	for name, change := range map[string]func(d *devices.Device){
		"no secret hash":       func(d *devices.Device) { d.SecretHash = "" },
		"unknown kind":         func(d *devices.Device) { d.Kind = "toaster" },
		"unknown site":         func(d *devices.Device) { d.SiteID = "s9" },
		"station without uses": func(d *devices.Device) { d.Mode = devices.StationMode },
		"unknown status":       func(d *devices.Device) { d.Status = "lost" },
	} {
		d := cuff1
		d.ID = "new-1"
		change(&d)
		wantCode(t, "CreateDevice("+name+")", s.CreateDevice(asAdmin, d), errcode.Invalid)
	}

	// An update changes everything but the secret's hash.
	up := cuff1
	up.Firmware, up.SiteID, up.Status, up.NextCalibration = "1.3", "s2", devices.Maintenance, time.Time{}
	up.SecretHash = "$7$101$bm90$bm90" // ignored
	must(t, "UpdateDevice", s.UpdateDevice(asAdmin, up))
	want := up
	want.SecretHash = cuff1.SecretHash
	if got, _ := s.GetDevice(ctx, "cuff-1"); !reflect.DeepEqual(got, want) {
		t.Errorf("after UpdateDevice, GetDevice(cuff-1) = %+v; want %+v", got, want)
	}
	wantCode(t, "UpdateDevice(new-1)", s.UpdateDevice(asAdmin, devices.Device{ID: "new-1", Kind: devices.Scale,
		SiteID: "s1", Mode: devices.Home, Status: devices.Active}), errcode.NotFound)
	up.SiteID = "s9"
	wantCode(t, "UpdateDevice(to site s9)", s.UpdateDevice(asAdmin, up), errcode.Invalid)

	rotated := devices.HashSecret("new secret")
	must(t, "SetDeviceSecret", s.SetDeviceSecret(asAdmin, "cuff-1", rotated))
	if got, _ := s.GetDevice(ctx, "cuff-1"); got.SecretHash != rotated || got.Firmware != "1.3" {
		t.Errorf("after SetDeviceSecret, GetDevice(cuff-1) = %+v; want the new hash and nothing else changed", got)
	}
	wantCode(t, "SetDeviceSecret(new-1)", s.SetDeviceSecret(asAdmin, "new-1", rotated), errcode.NotFound)
	wantCode(t, "SetDeviceSecret(empty)", s.SetDeviceSecret(asAdmin, "cuff-1", ""), errcode.Invalid)
	_, err := s.GetDevice(ctx, "new-1")
	wantCode(t, "GetDevice(new-1)", err, errcode.NotFound)

	for _, tt := range []struct {
		o    devices.ListOptions
		want []string
	}{
		{devices.ListOptions{}, []string{"cuff-1", "cuff-2", "gm-old", "st-1"}},
		{devices.ListOptions{Site: "s1"}, []string{"cuff-2", "st-1"}},
		{devices.ListOptions{Kind: "bp_cuff"}, []string{"cuff-1", "cuff-2"}},
		{devices.ListOptions{Status: "active"}, []string{"cuff-2", "st-1"}},
		{devices.ListOptions{Status: "maintenance"}, []string{"cuff-1"}},
		{devices.ListOptions{Mode: "home"}, []string{"cuff-1", "cuff-2", "gm-old"}},
		{devices.ListOptions{Mode: "home", Site: "s2", Status: "retired"}, []string{"gm-old"}},
		{devices.ListOptions{Kind: "bp_cuff", After: "cuff-1"}, []string{"cuff-2"}},
		{devices.ListOptions{Kind: "scale"}, []string{}},
	} {
		got, err := s.ListDevices(ctx, tt.o)
		if err != nil || !slices.Equal(ids(got, deviceID), tt.want) {
			t.Errorf("ListDevices(%+v) = %v, %v; want %v", tt.o, ids(got, deviceID), err, tt.want)
		}
	}
	for _, o := range []devices.ListOptions{{Kind: "toaster"}, {Status: "lost"}, {Mode: "mobile"}} {
		_, err := s.ListDevices(ctx, o)
		wantCode(t, fmt.Sprintf("ListDevices(%+v)", o), err, errcode.Invalid)
	}
}

func testListPagesByID(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	// Ids that a locale-aware collation would order differently from bytes.
	var all []string
	for _, id := range []string{"B", "a", "A-2", "a-1", "_x", "0", "Z.z", "b:1", "a_1"} {
		all = append(all, id)
	}
	for i := 0; i < 100; i++ {
		all = append(all, fmt.Sprintf("site-%03d", i))
	}
	for _, id := range all {
		must(t, "CreateSite", s.CreateSite(asAdmin, devices.Site{ID: id, Name: "n"}))
	}
	sort.Strings(all)

	first, err := s.ListSites(ctx, devices.ListOptions{})
	if err != nil || len(first) != defaultLimit {
		t.Fatalf("ListSites() = %d sites, %v; want the default page of %d", len(first), err, defaultLimit)
	}
	var paged []string
	after := ""
	for pages := 0; ; pages++ {
		page, err := s.ListSites(ctx, devices.ListOptions{After: after, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 || pages > len(all) {
			break
		}
		paged = append(paged, ids(page, siteID)...)
		after = page[len(page)-1].ID
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages of 7 = %v\nwant, in byte order, %v", paged, all)
	}
	big, err := s.ListSites(ctx, devices.ListOptions{Limit: 5000})
	if err != nil || len(big) != len(all) {
		t.Errorf("ListSites(Limit 5000) = %d sites, %v; want all %d", len(big), err, len(all))
	}
}

func testListRefusesFiltersThatDoNotApply(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	_, err := s.ListSites(ctx, devices.ListOptions{Site: "s1"})
	wantCode(t, "ListSites(Site)", err, errcode.Invalid)
	_, err = s.ListTeams(ctx, devices.ListOptions{Team: "t1"})
	wantCode(t, "ListTeams(Team)", err, errcode.Invalid)
	_, err = s.ListPatients(ctx, devices.ListOptions{Kind: "cgm"})
	wantCode(t, "ListPatients(Kind)", err, errcode.Invalid)
	_, err = s.ListDevices(ctx, devices.ListOptions{Team: "t1"})
	wantCode(t, "ListDevices(Team)", err, errcode.Invalid)
}

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

func testAuditLog(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	alice := audit.WithActor(ctx, "user:alice")
	bob := audit.WithActor(ctx, "token:fleet-sync")
	start := time.Now().Add(-time.Second)
	rotated := devices.HashSecret("rotated")

	must(t, "CreateSite", s.CreateSite(alice, site1))
	must(t, "CreateTeam", s.CreateTeam(alice, team1))
	must(t, "CreatePatient", s.CreatePatient(alice, patient[0]))
	must(t, "CreatePatient", s.CreatePatient(alice, patient[1]))
	must(t, "CreateDevice", s.CreateDevice(bob, cuff1))
	must(t, "UpdateDevice", s.UpdateDevice(bob, cuff1))
	must(t, "SetDeviceSecret", s.SetDeviceSecret(bob, "cuff-1", rotated))
	must(t, "AssignDevice", s.AssignDevice(alice, "cuff-1", "p1", t0))
	must(t, "AssignDevice", s.AssignDevice(alice, "cuff-1", "p2", t0.Add(day)))
	must(t, "ReturnDevice", s.ReturnDevice(alice, "cuff-1", t0.Add(2*day)))
	must(t, "UpdatePatient", s.UpdatePatient(alice, devices.Patient{ID: "p1", TeamID: "t1"}))
	s.CreateSite(bob, site1) // refused: not audited

	all, err := s.AuditLog(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ actor, action, subject string }
	want := []row{
		{"user:alice", "patient.update", "patient/p1"},
		{"user:alice", "device.return", "device/cuff-1"},
		{"user:alice", "device.assign", "device/cuff-1"},
		{"user:alice", "device.assign", "device/cuff-1"},
		{"token:fleet-sync", "device.secret_rotate", "device/cuff-1"},
		{"token:fleet-sync", "device.update", "device/cuff-1"},
		{"token:fleet-sync", "device.create", "device/cuff-1"},
		{"user:alice", "patient.create", "patient/p2"},
		{"user:alice", "patient.create", "patient/p1"},
		{"user:alice", "team.create", "team/t1"},
		{"user:alice", "site.create", "site/s1"},
	}
	var got []row
	for _, e := range all {
		got = append(got, row{e.Actor, e.Action, e.Subject})
		if e.At.Before(start) || e.At.After(time.Now().Add(time.Second)) {
			t.Errorf("entry %d %s at %v; want about now", e.ID, e.Action, e.At)
		}
		for _, secret := range []string{cuff1.SecretHash, rotated, "secret"} {
			if strings.Contains(e.Detail, secret) {
				t.Errorf("entry %d %s detail %s contains %q; a secret hash must never be audited", e.ID, e.Action, e.Detail, secret)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AuditLog() =\n%v\nwant, newest first,\n%v", got, want)
	}
	if len(all) != len(want) {
		t.FailNow()
	}
	for i, w := range map[int]string{
		0:  `{"team":"t1","plans":[]}`,
		1:  `{"patient":"p2","from":"2026-11-02T08:00:00Z","until":"2026-11-03T08:00:00Z"}`,
		2:  `{"patient":"p2","from":"2026-11-02T08:00:00Z","ended":{"patient":"p1","from":"2026-11-01T08:00:00Z","until":"2026-11-02T08:00:00Z"}}`,
		4:  `{}`,
		6:  `{"kind":"bp_cuff","model":"BP-7","serial":"A1","firmware":"1.2","site":"s1","mode":"home","status":"active","rated_uses_per_day":0,"next_calibration":"2027-03-01T00:00:00Z"}`,
		10: `{"name":"Riverside CHC","district":"North","address":"1 River Rd","lat":31.23,"lon":121.47,"time_zone":"Asia/Shanghai","opening_hours":"Mon-Fri 08:00-17:30"}`,
	} {
		if all[i].Detail != w {
			t.Errorf("%s detail = %s; want %s", all[i].Action, all[i].Detail, w)
		}
	}

	for _, tt := range []struct {
		f    audit.Filter
		want int
	}{
		{audit.Filter{Subject: "device/cuff-1"}, 6},
		{audit.Filter{Actor: "token:fleet-sync"}, 3},
		{audit.Filter{Action: "device.assign"}, 2},
		{audit.Filter{Actor: "user:alice", Subject: "patient/p1"}, 2},
		{audit.Filter{Before: all[4].ID}, 6},
		{audit.Filter{Limit: 3}, 3},
	} {
		got, err := s.AuditLog(ctx, tt.f)
		if err != nil || len(got) != tt.want {
			t.Errorf("AuditLog(%+v) = %d entries, %v; want %d", tt.f, len(got), err, tt.want)
		}
	}
}

func testMutationWithoutActor(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	version, _ := s.RegistryVersion(ctx)
	for _, ctx := range []context.Context{ctx, audit.WithActor(ctx, " ")} {
		for name, err := range map[string]error{
			"CreateSite":      s.CreateSite(ctx, devices.Site{ID: "s9", Name: "x"}),
			"UpdateSite":      s.UpdateSite(ctx, site1),
			"CreateTeam":      s.CreateTeam(ctx, devices.Team{ID: "t9", SiteID: "s1", Name: "x"}),
			"UpdateTeam":      s.UpdateTeam(ctx, team1),
			"CreatePatient":   s.CreatePatient(ctx, devices.Patient{ID: "p9", TeamID: "t1"}),
			"UpdatePatient":   s.UpdatePatient(ctx, patient[0]),
			"CreateDevice":    s.CreateDevice(ctx, devices.Device{ID: "d9", Kind: devices.Scale, SiteID: "s1", Mode: devices.Home, Status: devices.Active, SecretHash: "h"}),
			"UpdateDevice":    s.UpdateDevice(ctx, cuff1),
			"SetDeviceSecret": s.SetDeviceSecret(ctx, "cuff-1", "h"),
			"AssignDevice":    s.AssignDevice(ctx, "cuff-1", "p1", t0),
			"ReturnDevice":    s.ReturnDevice(ctx, "cuff-1", t0),
		} {
			wantCode(t, name+" without an actor", err, errcode.Invalid)
		}
	}
	if v, _ := s.RegistryVersion(ctx); v != version {
		t.Errorf("RegistryVersion() = %d; want %d: changes without an actor must not happen", v, version)
	}
	if _, err := s.GetSite(ctx, "s9"); err == nil {
		t.Errorf("GetSite(s9) found the site created without an actor")
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

func testCreateDevices(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	seed(t, s)
	ctx := asAdmin
	v0, _ := s.RegistryVersion(ctx)
	batch := []devices.Device{
		{ID: "ox-1", Kind: devices.Oximeter, SiteID: "s1", Mode: devices.Home, Status: devices.Active, SecretHash: "$7$101$c2FsdA==$eA=="},
		{ID: "ox-2", Kind: devices.Oximeter, SiteID: "s2", Mode: devices.Home, Status: devices.Active, SecretHash: "$7$101$c2FsdA==$eQ=="},
		{ID: "cuff-1", Kind: devices.BPCuff, SiteID: "s1", Mode: devices.Home, Status: devices.Active, SecretHash: "$7$101$c2FsdA==$eg=="},
	}
	err := s.CreateDevices(ctx, batch)
	wantCode(t, "CreateDevices with a duplicate", err, errcode.Conflict)
	if !strings.Contains(err.Error(), "cuff-1") {
		t.Errorf("CreateDevices error %v does not name cuff-1", err)
	}
	_, err = s.GetDevice(ctx, "ox-1")
	wantCode(t, "GetDevice(ox-1) after a refused batch", err, errcode.NotFound)
	if v, _ := s.RegistryVersion(ctx); v != v0 {
		t.Errorf("a refused batch moved the version from %d to %d", v0, v)
	}
	must(t, "CreateDevices", s.CreateDevices(ctx, batch[:2]))
	for _, id := range []string{"ox-1", "ox-2"} {
		if _, err := s.GetDevice(ctx, id); err != nil {
			t.Errorf("GetDevice(%s) after the batch: %v", id, err)
		}
		if log, _ := s.AuditLog(ctx, audit.Filter{Subject: "device/" + id}); len(log) != 1 || log[0].Action != "device.create" {
			t.Errorf("audit of %s = %+v; want one device.create", id, log)
		}
	}
}

func testTeamRoster(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	mustCreateUser(t, s, drWang) // a doctor of t1 and t2
	mustCreateUser(t, s, fleet)
	other := mustCreateUser(t, s, access.User{ID: "usr_li", Username: "dr.li", Role: access.Doctor, Teams: []string{"t2"}, PasswordHash: fakeHash})

	team := team1
	team.Lead, team.OnCall = drWang.ID, []string{drWang.ID}
	must(t, "UpdateTeam(lead and roster)", s.UpdateTeam(asAdmin, team))
	if got, err := s.GetTeam(ctx, "t1"); err != nil || !reflect.DeepEqual(got, team) {
		t.Errorf("GetTeam(t1) = %+v, %v; want %+v", got, err, team)
	}
	for _, tt := range []struct {
		name   string
		lead   string
		onCall []string
	}{
		{"lead from another team", other.ID, nil},
		{"fleet manager on call", "", []string{fleet.ID}},
		{"unknown user", "usr_nobody", nil},
	} {
		bad := team1
		bad.Lead, bad.OnCall = tt.lead, tt.onCall
		wantCode(t, "UpdateTeam("+tt.name+")", s.UpdateTeam(asAdmin, bad), errcode.Invalid)
	}
	if got, _ := s.GetTeam(ctx, "t1"); !reflect.DeepEqual(got, team) {
		t.Errorf("a refused update changed the team to %+v", got)
	}
}
