package usage

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// TestPatch makes random registry changes to a few devices of a city (a repair, a move, a loan
// or a return, a retirement, a new rated capacity or mode) and checks that the computation
// started before them and patched for those devices gives, with the same uses added, the
// figures of a computation started anew; and that Patch refuses a device that is new or gone,
// and a site whose zone changed.
func TestPatch(t *testing.T) {
	base, _, to := city(12, 20)
	from := to.Prev().Prev()
	months := monthsOf(base.Counts, from, to)
	base.Counts = nil
	rng := rand.New(rand.NewPCG(5, 6))
	when := func() time.Time {
		return utc("2025-09-20T00:00:00Z").Add(time.Duration(rng.IntN(100*24)) * time.Hour)
	}
	addAll := func(x *Computation) []string {
		for _, m := range months {
			x.AddMonth([]byte(m.Device), m.Site, m.Month, m.Days, m.Uses)
		}
		return figureLines(x.Figures())
	}
	started := NewComputation(base, from, to)
	pristine := addAll(started.Clone())
	in := base
	for round := range 30 {
		next := Input{Sites: in.Sites, Devices: slices.Clone(in.Devices), Periods: slices.Clone(in.Periods), Assignments: slices.Clone(in.Assignments)}
		var ids []string
		for range 1 + rng.IntN(4) {
			i := rng.IntN(len(next.Devices))
			d := &next.Devices[i]
			if !slices.Contains(ids, d.ID) {
				ids = append(ids, d.ID)
			}
			// The device's open period ends at at; what follows depends on the change.
			at := when()
			open := slices.IndexFunc(next.Periods, func(p devices.Period) bool { return p.DeviceID == d.ID && p.Until.IsZero() })
			if open >= 0 && next.Periods[open].From.After(at) {
				at = next.Periods[open].From
			}
			place := func(site string, st devices.Status) {
				if open >= 0 {
					next.Periods[open].Until = at
				}
				next.Periods = append(next.Periods, devices.Period{DeviceID: d.ID, SiteID: site, Status: st, From: at})
				d.SiteID, d.Status = site, st
			}
			switch rng.IntN(6) {
			case 0:
				place(d.SiteID, devices.Maintenance)
			case 1:
				place(next.Sites[rng.IntN(len(next.Sites))].ID, devices.Active)
			case 2:
				place(d.SiteID, devices.Retired)
			case 3:
				d.RatedUsesPerDay = 10 + rng.IntN(30)
			case 4:
				if d.Mode == devices.Home {
					d.Mode = devices.StationMode
					d.RatedUsesPerDay = 25
				} else {
					d.Mode = devices.Home
				}
			default:
				// A loan ends, or a new one starts.
				open := slices.IndexFunc(next.Assignments, func(a devices.Assignment) bool { return a.DeviceID == d.ID && a.Until.IsZero() })
				if open >= 0 && next.Assignments[open].From.Before(at) {
					next.Assignments[open].Until = at
				} else if open < 0 {
					next.Assignments = append(next.Assignments, devices.Assignment{DeviceID: d.ID, PatientID: fmt.Sprint("r", round), From: at})
				}
			}
		}
		slices.SortFunc(next.Periods, func(a, b devices.Period) int {
			if a.DeviceID != b.DeviceID {
				return strings.Compare(a.DeviceID, b.DeviceID)
			}
			return a.From.Compare(b.From)
		})
		slices.Sort(ids)
		part := Input{Sites: next.Sites}
		for _, d := range next.Devices {
			if slices.Contains(ids, d.ID) {
				part.Devices = append(part.Devices, d)
			}
		}
		for _, p := range next.Periods {
			if slices.Contains(ids, p.DeviceID) {
				part.Periods = append(part.Periods, p)
			}
		}
		for _, a := range next.Assignments {
			if slices.Contains(ids, a.DeviceID) {
				part.Assignments = append(part.Assignments, a)
			}
		}
		patched := started.Patch(ids, part)
		if patched == nil {
			t.Fatalf("round %d: Patch(%v) refused changes it can make", round, ids)
		}
		want := addAll(NewComputation(next, from, to))
		if got := addAll(patched.Clone()); !slices.Equal(got, want) {
			t.Fatalf("round %d: patched for %v: the figures differ from a computation started anew:\n%s", round, ids, firstDiff(got, want))
		}
		started, in = patched, next
	}
	if got := figureLines(NewComputation(base, from, to).Figures()); len(got) == 0 || slices.Equal(addAll(started.Clone()), pristine) {
		t.Errorf("the changes changed no figure; the test tests nothing")
	}

	// What Patch cannot do.
	gone := Input{Sites: in.Sites}
	if started.Patch([]string{in.Devices[0].ID}, gone) != nil {
		t.Errorf("Patch of a device gone = a computation; want nil")
	}
	fresh := Input{Sites: in.Sites, Devices: []devices.Device{stationDevice("zz-new", devices.Scale, 20)}}
	if started.Patch([]string{"zz-new"}, fresh) != nil {
		t.Errorf("Patch of a new device = a computation; want nil")
	}
	moved := Input{Sites: slices.Clone(in.Sites)}
	moved.Sites[0].TimeZone = "America/New_York"
	if started.Patch(nil, moved) != nil {
		t.Errorf("Patch with a site in another zone = a computation; want nil")
	}
	if started.Patch(nil, Input{Sites: in.Sites}) == nil {
		t.Errorf("Patch of nothing = nil; want a computation")
	}
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("line %d: got  %s\n         want %s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(got), len(want))
}
