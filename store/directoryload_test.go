package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// dirDump is what a directory holds, in a form to compare.
type dirDump struct {
	Version  int64
	Devices  []string
	Patients []string
	Sites    []string
}

func dumpDirectory(d *devices.Directory, siteIDs []string) dirDump {
	out := dirDump{Version: d.Version()}
	d.Devices(func(dev *devices.Device, as []devices.Assignment) bool {
		out.Devices = append(out.Devices, fmt.Sprintf("%+v %+v", *dev, as))
		return true
	})
	d.Patients(func(p *devices.Patient) bool {
		out.Patients = append(out.Patients, fmt.Sprintf("%+v %v", *p, d.HasPatient(p.ID)))
		return true
	})
	for _, id := range siteIDs {
		s, ok := d.Site(id)
		if ok {
			out.Sites = append(out.Sites, fmt.Sprintf("%+v %s", *s, d.Location(id)))
		}
	}
	slices.Sort(out.Devices)
	slices.Sort(out.Patients)
	return out
}

// testLoadDirectorySince makes random registry changes (devices registered, updated, lent,
// returned, given a new secret; patients registered, their plans changed, transferred with
// their devices; sites' zones changed) and checks after each that the directory brought from
// the last one by LoadDirectorySince is the one LoadDirectory reads.
func testLoadDirectorySince(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk := withClock(s)
	seed(t, s)
	rng := rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))
	siteIDs := []string{"s1", "s2"}
	teams := []string{"t1", "t2"}
	zones := []string{"Asia/Shanghai", "Europe/Berlin", ""}
	prev, err := s.LoadDirectory(ctx)
	must(t, "LoadDirectory", err)
	patients := []string{"p1", "p2", "p3"}
	homes := []string{"cuff-1", "cuff-2"}
	for round := range 40 {
		clk.advance(time.Hour)
		var err error
		what := ""
		switch rng.IntN(8) {
		case 0:
			what = "new device"
			id := fmt.Sprintf("h%02d", round)
			err = s.CreateDevice(asAdmin, devices.Device{ID: id, Kind: devices.BPCuff, SiteID: siteIDs[rng.IntN(2)], Mode: devices.Home,
				Status: devices.Active, SecretHash: "$7$101$c2FsdA==$a2V5" + id})
			if err == nil {
				homes = append(homes, id)
			}
		case 1:
			what = "device update"
			d, e := s.GetDevice(ctx, homes[rng.IntN(len(homes))])
			must(t, "GetDevice", e)
			d.Firmware = fmt.Sprint("fw", round)
			d.Status = []devices.Status{devices.Active, devices.Maintenance}[rng.IntN(2)]
			err = s.UpdateDevice(asAdmin, d)
		case 2, 3:
			what = "loan"
			id := homes[rng.IntN(len(homes))]
			if err = s.AssignDevice(asAdmin, id, patients[rng.IntN(len(patients))], clk.now()); err != nil {
				err = s.ReturnDevice(asAdmin, id, clk.now())
			}
		case 4:
			what = "secret"
			err = s.SetDeviceSecret(asAdmin, homes[rng.IntN(len(homes))], fmt.Sprint("$7$101$c2FsdA==$bmV3", round))
		case 5:
			what = "patient"
			if rng.IntN(2) == 0 {
				id := fmt.Sprintf("q%02d", round)
				if err = s.CreatePatient(asAdmin, devices.Patient{ID: id, TeamID: teams[rng.IntN(2)]}); err == nil {
					patients = append(patients, id)
				}
			} else {
				err = s.SetPatientPlans(asAdmin, patients[rng.IntN(len(patients))], []string{fmt.Sprint("plan ", round)})
			}
		case 6:
			what = "transfer"
			err = s.TransferPatient(asAdmin, patients[rng.IntN(len(patients))], teams[rng.IntN(2)], devices.PolicyTravel, clk.now())
		default:
			what = "zone"
			site := site1
			if rng.IntN(2) == 0 {
				site = site2
			}
			site.TimeZone = zones[rng.IntN(len(zones))]
			err = s.UpdateSite(asAdmin, site)
		}
		if err != nil {
			t.Logf("round %d: %s refused: %v", round, what, err)
		}
		got, err := s.LoadDirectorySince(ctx, prev)
		must(t, "LoadDirectorySince", err)
		want, err := s.LoadDirectory(ctx)
		must(t, "LoadDirectory", err)
		if g, w := dumpDirectory(got, siteIDs), dumpDirectory(want, siteIDs); !reflect.DeepEqual(g, w) {
			t.Fatalf("round %d, after a %s: the directory brought from the last one\n%+v\nwant\n%+v", round, what, g, w)
		}
		prev = got
	}
	// What did not change is the old directory's: a device changed behind the store's back
	// (the same counts) stays as the old directory has it.
	d, _ := prev.Device("cuff-2")
	fake := *d
	fake.Firmware = "not the store's"
	behind := prev.Amend(prev.Version(), []string{"cuff-2"}, []devices.Device{fake}, prev.Assignments("cuff-2"), nil, nil,
		[]devices.Site{site1, site2})
	got, err := s.LoadDirectorySince(ctx, behind)
	must(t, "LoadDirectorySince(behind)", err)
	if d, _ := got.Device("cuff-2"); d.Firmware != fake.Firmware {
		t.Errorf("cuff-2's firmware = %q; want the old directory's %q: the registry was read whole", d.Firmware, fake.Firmware)
	}
	// A directory that is not what the store held (a device missing) is read again whole.
	partial := devices.NewDirectory(prev.Version(), nil, nil, nil)
	got, err = s.LoadDirectorySince(ctx, partial)
	must(t, "LoadDirectorySince(partial)", err)
	if got.Len() != prev.Len() {
		t.Errorf("from a directory missing devices: %d devices; want %d", got.Len(), prev.Len())
	}
}
