package simulators

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Scenario shapes how busy each centre of a fleet is, so that utilisation (docs/design.md
// "Utilisation and reallocation") tells idle centres from overloaded ones, and names a station
// that fails. It decides how many stations each centre has and how often every device measures;
// a fleet built with it is still a pure function of its size, seed, mix and scenario.
type Scenario struct {
	Name string
	// Centres are the fleet's centres, one for each of the simulated centres in order
	// (site-01, site-02, ...); there are at most as many as those.
	Centres []CentreProfile
	// RatedUsesPerDay is the rated capacity of the scenario's stations.
	RatedUsesPerDay int
	// Shaped are the home kinds whose use follows their centre's Load, as the stations'
	// does; every other home device is used on OtherLoad of the days it is lent.
	Shaped    []Kind
	OtherLoad float64
	// Failing is the index in Centres of the centre whose last station fails near the end of
	// a history (see Backlog); -1 for none.
	Failing int
}

// CentreProfile is one centre of a Scenario.
type CentreProfile struct {
	// Load is the share of capacity its residents use: of a station's rated uses a day, and
	// of the days a shaped home device is lent (at most all of them).
	Load float64
	// Stations is how many stations the centre has in a fleet of up to 149 devices; a larger
	// fleet has that many per hundred devices (rounded).
	Stations int
}

// Utilisation bands of the reallocation rule (docs/domain.md "Utilisation"): below Low for three
// months a centre has devices to spare, above High it is short of them.
const (
	bandLow  = 0.60
	bandHigh = 0.90
)

// Level names the band of the profile's load: idle, normal or overloaded.
func (c CentreProfile) Level() string {
	switch {
	case c.Load < bandLow:
		return "idle"
	case c.Load > bandHigh:
		return "overloaded"
	}
	return "normal"
}

// Reallocation is the scenario of the demo: six centres, two idle with several stations each,
// two overloaded with one station each, two normal, and a failing station at a normal centre.
// The reallocation planner should propose to move spare stations and blood-pressure cuffs from
// the idle centres to the overloaded ones.
//
// Stations are rated 48 uses a day (a resident every 12 minutes over 9 opening hours, as the
// default fleet's): with 13 stations at these loads a history of 130 days is about 50,000
// station messages.
func Reallocation() *Scenario {
	return &Scenario{
		Name: "reallocation",
		Centres: []CentreProfile{
			{Load: 0.35, Stations: 4}, // site-01 Hongpailou: idle
			{Load: 1.25, Stations: 1}, // site-02 Shahe: overloaded
			{Load: 0.75, Stations: 2}, // site-03 Zhonghe: normal, with the failing station
			{Load: 1.30, Stations: 1}, // site-04 Guixi: overloaded
			{Load: 0.30, Stations: 3}, // site-05 Shiyang: idle
			{Load: 0.80, Stations: 2}, // site-06 Huayang: normal
		},
		RatedUsesPerDay: StationRatedUsesPerDay,
		Shaped:          []Kind{BPCuff},
		OtherLoad:       0.75,
		Failing:         2,
	}
}

// Scenarios are the scenarios that LookupScenario knows, by name.
func Scenarios() []*Scenario { return []*Scenario{Reallocation()} }

// LookupScenario returns the scenario called name.
func LookupScenario(name string) (*Scenario, error) {
	var names []string
	for _, sc := range Scenarios() {
		if sc.Name == name {
			return sc, nil
		}
		names = append(names, sc.Name)
	}
	return nil, fmt.Errorf("scenario: unknown scenario %q (scenarios: %s)", name, strings.Join(names, ", "))
}

// Validate reports a scenario that cannot shape a fleet.
func (sc *Scenario) Validate() error {
	switch {
	case len(sc.Centres) == 0 || len(sc.Centres) > len(centres()):
		return fmt.Errorf("scenario %s: %d centres; want 1-%d", sc.Name, len(sc.Centres), len(centres()))
	case sc.RatedUsesPerDay < 1:
		return fmt.Errorf("scenario %s: stations rated %d uses a day; want at least 1", sc.Name, sc.RatedUsesPerDay)
	case !(sc.OtherLoad > 0 && sc.OtherLoad <= 1):
		return fmt.Errorf("scenario %s: other load %v; want a share in (0, 1]", sc.Name, sc.OtherLoad)
	case sc.Failing >= len(sc.Centres) || sc.Failing >= 0 && sc.Centres[sc.Failing].Stations == 0:
		return fmt.Errorf("scenario %s: failing centre %d has no station", sc.Name, sc.Failing)
	}
	for i, c := range sc.Centres {
		if !(c.Load > 0) || c.Stations < 0 {
			return fmt.Errorf("scenario %s: centre %d: load %v and %d stations; want a positive load", sc.Name, i+1, c.Load, c.Stations)
		}
	}
	for _, k := range sc.Shaped {
		if !k.Valid() || k == Station {
			return fmt.Errorf("scenario %s: shaped kind %q is not a home kind", sc.Name, k)
		}
	}
	return nil
}

// MinDevices is the smallest fleet the scenario makes sense for: its stations, and as many
// home devices again.
func (sc *Scenario) MinDevices() int { return 2 * sc.stationCount(1) }

// stationScale is how many times each centre's Stations a fleet of n devices has.
func stationScale(n int) int { return max(1, (n+50)/100) }

func (sc *Scenario) stationCount(n int) int {
	total := 0
	for _, c := range sc.Centres {
		total += c.Stations * stationScale(n)
	}
	return total
}

// stationSites is the centre of each station of a fleet of n devices, in the order of their
// ids: each centre's stations together, centres in order. A fleet smaller than the scenario's
// stations gets the first n.
func (sc *Scenario) stationSites(n int) []int {
	var sites []int
	for i, c := range sc.Centres {
		for range c.Stations * stationScale(n) {
			sites = append(sites, i)
		}
	}
	return sites[:min(len(sites), n)]
}

// homeShare is the share of days a home device of kind k at centre c is used.
func (sc *Scenario) homeShare(k Kind, c int) float64 {
	if slices.Contains(sc.Shaped, k) {
		return min(sc.Centres[c].Load, 1)
	}
	return sc.OtherLoad
}

// stationUses is the mean number of uses a day of a station at centre c.
func (sc *Scenario) stationUses(c int) float64 {
	return sc.Centres[c].Load * float64(sc.RatedUsesPerDay)
}

// residentsFor is how many residents use a station with uses a day: about one visit each a
// day, as their daily care plans ask.
func residentsFor(uses, u float64) int {
	return max(8, int(math.Round(uses*(0.8+0.4*u))))
}

// withoutStations is m with no weight for stations, or DefaultMix's home kinds when m has no
// other kind.
func (m Mix) withoutStations() Mix {
	out := Mix{}
	for k, w := range m {
		if k != Station && k.Valid() {
			out[k] = w
		}
	}
	if out.total() == 0 {
		return DefaultMix().withoutStations()
	}
	return out
}
