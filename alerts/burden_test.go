package alerts

import (
	"math"
	"testing"
	"time"
)

func TestBurdenPerSubjectPerWeek(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		b      Burden
		want   float64
		wantOK bool
	}{
		{"28 alerts of 7 patients in 4 weeks", Burden{Alerts: 28, Population: 7, From: from, To: from.AddDate(0, 0, 28)}, 1, true},
		{"3 alerts of 120 patients in 2 weeks", Burden{Alerts: 3, Population: 120, From: from, To: from.AddDate(0, 0, 14)}, 0.0125, true},
		{"half a week", Burden{Alerts: 2, Population: 2, From: from, To: from.Add(84 * time.Hour)}, 2, true},
		{"no patients", Burden{Alerts: 5, From: from, To: from.AddDate(0, 0, 7)}, 0, false},
		{"no period", Burden{Alerts: 5, Population: 10, From: from, To: from}, 0, false},
		{"to before from", Burden{Alerts: 5, Population: 10, From: from, To: from.Add(-time.Hour)}, 0, false},
	}
	for _, tt := range tests {
		got, ok := tt.b.PerSubjectPerWeek()
		if ok != tt.wantOK || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: PerSubjectPerWeek() = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestBurdenResolvedAutomaticallyShare(t *testing.T) {
	for _, tt := range []struct {
		b    Burden
		want float64
	}{
		{Burden{Alerts: 4, ResolvedBySystem: 1, ResolvedByPerson: 2}, 0.25},
		{Burden{Alerts: 3, ResolvedBySystem: 3}, 1},
		{Burden{}, 0},
	} {
		if got := tt.b.ResolvedAutomaticallyShare(); got != tt.want {
			t.Errorf("ResolvedAutomaticallyShare(%+v) = %v; want %v", tt.b, got, tt.want)
		}
	}
}

func TestMedianDuration(t *testing.T) {
	m := time.Minute
	for _, tt := range []struct {
		ds   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{7 * m}, 7 * m},
		{[]time.Duration{9 * m, 1 * m, 5 * m}, 5 * m},
		{[]time.Duration{10 * m, 2 * m, 4 * m, 30 * m}, 7 * m},
		{[]time.Duration{time.Second, 2 * time.Second}, 1500 * time.Millisecond},
	} {
		in := append([]time.Duration(nil), tt.ds...)
		if got := MedianDuration(tt.ds); got != tt.want {
			t.Errorf("MedianDuration(%v) = %v; want %v", tt.ds, got, tt.want)
		}
		for i := range in {
			if in[i] != tt.ds[i] {
				t.Errorf("MedianDuration changed its input: %v, was %v", tt.ds, in)
				break
			}
		}
	}
}
