package reallocation

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Alternative is a centre where the residents booked on a faulty device can go instead.
type Alternative struct {
	Site       string
	DistanceKm float64
	Devices    int // working devices of the type there
	// SpareUsesPerDay is Rated x Devices - Demand: the uses a day the centre can still take.
	SpareUsesPerDay float64
}

// Alternatives lists the centres other than faultyCentre that have a working device of type typ
// with spare daily capacity (Rated x Devices - Demand > 0), nearest first (ties by site id).
// capacity holds the stock of every centre; entries of other types are ignored.
func Alternatives(faultyCentre string, typ devices.Kind, centres []Centre, capacity []Stock) ([]Alternative, error) {
	at := make(map[string]Centre, len(centres))
	for _, c := range centres {
		at[c.ID] = c
	}
	from, ok := at[faultyCentre]
	if !ok {
		return nil, fmt.Errorf("no centre %q", faultyCentre)
	}
	var out []Alternative
	for _, s := range capacity {
		if s.Type != typ || s.Site == faultyCentre || s.Devices <= 0 {
			continue
		}
		spare := s.Rated*float64(s.Devices) - max(s.Demand, 0)
		if !(spare > 0) {
			continue
		}
		c, ok := at[s.Site]
		if !ok {
			return nil, fmt.Errorf("stock %s/%s: no centre %q", s.Site, s.Type, s.Site)
		}
		out = append(out, Alternative{Site: s.Site, DistanceKm: from.Distance(c), Devices: s.Devices, SpareUsesPerDay: spare})
	}
	slices.SortFunc(out, func(a, b Alternative) int {
		return cmp.Or(cmp.Compare(a.DistanceKm, b.DistanceKm), cmp.Compare(a.Site, b.Site))
	})
	return out, nil
}
