package usage

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/vitalwatch/vitalwatch/devices"
)

// By is how figures are rolled up.
type By int

// Roll-ups. A type is a device kind at a site, station and home devices together; a site is all
// its kinds together; a district is one kind across the district's sites, because a district
// figure is read to see whether the district as a whole has enough devices of a kind or only
// needs to move them between its centres.
const (
	ByDevice   By = iota // each device at each site: the figures as computed
	ByType               // site and kind
	BySite               // site, all kinds
	ByDistrict           // district and kind
)

var byNames = [...]string{ByDevice: "device", ByType: "type", BySite: "site", ByDistrict: "district"}

func (b By) String() string {
	if b < 0 || int(b) >= len(byNames) {
		return "unknown"
	}
	return byNames[b]
}

// ParseBy reads a roll-up name: device, type, site or district.
func ParseBy(s string) (By, error) {
	for i, name := range byNames {
		if s == name {
			return By(i), nil
		}
	}
	return 0, fmt.Errorf("roll-up %q is not one of %s", s, strings.Join(byNames[:], ", "))
}

// rollKey is a roll-up group: a month, a site or district, and a kind ("" for all kinds).
type rollKey struct {
	month Month
	place string
	kind  devices.Kind
}

// Rollup sums figures by month and by: Used, Capacity, DaysInService, ServiceDays and
// Uncounted add up, and Utilisation is Σ Used / Σ Capacity (0 without capacity). Devices counts
// the devices of the group in the month, taking the figures to be one per device, site and
// month as Compute returns them: a device that was at two sites of a district counts once in
// the district. A figure that is already rolled up (no Device) adds its Devices. The fields by
// sums away are empty: ByType keeps Site, District and Kind; BySite keeps Site and District;
// ByDistrict keeps District and Kind. ByDevice, or a By not listed, returns a copy of figs.
// The result is ordered by month, then site (district for ByDistrict), then kind.
func Rollup(figs []Figure, by By) []Figure {
	if by == ByDevice || by < 0 || int(by) >= len(byNames) {
		return slices.Clone(figs)
	}
	if by == ByDistrict && !slices.IsSortedFunc(figs, byMonth) {
		// Counting a device once in a district needs a month's figures together.
		figs = slices.Clone(figs)
		slices.SortStableFunc(figs, byMonth)
	}
	r := NewRoller(by)
	for i := range figs {
		r.Add(&figs[i])
	}
	return r.Figures()
}

func byMonth(a, b Figure) int {
	return cmp.Or(cmp.Compare(a.Month.Year, b.Month.Year), cmp.Compare(a.Month.Month, b.Month.Month))
}

// Roller sums figures one at a time as Rollup does, for figures that are not all kept: those
// of ComputeEach. By ByDistrict, a month's figures must come together (as ComputeEach gives
// them). Create it with NewRoller.
type Roller struct {
	by     By
	groups map[rollKey]int32
	seen   map[string]seenAt // each device's first group in its month
	others map[seenElse]bool // a device's other groups in its month (rare: a device that moved)
	// seenDev is seen for a single month's figures whose devices are numbered (a computation's
	// roll-up, a month at a time): each device's first group, plus one (0: none yet).
	seenDev []int32
	// Figures in Compute's order come a site at a time: the groups of the current month and
	// place are looked up in a short list before the map.
	near      []recent
	nearMonth Month
	nearPlace string
	out       []Figure
}

type seenAt struct {
	month Month
	group int32
}

type seenElse struct {
	device string
	seen   seenAt
}

type recent struct {
	kind  devices.Kind
	group int32
}

// NewRoller returns a Roller by by, which must be ByType, BySite or ByDistrict.
func NewRoller(by By) *Roller {
	return &Roller{by: by, groups: map[rollKey]int32{}, seen: map[string]seenAt{}, others: map[seenElse]bool{}}
}

// Add adds f to its group.
func (r *Roller) Add(f *Figure) { r.add(f, -1) }

// add adds f to its group; dev is its device's number in r.seenDev, or -1 when it has none.
func (r *Roller) add(f *Figure, dev int32) {
	by := r.by
	k := rollKey{month: f.Month, place: f.Site, kind: f.Kind}
	switch by {
	case BySite:
		k.kind = ""
	case ByDistrict:
		k.place = f.District
	}
	if k.month != r.nearMonth || k.place != r.nearPlace {
		r.nearMonth, r.nearPlace, r.near = k.month, k.place, r.near[:0]
	}
	g, ok := int32(-1), false
	for _, n := range r.near {
		if n.kind == k.kind {
			g, ok = n.group, true
			break
		}
	}
	if !ok {
		if g, ok = r.groups[k]; !ok {
			g = int32(len(r.out))
			r.groups[k] = g
			o := Figure{Month: f.Month, Site: f.Site, District: f.District, Kind: f.Kind}
			switch by {
			case BySite:
				o.Kind = ""
			case ByDistrict:
				o.Site = ""
			}
			r.out = append(r.out, o)
		}
		if len(r.near) < 16 {
			r.near = append(r.near, recent{k.kind, g})
		}
	}
	o := &r.out[g]
	o.DaysInService += f.DaysInService
	o.ServiceDays += f.ServiceDays
	o.Used += f.Used
	o.Capacity += f.Capacity
	o.Uncounted += f.Uncounted
	if f.Device == "" {
		o.Devices += f.Devices
		return
	}
	if by != ByDistrict {
		o.Devices++ // a device has one figure per site and month
		return
	}
	if dev >= 0 {
		switch at := r.seenDev[dev]; {
		case at == 0:
			r.seenDev[dev] = g + 1
			o.Devices++
		case at-1 != g && !r.others[seenElse{f.Device, seenAt{f.Month, g}}]:
			r.others[seenElse{f.Device, seenAt{f.Month, g}}] = true
			o.Devices++
		}
		return
	}
	switch at, ok := r.seen[f.Device]; {
	case !ok || at.month != f.Month:
		r.seen[f.Device] = seenAt{f.Month, g}
		o.Devices++
	case at.group != g && !r.others[seenElse{f.Device, seenAt{f.Month, g}}]:
		r.others[seenElse{f.Device, seenAt{f.Month, g}}] = true
		o.Devices++
	}
}

// Figures returns the groups' figures, ordered by month, then site (district for ByDistrict),
// then kind.
func (r *Roller) Figures() []Figure { return sortRolled(r.out) }

// sortRolled sets the utilisation of rolled-up figures and orders them as Roller.Figures.
func sortRolled(out []Figure) []Figure {
	for i := range out {
		if out[i].Capacity > 0 {
			out[i].Utilisation = out[i].Used / out[i].Capacity
		}
	}
	slices.SortFunc(out, func(a, b Figure) int {
		return cmp.Or(byMonth(a, b), strings.Compare(a.Site, b.Site), strings.Compare(a.District, b.District),
			cmp.Compare(a.Kind, b.Kind))
	})
	return out
}
