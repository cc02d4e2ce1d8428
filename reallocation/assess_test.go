package reallocation

import (
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
)

func TestAssessAtTheBoundaries(t *testing.T) {
	// 10 devices rated 10 uses a day. Demand 40/day needs ceil(40/7.5) = 6 (4 spare);
	// demand 100/day needs ceil(100/7.5) = 14 (4 missing).
	low, high := 40.0, 100.0
	tests := []struct {
		name    string
		history []float64
		demand  float64
		want    Status
		count   int
	}{
		{"3 months below low", []float64{0.9, 0.5, 0.5, 0.5}, low, Spare, 4},
		{"exactly low is not spare", []float64{0.5, 0.5, 0.60}, low, Balanced, 0},
		{"just below low", []float64{0.5, 0.5, 0.5999}, low, Spare, 4},
		{"only 2 months below", []float64{0.7, 0.5, 0.5}, low, Balanced, 0},
		{"only 2 months of history", []float64{0.5, 0.5}, low, Balanced, 0},
		{"a month at low in the window", []float64{0.5, 0.60, 0.5}, low, Balanced, 0},
		{"earlier months do not matter", []float64{0.95, 0.95, 0.3, 0.3, 0.3}, low, Spare, 4},
		{"above high last month", []float64{0.5, 0.5, 0.95}, high, Short, 4},
		{"exactly high is not short", []float64{0.95, 0.95, 0.90}, high, Balanced, 0},
		{"above high before, not last month", []float64{0.95, 0.95, 0.8}, high, Balanced, 0},
		{"no history", nil, high, Balanced, 0},
		{"spare by history, demand needs every device", []float64{0.5, 0.5, 0.5}, 75, Balanced, 0},
		{"short by history, enough devices for demand", []float64{0.95}, 75, Balanced, 0},
		{"spare with no demand keeps nothing", []float64{0, 0, 0}, 0, Spare, 10},
		{"spare with little demand keeps one", []float64{0.01, 0.01, 0.01}, 0.5, Spare, 9},
	}
	for _, tt := range tests {
		u := Usage{Stock: Stock{Site: "c1", Type: devices.BPCuff, Devices: 10, Rated: 10, Demand: tt.demand}, History: tt.history}
		a := Assess(u, DefaultThresholds())
		count := a.Spare + a.Missing
		if a.Status != tt.want || count != tt.count {
			t.Errorf("%s: Assess(%v, demand %v) = %v %d; want %v %d", tt.name, tt.history, tt.demand, a.Status, count, tt.want, tt.count)
		}
		if a.Status == Spare && a.Missing != 0 || a.Status == Short && a.Spare != 0 {
			t.Errorf("%s: Assess = %+v; spare and missing both set", tt.name, a)
		}
	}
}

func TestAssessFollowsConfiguredThresholds(t *testing.T) {
	th := Thresholds{Low: 0.5, High: 0.8, Months: 1, Target: 0.5}
	u := Usage{Stock: Stock{Devices: 4, Rated: 10, Demand: 18}, History: []float64{0.45}}
	// need = ceil(18/5) = 4 = devices: below 50% but nothing to spare
	if a := Assess(u, th); a.Status != Balanced || a.Need != 4 {
		t.Errorf("Assess(need = devices) = %v need %d; want balanced need 4", a.Status, a.Need)
	}
	u.Demand = 12 // need ceil(12/5) = 3: one spare after a single month below 50%
	if a := Assess(u, th); a.Status != Spare || a.Spare != 1 {
		t.Errorf("Assess(1 month below 0.5, need 3 of 4) = %v %d; want spare 1", a.Status, a.Spare)
	}
	u.History = []float64{0.81}
	u.Demand = 32 // need ceil(32/5) = 7
	if a := Assess(u, th); a.Status != Short || a.Missing != 3 {
		t.Errorf("Assess(0.81 > 0.8, need 7 of 4) = %v %d; want short 3", a.Status, a.Missing)
	}
}

func TestNeed(t *testing.T) {
	tests := []struct {
		demand, rated, target float64
		want                  int
	}{
		{0, 10, 0.75, 0},
		{0.1, 10, 0.75, 1},  // any demand keeps one device
		{7.5, 10, 0.75, 1},  // exactly at target
		{7.51, 10, 0.75, 2}, // just over
		{4.5, 2, 0.75, 3},   // 4.5/1.5 is 3.0000000000000004 in floating point
		{30, 10, 0.75, 4},
		{5, 0, 0.75, -1}, // no rating: unknown
	}
	for _, tt := range tests {
		s := Stock{Demand: tt.demand, Rated: tt.rated}
		if got := s.Need(tt.target); got != tt.want {
			t.Errorf("Stock{Demand: %v, Rated: %v}.Need(%v) = %d; want %d", tt.demand, tt.rated, tt.target, got, tt.want)
		}
	}
}

func TestThresholdsValidate(t *testing.T) {
	tests := []struct {
		th Thresholds
		ok bool
	}{
		{DefaultThresholds(), true},
		{Thresholds{Low: 0.6, High: 0.6, Months: 3, Target: 0.6}, false},
		{Thresholds{Low: 0.6, High: 0.9, Months: 0, Target: 0.75}, false},
		{Thresholds{Low: 0.6, High: 0.9, Months: 3, Target: 0.95}, false},
		{Thresholds{Low: 0.6, High: 0.9, Months: 3, Target: 0.5}, false},
		{Thresholds{Low: 0, High: 0.9, Months: 3, Target: 0.5}, false},
	}
	for _, tt := range tests {
		if err := tt.th.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v; want ok %v", tt.th, err, tt.ok)
		}
	}
}
