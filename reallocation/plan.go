package reallocation

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Donor is a type at a centre with devices to spare (usually from a Spare Assessment).
type Donor struct {
	Stock
	// Spare is how many devices may leave; the planner never moves more, so the donor keeps
	// what its demand needs.
	Spare int
	// DeviceIDs are the devices that may leave, in the order they should be chosen (e.g. the
	// least used first); at least Spare of them.
	DeviceIDs []string
}

// Receiver is a type at a centre short of devices (usually from a Short Assessment).
type Receiver struct {
	Stock
	Missing int
}

// DonorOf is the Donor for a Spare assessment; deviceIDs are its devices in the order they
// should leave.
func DonorOf(a Assessment, deviceIDs []string) Donor {
	return Donor{Stock: a.Stock, Spare: a.Spare, DeviceIDs: deviceIDs}
}

// ReceiverOf is the Receiver for a Short assessment.
func ReceiverOf(a Assessment) Receiver { return Receiver{Stock: a.Stock, Missing: a.Missing} }

// Change is one centre's side of a move: its devices of the type and the utilisation its demand
// gives, before the plan and once every move of the plan for that type and centre is done.
type Change struct {
	Devices, DevicesAfter int
	Before, After         float64
}

// Move sends Count devices of a type from one centre to another.
type Move struct {
	Type       devices.Kind
	From, To   string
	Count      int
	DeviceIDs  []string
	DistanceKm float64 // great-circle distance between the centres, travelled by each device
	Donor      Change
	Receiver   Change
}

// Explain says in a line what the move does and why.
func (m Move) Explain() string {
	return fmt.Sprintf("move %d %s from %s to %s (%.1f km): %s %s -> %s on %d -> %d devices; %s %s -> %s on %d -> %d devices",
		m.Count, m.Type, m.From, m.To, m.DistanceKm,
		m.From, pct(m.Donor.Before), pct(m.Donor.After), m.Donor.Devices, m.Donor.DevicesAfter,
		m.To, pct(m.Receiver.Before), pct(m.Receiver.After), m.Receiver.Devices, m.Receiver.DevicesAfter)
}

func pct(u float64) string {
	if math.IsInf(u, 1) {
		return "no capacity"
	}
	return fmt.Sprintf("%.0f%%", 100*u)
}

// Proposal is a plan of moves.
type Proposal struct {
	// Moves are sorted by type, then donor, then receiver.
	Moves []Move
	// Shortage is the devices missing before the plan, Moved how many the plan moves (the most
	// that the spare devices can meet), Unmet the difference.
	Shortage, Moved, Unmet int
	// DistanceKm is the total distance travelled by the moved devices (device-km).
	DistanceKm float64
}

// Plan proposes the moves of spare devices to short centres that meet as much shortage as
// possible and, among the plans that do, travel the least total great-circle distance
// (distance x devices). It solves each device type exactly as a min-cost max-flow: source ->
// donor (capacity Spare) -> receiver (cost: distance) -> sink (capacity Missing); see transport.
// Distances are rounded to the millimetre for the solver so that equal costs tie exactly and the
// result is deterministic; the reported distances are not rounded.
//
// Every donor, receiver and centre is checked: a site must have a Centre, appear at most once per
// type, and not be both donor and receiver of a type; a donor must list at least Spare distinct
// device ids, and no device may be listed twice.
func Plan(centres []Centre, donors []Donor, receivers []Receiver) (Proposal, error) {
	at := make(map[string]Centre, len(centres))
	for _, c := range centres {
		if _, dup := at[c.ID]; dup {
			return Proposal{}, fmt.Errorf("centre %q is listed twice", c.ID)
		}
		at[c.ID] = c
	}
	type group struct {
		donors    []Donor
		receivers []Receiver
	}
	groups := map[devices.Kind]*group{}
	get := func(k devices.Kind) *group {
		g := groups[k]
		if g == nil {
			g = &group{}
			groups[k] = g
		}
		return g
	}
	seenDevice := map[string]bool{}
	for _, d := range donors {
		if _, ok := at[d.Site]; !ok {
			return Proposal{}, fmt.Errorf("donor %s/%s: no centre %q", d.Site, d.Type, d.Site)
		}
		if d.Spare < 0 || d.Spare > len(d.DeviceIDs) || d.Spare > d.Devices {
			return Proposal{}, fmt.Errorf("donor %s/%s: %d spare of %d devices with %d ids listed", d.Site, d.Type, d.Spare, d.Devices, len(d.DeviceIDs))
		}
		for _, id := range d.DeviceIDs {
			if seenDevice[id] {
				return Proposal{}, fmt.Errorf("donor %s/%s: device %q is listed twice", d.Site, d.Type, id)
			}
			seenDevice[id] = true
		}
		if d.Spare > 0 {
			g := get(d.Type)
			g.donors = append(g.donors, d)
		}
	}
	for _, r := range receivers {
		if _, ok := at[r.Site]; !ok {
			return Proposal{}, fmt.Errorf("receiver %s/%s: no centre %q", r.Site, r.Type, r.Site)
		}
		if r.Missing < 0 {
			return Proposal{}, fmt.Errorf("receiver %s/%s: %d missing", r.Site, r.Type, r.Missing)
		}
		if r.Missing > 0 {
			g := get(r.Type)
			g.receivers = append(g.receivers, r)
		}
	}

	var p Proposal
	kinds := slices.Sorted(maps.Keys(groups))
	for _, k := range kinds {
		g := groups[k]
		slices.SortFunc(g.donors, func(a, b Donor) int { return strings.Compare(a.Site, b.Site) })
		slices.SortFunc(g.receivers, func(a, b Receiver) int { return strings.Compare(a.Site, b.Site) })
		for i := 1; i < len(g.donors); i++ {
			if g.donors[i].Site == g.donors[i-1].Site {
				return Proposal{}, fmt.Errorf("donor %s/%s is listed twice", g.donors[i].Site, k)
			}
		}
		for j, r := range g.receivers {
			if j > 0 && r.Site == g.receivers[j-1].Site {
				return Proposal{}, fmt.Errorf("receiver %s/%s is listed twice", r.Site, k)
			}
			if _, found := slices.BinarySearchFunc(g.donors, r.Site, func(d Donor, s string) int { return strings.Compare(d.Site, s) }); found {
				return Proposal{}, fmt.Errorf("%s/%s is both donor and receiver", r.Site, k)
			}
			p.Shortage += r.Missing
		}
	}
	// Types are independent problems: solve them side by side, at most one per CPU, and wait
	// for all before returning.
	moves := make([][]Move, len(kinds))
	errs := make([]error, len(kinds))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for t, k := range kinds {
		g := groups[k]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			moves[t], errs[t] = planType(at, g.donors, g.receivers)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Proposal{}, err
	}
	for _, ms := range moves {
		for _, m := range ms {
			p.Moved += m.Count
			p.DistanceKm += float64(m.Count) * m.DistanceKm
		}
		p.Moves = append(p.Moves, ms...)
	}
	p.Unmet = p.Shortage - p.Moved
	return p, nil
}

// planType plans one device type; donors and receivers are sorted by site and all have a
// positive count.
func planType(at map[string]Centre, donors []Donor, receivers []Receiver) ([]Move, error) {
	D, R := len(donors), len(receivers)
	if D == 0 || R == 0 {
		return nil, nil
	}
	km := make([]float64, D*R)
	cost := make([]int64, D*R)
	supply := make([]int, D)
	demand := make([]int, R)
	for j, r := range receivers {
		demand[j] = r.Missing
	}
	for i, d := range donors {
		supply[i] = d.Spare
		from := at[d.Site]
		for j, r := range receivers {
			x := from.Distance(at[r.Site])
			km[i*R+j] = x
			cost[i*R+j] = int64(math.Round(x * 1e6)) // millimetres
		}
	}
	flow := transport(supply, demand, cost)

	sent := make([]int, D)
	got := make([]int, R)
	for i := range D {
		for j := range R {
			sent[i] += int(flow[i*R+j])
			got[j] += int(flow[i*R+j])
		}
	}
	var moves []Move
	for i, d := range donors {
		next := 0 // the donor's device ids are handed out in order, receivers in site order
		for j, r := range receivers {
			f := int(flow[i*R+j])
			if f == 0 {
				continue
			}
			if f < 0 || sent[i] > d.Spare || got[j] > r.Missing {
				return nil, fmt.Errorf("planner: infeasible flow %s -> %s (%d)", d.Site, r.Site, f) // a bug, not bad input
			}
			moves = append(moves, Move{
				Type:       d.Type,
				From:       d.Site,
				To:         r.Site,
				Count:      f,
				DeviceIDs:  slices.Clone(d.DeviceIDs[next : next+f]),
				DistanceKm: km[i*R+j],
				Donor: Change{
					Devices: d.Devices, DevicesAfter: d.Devices - sent[i],
					Before: d.Utilisation(d.Devices), After: d.Utilisation(d.Devices - sent[i]),
				},
				Receiver: Change{
					Devices: r.Devices, DevicesAfter: r.Devices + got[j],
					Before: r.Utilisation(r.Devices), After: r.Utilisation(r.Devices + got[j]),
				},
			})
			next += f
		}
	}
	return moves, nil
}
