package fleet

import (
	"cmp"
	"context"
	"math/bits"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/usage"
)

// DeviceDays is one device's use at one centre on each local day of a month: the day-by-day
// detail behind its monthly utilisation.
type DeviceDays struct {
	Device string
	Site   string
	Kind   devices.Kind
	Mode   devices.Mode
	// Rated is the rated uses per day of a station device (the registry's current value).
	Rated int
	// Days are the days of the month, in order, in the centre's time zone.
	Days []DayUse
}

// DayUse is a device's use on one local day.
type DayUse struct {
	Day  usage.Day
	Uses int
	// InService is whether the device was active at the centre for any part of the day: a day
	// that counts towards its utilisation.
	InService bool
	// Lent is, for a home device, whether it was lent to a patient for any part of the day.
	Lent bool
}

// Days returns the use of every device in scope on each day of month at each centre it was
// at, ordered by centre and device. A device appears at a centre where it was in service on a
// day of the month or where it was used; the days after today are not in service.
func (r *Reports) Days(ctx context.Context, month usage.Month, scope Scope) ([]DeviceDays, error) {
	sites, err := r.store.AllSites(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := r.directory(ctx)
	if err != nil {
		return nil, err
	}
	zones := map[string]*time.Location{}
	for _, s := range sites {
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil || s.TimeZone == "" {
			loc = time.UTC
		}
		zones[s.ID] = loc
	}
	zone := func(site string) *time.Location {
		if loc, ok := zones[site]; ok {
			return loc
		}
		return time.UTC
	}
	type key struct{ device, site string }
	rows := map[key]*DeviceDays{}
	devs := map[string]*devices.Device{}
	lent := map[string][]devices.Assignment{}
	dir.Devices(func(d *devices.Device, as []devices.Assignment) bool {
		if scope.Kind == "" || d.Kind == scope.Kind {
			devs[d.ID] = d
			lent[d.ID] = as
		}
		return true
	})
	n := daysIn(month)
	row := func(device, site string) *DeviceDays {
		k := key{device, site}
		if x, ok := rows[k]; ok {
			return x
		}
		d := devs[device]
		x := &DeviceDays{Device: device, Site: site, Kind: d.Kind, Mode: d.Mode, Rated: d.RatedUsesPerDay, Days: make([]DayUse, n)}
		loc := zone(site)
		for i := range x.Days {
			x.Days[i].Day = usage.DayOf(time.Date(month.Year, month.Month, i+1, 12, 0, 0, 0, loc), loc)
		}
		rows[k] = x
		return x
	}
	// dayRange is the instants of day i (0-based) of the month in loc.
	dayRange := func(i int, loc *time.Location) (time.Time, time.Time) {
		from := time.Date(month.Year, month.Month, i+1, 0, 0, 0, 0, loc)
		return from, time.Date(month.Year, month.Month, i+2, 0, 0, 0, 0, loc)
	}
	// Widen by a day on each side: local days reach up to 14 hours either side of UTC.
	start := time.Date(month.Year, month.Month, 1, 0, 0, 0, 0, time.UTC).Add(-24 * time.Hour)
	end := time.Date(month.Year, month.Month+1, 1, 0, 0, 0, 0, time.UTC).Add(24 * time.Hour)
	periods, err := r.allPeriods(ctx, dir)
	if err != nil {
		return nil, err
	}
	now := r.now()
	for _, p := range periods {
		if devs[p.DeviceID] == nil || p.Status != devices.Active || !scope.hasSite(p.SiteID) || !p.From.Before(now) ||
			!p.From.Before(end) || !p.Until.IsZero() && !p.Until.After(start) {
			continue
		}
		if p.Until.IsZero() || p.Until.After(now) {
			p.Until = now // no day after now is in service yet
		}
		loc := zone(p.SiteID)
		var x *DeviceDays
		for i := range n {
			from, to := dayRange(i, loc)
			if !p.Overlaps(from, to) {
				continue
			}
			if x == nil {
				x = row(p.DeviceID, p.SiteID)
			}
			x.Days[i].InService = true
			if x.Mode == devices.Home {
				for _, a := range lent[p.DeviceID] {
					if a.From.Before(to) && (a.Until.IsZero() || a.Until.After(from)) && a.From.Before(now) {
						x.Days[i].Lent = true
					}
				}
			}
		}
	}
	months, err := r.store.MonthUses(ctx, usage.MonthQuery{From: month, To: month, Sites: scope.Sites})
	if err != nil {
		return nil, err
	}
	for _, m := range months {
		if devs[m.Device] == nil || !scope.hasSite(m.Site) || m.Month != month {
			continue
		}
		x := row(m.Device, m.Site)
		i := 0
		for days := m.Days; days != 0 && i < len(m.Uses); days &= days - 1 {
			if d := bits.TrailingZeros32(days); d < n {
				x.Days[d].Uses += int(m.Uses[i])
			}
			i++
		}
	}
	out := make([]DeviceDays, 0, len(rows))
	for _, x := range rows {
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b DeviceDays) int { return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Device, b.Device)) })
	return out, nil
}

// daysIn is the number of days of month.
func daysIn(m usage.Month) int {
	return time.Date(m.Year, m.Month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
