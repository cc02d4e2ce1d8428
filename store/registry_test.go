package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
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
