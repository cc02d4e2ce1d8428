package usage

import (
	"slices"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Patch returns a computation like x, which must have no uses added yet, in which the devices
// named by ids have the registry values, periods and assignments of in instead of those x was
// started with: what NewComputation would give with the same input but those devices' parts
// replaced. in holds only those devices (ids that are not in in.Devices are gone), their
// periods and assignments, and every site. x is left as it is, and returned when there is
// nothing to patch.
//
// A registry change mostly touches a few devices (a loan, a repair, a move), so a computation
// started over a city's devices is patched for them rather than started anew. Patch returns
// nil when it cannot: a device that is new to the computation or has left it, or a site whose
// zone or district is not the one x was started with; start anew then.
func (x *Computation) Patch(ids []string, in Input) *Computation {
	c0 := x.c
	if c0 == nil {
		return x
	}
	seen := make(map[string]bool, len(in.Sites))
	for _, s := range in.Sites {
		if seen[s.ID] {
			continue // the first of an id counts, as in NewComputation
		}
		seen[s.ID] = true
		i, ok := c0.siteIdx[s.ID]
		if !ok || int(i) >= c0.listed || c0.sites[i].zone != s.TimeZone || c0.sites[i].district != s.District {
			return nil
		}
	}
	if len(seen) != c0.listed {
		return nil
	}
	if len(ids) == 0 {
		return x // nothing to patch: x serves as it is
	}
	next := make(map[string]*devices.Device, len(in.Devices))
	for i := range in.Devices {
		next[in.Devices[i].ID] = &in.Devices[i]
	}
	changed := false // a registry value the figures read
	for _, id := range ids {
		dev, was := c0.devIdx[id]
		d, is := next[id]
		if was != is {
			return nil
		}
		if !is {
			continue
		}
		old := &c0.in.Devices[dev]
		if old.Kind != d.Kind || old.Mode != d.Mode || old.RatedUsesPerDay != d.RatedUsesPerDay {
			changed = true
		}
	}
	y := x.Clone()
	c := y.c
	if changed {
		in2 := *c0.in
		in2.Devices = slices.Clone(in2.Devices)
		c.in = &in2
		c.home = slices.Clone(c.home)
	}
	w := c.cal.words
	n := len(c.cal.months)
	for _, d := range next {
		dev := c.devIdx[d.ID]
		if changed {
			c.in.Devices[dev] = *d
			c.home[dev] = d.Mode == devices.Home
		}
		for i := c.first[dev]; i >= 0; i = c.slots[i].next {
			clear(c.days[int(i)*3*w : (int(i)+1)*3*w])
			clear(c.uses[int(i)*n : (int(i)+1)*n])
			clear(c.other[int(i)*n : (int(i)+1)*n])
		}
	}
	ps := slices.DeleteFunc(slices.Clone(in.Periods), func(p devices.Period) bool { return next[p.DeviceID] == nil })
	as := slices.DeleteFunc(slices.Clone(in.Assignments), func(a devices.Assignment) bool { return next[a.DeviceID] == nil })
	c.addPeriods(ps)
	c.addAssignments(as)
	c.sorted = &sortedSlots{n: len(c.slots)}
	return y
}
