// Package reallocation decides which centres have devices of a type to spare and which are short
// of them, plans the moves that meet as much shortage as possible at the least total distance,
// and lists where the residents of a faulty device can go instead. It is pure logic: the store,
// the usage counters and the HTTP API feed it values and act on its answers.
package reallocation

import (
	"fmt"
	"math"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Thresholds are the rule from practice (docs/domain.md, "Utilisation"): a device type at a
// centre whose utilisation stayed below Low for the last Months consecutive months has devices to
// spare; one above High last month is short; Target is the utilisation the right number of
// devices gives.
type Thresholds struct {
	Low    float64 // e.g. 0.60: below it for Months months is spare; exactly Low is not
	High   float64 // e.g. 0.90: above it last month is short; exactly High is not
	Months int     // e.g. 3
	Target float64 // e.g. 0.75
	// Growth flags a centre needing more devices of a plan's kinds when its patients on the
	// plan grew by more than this share over twelve months (e.g. 0.20); 0 is off.
	Growth float64
}

// DefaultThresholds returns 60% for 3 months, 90%, and a 75% target.
func DefaultThresholds() Thresholds {
	return Thresholds{Low: 0.60, High: 0.90, Months: 3, Target: 0.75, Growth: 0.20}
}

// Validate reports thresholds that cannot be applied: they must satisfy 0 < Low <= Target < High
// and Months >= 1, so that a donor left at Target is not short and a receiver brought to Target
// is not spare.
func (t Thresholds) Validate() error {
	switch {
	case !(t.Low > 0 && t.Low <= t.Target && t.Target < t.High):
		return fmt.Errorf("reallocation thresholds: want 0 < low (%v) <= target (%v) < high (%v)", t.Low, t.Target, t.High)
	case t.Months < 1:
		return fmt.Errorf("reallocation thresholds: months is %d; want at least 1", t.Months)
	case t.Growth < 0:
		return fmt.Errorf("reallocation thresholds: growth is %v; want 0 (off) or more", t.Growth)
	}
	return nil
}

// Stock is one device type at one centre: how many working devices it has, what each is rated
// for, and the demand actually observed.
type Stock struct {
	Site    string
	Type    devices.Kind
	Devices int     // working devices (not retired, not under repair)
	Rated   float64 // rated uses per device per day (1 for a home device: in use on a day)
	Demand  float64 // observed uses per day, e.g. the average over the last month
}

// Utilisation is Demand / (Rated x n): the utilisation the centre's demand would give with n
// devices. It is 0 without demand and +Inf with demand but no device or no rating.
func (s Stock) Utilisation(n int) float64 {
	if s.Demand <= 0 {
		return 0
	}
	capacity := s.Rated * float64(n)
	if capacity <= 0 {
		return math.Inf(1)
	}
	return s.Demand / capacity
}

// Need is the number of devices that brings utilisation closest to target without exceeding it:
// ceil(Demand / (Rated x target)), and at least 1 when there is any demand. It is 0 without
// demand, and -1 (unknown) when the type has no rating.
func (s Stock) Need(target float64) int {
	if s.Demand <= 0 {
		return 0
	}
	if s.Rated <= 0 || target <= 0 {
		return -1
	}
	// The epsilon keeps 4.5 / (2 x 0.75) = 3.0000000000000004 from becoming 4 devices.
	n := int(math.Ceil(s.Demand/(s.Rated*target) - 1e-9))
	return max(n, 1)
}

// Status says whether a type at a centre has devices to spare, is short of them, or neither.
type Status int

// Statuses.
const (
	Balanced Status = iota
	Spare
	Short
)

func (s Status) String() string {
	switch s {
	case Spare:
		return "spare"
	case Short:
		return "short"
	}
	return "balanced"
}

// Usage is a Stock with its monthly utilisation history, oldest month first.
type Usage struct {
	Stock
	History []float64
}

// Assessment is the verdict on one Usage.
type Assessment struct {
	Stock
	Status Status
	// Need is the number of devices the demand needs at the target (see Stock.Need).
	Need int
	// Spare is Devices - Need when Status is Spare; Missing is Need - Devices when Short.
	Spare, Missing int
}

// Assess applies the thresholds. A type is spare when each of the last t.Months months was below
// t.Low (fewer months of history is not enough) and short when the last month was above t.High;
// the count then follows from demand and rated capacity (Stock.Need at t.Target):
//
//	need    = max(1, ceil(demand / (rated x target)))   (0 without demand)
//	spare   = devices - need   when spare
//	missing = need - devices   when short
//
// The history says whether to act and the demand says how much; when they disagree (spare by
// history but the demand needs every device, or short with enough devices for the demand) the
// count is 0 and the status is Balanced, so that a Spare or Short assessment always has devices
// to move. A type without a rating is Balanced.
func Assess(u Usage, t Thresholds) Assessment {
	a := Assessment{Stock: u.Stock, Need: u.Need(t.Target)}
	if a.Need < 0 || len(u.History) == 0 {
		return a
	}
	last := u.History[len(u.History)-1]
	switch {
	case last > t.High:
		if m := a.Need - u.Devices; m > 0 {
			a.Status, a.Missing = Short, m
		}
	case belowFor(u.History, t.Low, t.Months):
		if s := u.Devices - a.Need; s > 0 {
			a.Status, a.Spare = Spare, s
		}
	}
	return a
}

// belowFor reports whether the last months values of h are all below low.
func belowFor(h []float64, low float64, months int) bool {
	if months < 1 || len(h) < months {
		return false
	}
	for _, v := range h[len(h)-months:] {
		if !(v < low) {
			return false
		}
	}
	return true
}
