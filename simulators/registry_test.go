package simulators

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

func TestRegistryKind(t *testing.T) {
	seen := map[devices.Kind]Kind{}
	for _, k := range Kinds {
		rk := k.RegistryKind()
		if !rk.Valid() {
			t.Errorf("%s.RegistryKind() = %q; want one of the registry's kinds %v", k, rk, devices.Kinds)
		}
		if other, dup := seen[rk]; dup {
			t.Errorf("%s and %s both map to %q", other, k, rk)
		}
		seen[rk] = k
	}
	if len(seen) != len(devices.Kinds) {
		t.Errorf("simulator kinds cover %d of the registry's %d kinds", len(seen), len(devices.Kinds))
	}
}

func TestSecret(t *testing.T) {
	// Vectors from openssl, not from the code under test:
	//   printf sim-glu-0001 | openssl dgst -sha256 -hmac vitalsim:1 -binary | basenc --base64url | cut -c1-32
	tests := []struct {
		seed int64
		id   string
		want string
	}{
		{1, "sim-glu-0001", "QKmEWBm9wDvrI5O-JxPFou9dYQ7hQ74E"},
		{-7, "sim-stn-0002", "pfmOiBLN-rnH6H3vccDIwvXT7MlT0fuG"},
	}
	for _, tt := range tests {
		if got := Secret(tt.seed, tt.id); got != tt.want {
			t.Errorf("Secret(%d, %q) = %q; want %q", tt.seed, tt.id, got, tt.want)
		}
	}
	if Secret(1, "sim-glu-0001") == Secret(2, "sim-glu-0001") {
		t.Errorf("Secret is the same for seeds 1 and 2")
	}
}

// TestRegistryMatchesFleet checks the registry against itself, against the registry's own rules
// (devices.*.Validate, devices.Directory) and against what the fleet sends.
func TestRegistryMatchesFleet(t *testing.T) {
	now := time.Date(2026, 11, 22, 15, 30, 0, 0, time.UTC) // 23:30 in Chengdu
	f := NewFleet(400, 9, DefaultMix())
	r := f.Registry(now)

	if len(r.Sites) != 6 || len(r.Teams) != 12 {
		t.Fatalf("400 devices: %d sites and %d teams; want 6 and 12", len(r.Sites), len(r.Teams))
	}
	sites, teams, patients := map[string]bool{}, map[string]string{}, map[string]bool{}
	coords := map[[2]float64]bool{}
	for _, s := range r.Sites {
		if err := s.Validate(); err != nil || s.TimeZone != "Asia/Shanghai" || s.OpeningHours == "" {
			t.Errorf("site %+v: %v; want valid, in Asia/Shanghai, with opening hours", s, err)
		}
		if sites[s.ID] || coords[[2]float64{s.Lat, s.Lon}] {
			t.Errorf("site %s: id or coordinates repeated", s.ID)
		}
		sites[s.ID], coords[[2]float64{s.Lat, s.Lon}] = true, true
	}
	for _, tm := range r.Teams {
		if err := tm.Validate(); err != nil || !sites[tm.SiteID] || teams[tm.ID] != "" {
			t.Errorf("team %+v: %v; want valid, unique, at a known site", tm, err)
		}
		teams[tm.ID] = tm.SiteID
	}
	planRE := regexp.MustCompile(`^(hypertension: BP|diabetes: glucose|COPD: SpO2) (daily|monthly)$`)
	for _, p := range r.Patients {
		if err := p.Validate(); err != nil || teams[p.TeamID] == "" || patients[p.ID] {
			t.Errorf("patient %+v: %v; want valid, unique, in a known team", p, err)
		}
		for _, plan := range p.Plans {
			if !planRE.MatchString(plan) {
				t.Errorf("patient %s: plan %q; want like \"hypertension: BP daily\"", p.ID, plan)
			}
		}
		patients[p.ID] = true
	}
	if !slices.Equal(f.Patients(), registryPatientIDs(r)) {
		t.Errorf("registry patients differ from the fleet's")
	}

	wantFrom := time.Date(2026, 10, 23, 0, 0, 0, 0, time.FixedZone("", 8*3600))
	assigned := map[string]devices.Assignment{}
	for _, a := range r.Assignments {
		if _, dup := assigned[a.DeviceID]; dup {
			t.Errorf("device %s assigned twice", a.DeviceID)
		}
		if !a.From.Equal(wantFrom) || !a.Until.IsZero() {
			t.Errorf("assignment %+v; want from %v (30 days before, at midnight UTC+8), no end", a, wantFrom)
		}
		assigned[a.DeviceID] = a
	}
	used := map[string]int{}
	secrets := map[string]bool{}
	for _, d := range r.Devices {
		if err := d.Validate(); err != nil {
			t.Errorf("device %+v: %v", d, err)
		}
		used[d.SiteID]++
		sim := f.Device(d.ID)
		if sim == nil || d.Kind != sim.Kind.RegistryKind() || d.Firmware != sim.Firmware || !sites[d.SiteID] || d.Status != devices.Active {
			t.Errorf("device %+v; want a fleet device of the same kind and firmware, active, at a known site", d)
			continue
		}
		if s := r.Secrets[d.ID]; s != Secret(9, d.ID) || secrets[s] {
			t.Errorf("device %s: secret %q; want Secret(9, id), unique", d.ID, s)
		}
		secrets[r.Secrets[d.ID]] = true
		a, ok := assigned[d.ID]
		if sim.Kind == Station {
			if d.Mode != devices.StationMode || d.RatedUsesPerDay != StationRatedUsesPerDay || ok {
				t.Errorf("station %+v (assigned: %v); want mode station, rated %d uses, no assignment", d, ok, StationRatedUsesPerDay)
			}
			for _, p := range sim.Residents {
				if !patients[p] {
					t.Errorf("station %s: resident %s not in the registry", d.ID, p)
				}
			}
			continue
		}
		if d.Mode != devices.Home || d.RatedUsesPerDay != 0 || !ok || a.PatientID != sim.Patient {
			t.Errorf("home device %+v assigned %+v; want mode home, assigned to %s", d, a, sim.Patient)
		}
		if teams[patientTeam(r, sim.Patient)] != d.SiteID {
			t.Errorf("home device %s at %s; want its patient's centre", d.ID, d.SiteID)
		}
	}
	for id := range sites {
		if used[id] == 0 {
			t.Errorf("site %s has no devices; want the fleet spread over every site", id)
		}
	}
	if len(r.Devices) != f.Len() || len(assigned) != len(r.Devices)-countKind(f, Station) {
		t.Errorf("%d devices and %d assignments for a fleet of %d", len(r.Devices), len(assigned), f.Len())
	}

	// What the devices send credits the registry's patients: a station's payload names a
	// registered resident; a home device's names nobody, or its assigned patient, and the
	// directory credits the reading to the patient the device is assigned to.
	dir := devices.NewDirectory(1, r.Devices, r.Assignments, registryPatientIDs(r))
	for i, d := range f.Devices() {
		at := now.Add(time.Duration(i) * time.Second)
		for range 3 {
			var m wireMessage
			if err := json.Unmarshal(d.Telemetry(at), &m); err != nil {
				t.Fatal(err)
			}
			switch {
			case d.Kind == Station && !dir.HasPatient(m.Patient):
				t.Errorf("%s sent patient %q; not in the registry", d.ID, m.Patient)
			case d.Kind != Station && (m.Patient != "" && m.Patient != d.Patient || dir.PatientAt(d.ID, at) != d.Patient):
				t.Errorf("%s sent patient %q, directory says %q; want %s", d.ID, m.Patient, dir.PatientAt(d.ID, at), d.Patient)
			}
		}
	}

	if again := NewFleet(400, 9, DefaultMix()).Registry(now); !reflect.DeepEqual(r, again) {
		t.Errorf("two registries of seed 9 differ")
	}
	if small := NewFleet(10, 9, DefaultMix()).Registry(now); len(small.Sites) != 3 {
		t.Errorf("10 devices: %d sites; want 3", len(small.Sites))
	}
}

func registryPatientIDs(r *Registry) []string {
	var ids []string
	for _, p := range r.Patients {
		ids = append(ids, p.ID)
	}
	return ids
}

func patientTeam(r *Registry, id string) string {
	for _, p := range r.Patients {
		if p.ID == id {
			return p.TeamID
		}
	}
	return ""
}

func countKind(f *Fleet, k Kind) int {
	n := 0
	for _, d := range f.Devices() {
		if d.Kind == k {
			n++
		}
	}
	return n
}
