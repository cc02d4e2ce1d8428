package reallocation

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
)

// degKm is the length of one degree of longitude on the equator: centres placed on the equator
// at longitude x are x*degKm apart, so hand-solved plans have exact distances.
const degKm = EarthRadiusKm * math.Pi / 180

func onEquator(id string, lon float64) Centre { return Centre{ID: id, Lon: lon} }

func donor(site string, spare int) Donor {
	ids := make([]string, spare)
	for k := range ids {
		ids[k] = fmt.Sprintf("%s-dev%d", site, k)
	}
	return Donor{Stock: Stock{Site: site, Type: devices.BPCuff, Devices: spare + 2, Rated: 10, Demand: 10}, Spare: spare, DeviceIDs: ids}
}

func receiver(site string, missing int) Receiver {
	return Receiver{Stock: Stock{Site: site, Type: devices.BPCuff, Devices: 2, Rated: 10, Demand: 19}, Missing: missing}
}

type flowKey struct{ from, to string }

func flows(p Proposal) map[flowKey]int {
	m := map[flowKey]int{}
	for _, mv := range p.Moves {
		m[flowKey{mv.From, mv.To}] += mv.Count
	}
	return m
}

func TestPlanFindsTheOptimumWhereGreedyIsWrong(t *testing.T) {
	tests := []struct {
		name      string
		centres   []Centre
		donors    []Donor
		receivers []Receiver
		want      map[flowKey]int
		wantKm    float64
	}{{
		// On a line: B(-2) X(0) A(1) Y(3). A is nearest to both X (1) and Y (2). Nearest pair
		// first, or each receiver its nearest donor, gives A->X + B->Y = 1 + 5 = 6; the optimum
		// is A->Y + B->X = 2 + 2 = 4.
		name:      "two donors, two receivers",
		centres:   []Centre{onEquator("A", 1), onEquator("B", -2), onEquator("X", 0), onEquator("Y", 3)},
		donors:    []Donor{donor("A", 1), donor("B", 1)},
		receivers: []Receiver{receiver("X", 1), receiver("Y", 1)},
		want:      map[flowKey]int{{"A", "Y"}: 1, {"B", "X"}: 1},
		wantKm:    4 * degKm,
	}, {
		// Same line, with counts: A has 2, B has 3; X needs 3, Y needs 2. Greedy: A->X 2,
		// then B->X 1 (2), B->Y 2 (10) = 2+2+10 = 14. Optimum: A->Y 2 (4), B->X 3 (6) = 10.
		name:      "counts",
		centres:   []Centre{onEquator("A", 1), onEquator("B", -2), onEquator("X", 0), onEquator("Y", 3)},
		donors:    []Donor{donor("A", 2), donor("B", 3)},
		receivers: []Receiver{receiver("X", 3), receiver("Y", 2)},
		want:      map[flowKey]int{{"A", "Y"}: 2, {"B", "X"}: 3},
		wantKm:    10 * degKm,
	}, {
		// Shortage exceeds supply: all 3 spare devices move, to the receivers nearest them.
		// A(0) 2 spare, B(10) 1 spare; X(1) needs 2, Y(9) needs 2, Z(50) needs 5.
		name:      "shortage exceeds supply",
		centres:   []Centre{onEquator("A", 0), onEquator("B", 10), onEquator("X", 1), onEquator("Y", 9), onEquator("Z", 50)},
		donors:    []Donor{donor("A", 2), donor("B", 1)},
		receivers: []Receiver{receiver("X", 2), receiver("Y", 2), receiver("Z", 5)},
		want:      map[flowKey]int{{"A", "X"}: 2, {"B", "Y"}: 1},
		wantKm:    3 * degKm,
	}, {
		// Supply exceeds shortage: the nearest spare devices go, even if that means a long
		// chain of reassignments. A(0) 1, B(4) 1, C(100) 5; X(3) needs 1, Y(5) needs 1.
		// Greedy B->Y (1) then A->X (3) = 4 is also optimal here; the point is C stays home.
		name:      "supply exceeds shortage",
		centres:   []Centre{onEquator("A", 0), onEquator("B", 4), onEquator("C", 100), onEquator("X", 3), onEquator("Y", 5)},
		donors:    []Donor{donor("A", 1), donor("B", 1), donor("C", 5)},
		receivers: []Receiver{receiver("X", 1), receiver("Y", 1)},
		want:      map[flowKey]int{{"A", "X"}: 1, {"B", "Y"}: 1},
		wantKm:    4 * degKm,
	}, {
		// To meet the most shortage, a receiver must take a far donor: A(0) 1 spare, B(100)
		// 1 spare; X(1) and Y(2) each need 1. Both must move: A->Y + B->X = 2 + 99 = 101 or
		// A->X + B->Y = 1 + 98 = 99.
		name:      "max flow before distance",
		centres:   []Centre{onEquator("A", 0), onEquator("B", 100), onEquator("X", 1), onEquator("Y", 2)},
		donors:    []Donor{donor("A", 1), donor("B", 1)},
		receivers: []Receiver{receiver("X", 1), receiver("Y", 1)},
		want:      map[flowKey]int{{"A", "X"}: 1, {"B", "Y"}: 1},
		wantKm:    99 * degKm,
	}}
	for _, tt := range tests {
		p, err := Plan(tt.centres, tt.donors, tt.receivers)
		if err != nil {
			t.Fatalf("%s: Plan: %v", tt.name, err)
		}
		if got := flows(p); !mapsEqual(got, tt.want) {
			t.Errorf("%s: Plan moves = %v; want %v", tt.name, got, tt.want)
		}
		if math.Abs(p.DistanceKm-tt.wantKm) > 1e-6 {
			t.Errorf("%s: Plan distance = %.6f km; want %.6f", tt.name, p.DistanceKm, tt.wantKm)
		}
		moved, shortage, supply := 0, 0, 0
		for _, n := range tt.want {
			moved += n
		}
		for _, r := range tt.receivers {
			shortage += r.Missing
		}
		for _, d := range tt.donors {
			supply += d.Spare
		}
		if p.Moved != moved || p.Shortage != shortage || p.Unmet != shortage-moved || moved != min(supply, shortage) {
			t.Errorf("%s: Plan moved %d of shortage %d, unmet %d; want %d of %d", tt.name, p.Moved, p.Shortage, p.Unmet, moved, shortage)
		}
	}
}

func mapsEqual(a, b map[flowKey]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestPlanWithNothingToMove(t *testing.T) {
	centres := []Centre{onEquator("A", 0), onEquator("X", 1)}
	other := donor("A", 3)
	other.Type = devices.Oximeter
	tests := []struct {
		name      string
		donors    []Donor
		receivers []Receiver
	}{
		{"no donors", nil, []Receiver{receiver("X", 2)}},
		{"no receivers", []Donor{donor("A", 2)}, nil},
		{"nothing spare or missing", []Donor{donor("A", 0)}, []Receiver{receiver("X", 0)}},
		{"donor of another type", []Donor{other}, []Receiver{receiver("X", 2)}},
	}
	for _, tt := range tests {
		p, err := Plan(centres, tt.donors, tt.receivers)
		if err != nil {
			t.Fatalf("%s: Plan: %v", tt.name, err)
		}
		if len(p.Moves) != 0 || p.Moved != 0 || p.DistanceKm != 0 {
			t.Errorf("%s: Plan = %+v; want no moves", tt.name, p)
		}
		if want := 0; len(tt.receivers) > 0 {
			want = tt.receivers[0].Missing
			if p.Unmet != want {
				t.Errorf("%s: Plan unmet = %d; want %d", tt.name, p.Unmet, want)
			}
		}
	}
}

func TestPlanRejectsBadInput(t *testing.T) {
	centres := []Centre{onEquator("A", 0), onEquator("B", 1), onEquator("X", 2)}
	dupDevice := donor("B", 1)
	dupDevice.DeviceIDs = []string{"A-dev0"}
	tooFewIDs := donor("A", 2)
	tooFewIDs.DeviceIDs = tooFewIDs.DeviceIDs[:1]
	tests := []struct {
		name      string
		donors    []Donor
		receivers []Receiver
		want      string
	}{
		{"unknown donor centre", []Donor{donor("Q", 1)}, []Receiver{receiver("X", 1)}, "no centre"},
		{"unknown receiver centre", []Donor{donor("A", 1)}, []Receiver{receiver("Q", 1)}, "no centre"},
		{"device listed twice", []Donor{donor("A", 1), dupDevice}, []Receiver{receiver("X", 1)}, "listed twice"},
		{"fewer ids than spare", []Donor{tooFewIDs}, []Receiver{receiver("X", 1)}, "ids listed"},
		{"donor listed twice", []Donor{donor("A", 1), {Stock: donor("A", 1).Stock, Spare: 1, DeviceIDs: []string{"z"}}}, []Receiver{receiver("X", 1)}, "listed twice"},
		{"donor and receiver", []Donor{donor("A", 1)}, []Receiver{receiver("A", 1), receiver("X", 1)}, "both donor and receiver"},
	}
	for _, tt := range tests {
		_, err := Plan(centres, tt.donors, tt.receivers)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Plan error = %v; want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestPlanExplainsEachMove(t *testing.T) {
	centres := []Centre{onEquator("A", 0), onEquator("B", 0.5), onEquator("X", 0.1)}
	// A: 8 cuffs rated 10, demand 30/day: 37.5%; need ceil(30/7.5) = 4, 4 spare.
	// B: 6 cuffs rated 10, demand 15/day: 25%; need 2, 4 spare.
	// X: 4 cuffs rated 10, demand 57/day: 142.5%; need ceil(57/7.5) = 8, 4 missing; after 4 more, 71.25%.
	th := DefaultThresholds()
	a := Assess(Usage{Stock: Stock{Site: "A", Type: devices.BPCuff, Devices: 8, Rated: 10, Demand: 30}, History: []float64{.4, .4, .375}}, th)
	b := Assess(Usage{Stock: Stock{Site: "B", Type: devices.BPCuff, Devices: 6, Rated: 10, Demand: 15}, History: []float64{.2, .3, .25}}, th)
	x := Assess(Usage{Stock: Stock{Site: "X", Type: devices.BPCuff, Devices: 4, Rated: 10, Demand: 57}, History: []float64{1.4}}, th)
	if a.Spare != 4 || b.Spare != 4 || x.Missing != 4 {
		t.Fatalf("Assess: A spare %d, B spare %d, X missing %d; want 4, 4, 4", a.Spare, b.Spare, x.Missing)
	}
	p, err := Plan(centres, []Donor{DonorOf(a, []string{"a1", "a2", "a3", "a4", "a5"}), DonorOf(b, []string{"b1", "b2", "b3", "b4"})}, []Receiver{ReceiverOf(x)})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Moves) != 1 {
		t.Fatalf("Plan = %+v; want one move, A -> X", p.Moves)
	}
	m := p.Moves[0]
	want := Move{
		Type: devices.BPCuff, From: "A", To: "X", Count: 4, DeviceIDs: []string{"a1", "a2", "a3", "a4"},
		DistanceKm: 0.1 * degKm,
		Donor:      Change{Devices: 8, DevicesAfter: 4, Before: 0.375, After: 0.75},
		Receiver:   Change{Devices: 4, DevicesAfter: 8, Before: 1.425, After: 0.7125},
	}
	if !sameMove(m, want) {
		t.Errorf("Plan move = %+v; want %+v", m, want)
	}
	if got, wantS := m.Explain(), "move 4 bp_cuff from A to X (11.1 km): A 38% -> 75% on 8 -> 4 devices; X 142% -> 71% on 4 -> 8 devices"; got != wantS {
		t.Errorf("Explain() = %q; want %q", got, wantS)
	}
}

func sameMove(a, b Move) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	nearC := func(x, y Change) bool {
		return x.Devices == y.Devices && x.DevicesAfter == y.DevicesAfter && near(x.Before, y.Before) && near(x.After, y.After)
	}
	return a.Type == b.Type && a.From == b.From && a.To == b.To && a.Count == b.Count &&
		slices.Equal(a.DeviceIDs, b.DeviceIDs) && near(a.DistanceKm, b.DistanceKm) && nearC(a.Donor, b.Donor) && nearC(a.Receiver, b.Receiver)
}

// TestPlanNeverLeavesADonorShort runs the whole pure pipeline on random fleets: assess, plan, and
// check every move against its donor.
func TestPlanNeverLeavesADonorShort(t *testing.T) {
	th := DefaultThresholds()
	for seed := range uint64(20) {
		f := randomFleet(rand.New(rand.NewPCG(seed, 7)), 60, 3, th)
		p, err := Plan(f.centres, f.donors, f.receivers)
		if err != nil {
			t.Fatalf("seed %d: Plan: %v", seed, err)
		}
		donors := map[string]Donor{}
		for _, d := range f.donors {
			donors[string(d.Type)+"/"+d.Site] = d
		}
		sent := map[string]int{}
		ids := map[string]bool{}
		for _, m := range p.Moves {
			key := string(m.Type) + "/" + m.From
			d := donors[key]
			sent[key] += m.Count
			if len(m.DeviceIDs) != m.Count {
				t.Errorf("seed %d: move %s -> %s carries %d ids for %d devices", seed, m.From, m.To, len(m.DeviceIDs), m.Count)
			}
			for _, id := range m.DeviceIDs {
				if ids[id] {
					t.Errorf("seed %d: device %s moved twice", seed, id)
				}
				ids[id] = true
				if !slices.Contains(d.DeviceIDs, id) {
					t.Errorf("seed %d: device %s is not among %s's spare devices", seed, id, key)
				}
			}
			if m.Donor.After > th.Target+1e-9 || m.Donor.After > th.High {
				t.Errorf("seed %d: %s is left at %.3f; want at most the target %.2f", seed, key, m.Donor.After, th.Target)
			}
		}
		for key, n := range sent {
			if n > donors[key].Spare {
				t.Errorf("seed %d: %d devices leave %s, which has %d spare", seed, n, key, donors[key].Spare)
			}
		}
		if !slices.IsSortedFunc(p.Moves, func(a, b Move) int {
			return strings.Compare(string(a.Type)+"\x00"+a.From+"\x00"+a.To, string(b.Type)+"\x00"+b.From+"\x00"+b.To)
		}) {
			t.Errorf("seed %d: moves are not sorted by type, donor, receiver", seed)
		}
		// The same input in another order gives the same plan.
		r := rand.New(rand.NewPCG(seed, 8))
		r.Shuffle(len(f.donors), func(i, j int) { f.donors[i], f.donors[j] = f.donors[j], f.donors[i] })
		r.Shuffle(len(f.receivers), func(i, j int) { f.receivers[i], f.receivers[j] = f.receivers[j], f.receivers[i] })
		q, err := Plan(f.centres, f.donors, f.receivers)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(q) != fmt.Sprint(p) {
			t.Errorf("seed %d: Plan depends on the order of its input", seed)
		}
	}
}

// TestPlanMatchesBruteForce compares the planner with every integer flow on tiny instances.
func TestPlanMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 400 {
		D, R := 1+r.IntN(3), 1+r.IntN(3)
		var centres []Centre
		var donors []Donor
		var receivers []Receiver
		for i := range D {
			c := Centre{ID: fmt.Sprintf("d%d", i), Lat: 30 + r.Float64(), Lon: 120 + r.Float64()}
			centres = append(centres, c)
			donors = append(donors, donor(c.ID, r.IntN(4)))
		}
		for j := range R {
			c := Centre{ID: fmt.Sprintf("r%d", j), Lat: 30 + r.Float64(), Lon: 120 + r.Float64()}
			centres = append(centres, c)
			receivers = append(receivers, receiver(c.ID, r.IntN(4)))
		}
		p, err := Plan(centres, donors, receivers)
		if err != nil {
			t.Fatal(err)
		}
		wantFlow, wantKm := bruteForce(centres[:D], centres[D:], donors, receivers)
		if p.Moved != wantFlow || math.Abs(p.DistanceKm-wantKm) > 1e-5 {
			t.Errorf("trial %d (%d x %d): Plan moved %d over %.6f km; brute force %d over %.6f km", trial, D, R, p.Moved, p.DistanceKm, wantFlow, wantKm)
		}
	}
}

// bruteForce enumerates every integer flow and returns the largest total flow and the least
// distance among flows of that size.
func bruteForce(dc, rc []Centre, donors []Donor, receivers []Receiver) (int, float64) {
	D, R := len(donors), len(receivers)
	sup := make([]int, D)
	dem := make([]int, R)
	for i, d := range donors {
		sup[i] = d.Spare
	}
	for j, r := range receivers {
		dem[j] = r.Missing
	}
	bestFlow, bestKm := -1, math.Inf(1)
	var rec func(cell, flow int, km float64)
	rec = func(cell, flow int, km float64) {
		if cell == D*R {
			if flow > bestFlow || flow == bestFlow && km < bestKm {
				bestFlow, bestKm = flow, km
			}
			return
		}
		i, j := cell/R, cell%R
		d := dc[i].Distance(rc[j])
		for f := 0; f <= min(sup[i], dem[j]); f++ {
			sup[i] -= f
			dem[j] -= f
			rec(cell+1, flow+f, km+float64(f)*d)
			sup[i] += f
			dem[j] += f
		}
	}
	rec(0, 0, 0)
	return bestFlow, bestKm
}
