package simulators

import (
	"math"
	"time"
)

// Repair is a device's time under repair in a history of a scenario fleet (Fleet.Repairs): it
// reports its fault flag on every reading from Fault, is put under maintenance at From and
// sends nothing until Until, when it is active again.
type Repair struct {
	Device string
	Site   string
	Kind   Kind
	Fault  time.Time // its first reading flagged with the fault
	From   time.Time // under maintenance: it stops sending
	Until  time.Time // back in service
}

// Duration is the repair's turnaround: from maintenance to active again.
func (r Repair) Duration() time.Duration { return r.Until.Sub(r.From) }

// FaultFlag is the device status flag (docs/device-contract.md "Flags") that a device of kind k
// reports on its readings while it fails: a station's or a CGM's sensor_malfunction
// (FailureFlag), an oximeter's equipment_malfunction, device_fault otherwise. Each is one of the
// error flags of the repeated_errors rule.
func FaultFlag(k Kind) string {
	switch k {
	case Station, CGM:
		return FailureFlag
	case Oximeter:
		return "equipment_malfunction"
	}
	return "device_fault"
}

// The failures of a history (Fleet.Repairs).
const (
	// failEvery is how often a station fails, somewhere in the fleet: one every failEvery days,
	// give or take failJitter. A centre's only station is picked less often (aloneWeight than a
	// station with others beside it), so that the overloaded centres' residents are seldom
	// turned away.
	failEvery   = 6
	failJitter  = 3
	aloneWeight = 0.3
	// repairRest is how long a repaired station works at least before it fails again.
	repairRest = 14 * 24 * time.Hour
	// repairsEndBefore is how many local days before the end of a history every repair is
	// over: the scenario's failing station has the last days to itself.
	repairsEndBefore = failDaysBefore + 2
	// longRepairAfter is the day of a history from which the first failure at a centre of three
	// stations or more waits long for its part (longRepairDays, and up to 8 more).
	longRepairAfter = 14
	longRepairDays  = 16
	// homeRepairDays is how long the history's one home device under repair is away, from the
	// middle of the history; it reports its fault from homeFaultLead before.
	homeRepairDays = 6
	homeFaultLead  = 30 * time.Hour
)

// repairDays are the lengths of a station's repair in days (from the day it fails to the day it
// is back), with their weights: most are back within a few days, some wait over a week.
var repairDays = []struct {
	days   int
	weight float64
}{{1, 0.2}, {2, 0.2}, {3, 0.15}, {4, 0.15}, {5, 0.1}, {6, 0.07}, {7, 0.05}, {8, 0.04}, {9, 0.02}, {10, 0.02}}

// Repairs are the failures of a history of a scenario fleet over [from, to), in order of their
// start: a function of the fleet's seed and the history's days, so that the registry export and
// the history agree (the default fleet has none).
//
// About every failEvery days a station fails: one of the working stations but the scenario's
// failing one, at a centre with none under repair, and not within two weeks of its last repair. It
// fails during opening hours: its readings carry FailureFlag for 2-3 hours, then it goes under
// maintenance and stops, and it is back 1 to 10 days later (repairDays) at a morning hour. The
// first failure after the history's first two weeks at a centre of three stations or more takes
// 16 to 24 days. While a station is away its residents go to the centre's other stations, as
// many as their rated uses a day allow (Backlog); a centre's only station sends them elsewhere.
// One home device, the first glucose meter, fails in the middle of the history for
// homeRepairDays. Every repair is over repairsEndBefore days before to.
func (f *Fleet) Repairs(from, to time.Time) []Repair {
	if f.scenario == nil {
		return nil
	}
	zone := localZone()
	day0 := midnight(from.In(zone))
	end := midnight(to.In(zone)).AddDate(0, 0, -repairsEndBefore)
	stationsAt := map[int]int{}
	for _, d := range f.devices {
		if d.Kind == Station {
			stationsAt[d.site]++
		}
	}
	var out []Repair
	rested := map[*Device]time.Time{} // when each station may fail again
	away := map[int]time.Time{}       // per centre: until when one of its stations is away
	long := false
	for slot := 0; ; slot++ {
		key := splitmix64(uint64(f.Seed)^0x7265_7061_6972) ^ uint64(slot) // "repair"
		day := day0.AddDate(0, 0, 2+slot*failEvery+int(unitOf(key, 0)*(failJitter+1)))
		if !day.Before(end) {
			break
		}
		var eligible []*Device
		var weights []float64
		total := 0.0
		for _, d := range f.devices {
			if d.Kind != Station || d == f.failing || day.Before(rested[d]) || day.Before(away[d.site]) {
				continue
			}
			w := 1.0
			if stationsAt[d.site] == 1 {
				w = aloneWeight
			}
			eligible, weights, total = append(eligible, d), append(weights, w), total+w
		}
		if len(eligible) == 0 {
			continue
		}
		pick, u := 0, unitOf(key, 1)*total
		for pick < len(eligible)-1 && u >= weights[pick] {
			u -= weights[pick]
			pick++
		}
		d := eligible[pick]
		days := pickRepairDays(unitOf(key, 2))
		if !long && stationsAt[d.site] >= 3 && day.Sub(day0) >= longRepairAfter*24*time.Hour {
			days, long = longRepairDays+int(unitOf(key, 3)*9), true
		}
		fault := day.Add(hours(9 + 6*unitOf(key, 4)))
		r := Repair{Device: d.ID, Site: f.Site(d), Kind: d.Kind, Fault: fault,
			From:  fault.Add(hours(2 + unitOf(key, 5))),
			Until: day.AddDate(0, 0, days).Add(hours(8 + 3*unitOf(key, 6)))}
		if !r.Until.Before(end) {
			continue
		}
		out = append(out, r)
		rested[d], away[d.site] = r.Until.Add(repairRest), r.Until
	}
	if home := f.homeRepair(day0, end); home != nil {
		out = append(out, *home)
	}
	sortRepairs(out)
	return out
}

// unitOf is a number in [0, 1) that depends only on key and purpose.
func unitOf(key uint64, purpose int) float64 {
	return float64(splitmix64(key^splitmix64(uint64(purpose)+1))>>11) / (1 << 53)
}

// homeRepair is the home device that fails in the middle of the history, or nil when the
// history is too short or the fleet has no glucose meter.
func (f *Fleet) homeRepair(day0, end time.Time) *Repair {
	days := int(math.Round(end.Sub(day0).Hours() / 24))
	if days < 4*homeRepairDays {
		return nil
	}
	for _, d := range f.devices {
		if d.Kind != GlucoseMeter {
			continue
		}
		day := day0.AddDate(0, 0, days/2)
		from := day.Add(hours(11 + 2*d.unit(uint64(day.Unix()), 0, 11)))
		return &Repair{Device: d.ID, Site: f.Site(d), Kind: d.Kind, Fault: from.Add(-homeFaultLead), From: from,
			Until: day.AddDate(0, 0, homeRepairDays).Add(hours(9 + 2*d.unit(uint64(day.Unix()), 1, 11)))}
	}
	return nil
}

func pickRepairDays(u float64) int {
	for _, r := range repairDays {
		if u < r.weight {
			return r.days
		}
		u -= r.weight
	}
	return repairDays[len(repairDays)-1].days
}

func sortRepairs(rs []Repair) {
	for i := 1; i < len(rs); i++ { // few: insertion sort keeps equal starts in order
		for j := i; j > 0 && rs[j].From.Before(rs[j-1].From); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

// hours is h hours, to the minute.
func hours(h float64) time.Duration {
	return time.Duration(h * float64(time.Hour)).Truncate(time.Minute)
}
