package usage

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

func TestDayNumber(t *testing.T) {
	for _, tt := range []struct {
		day  Day
		want int
		ok   bool
	}{
		{"1970-01-01", 0, true},
		{"1970-01-02", 1, true},
		{"2026-11-23", 20780, true},
		{"2024-02-29", 19782, true},
		{"2026-02-29", 0, false},
		{"2026-13-01", 0, false},
		{"2026-00-10", 0, false},
		{"2026-1-01", 0, false},
		{"2026/11/23", 0, false},
		{"2026-11-2x", 0, false},
		{"", 0, false},
	} {
		got, ok := tt.day.Number()
		if got != tt.want || ok != tt.ok {
			t.Errorf("Day(%q).Number() = %d, %v; want %d, %v", tt.day, got, ok, tt.want, tt.ok)
		}
		if ok {
			if back := DayNumbered(got); back != tt.day {
				t.Errorf("DayNumbered(%d) = %q; want %q", got, back, tt.day)
			}
		}
	}
}

// A KeySet answers as a map of (device, time) does, whatever order keys arrive in, and
// forgets by time recorded and by day.
func TestKeySetAgainstAMap(t *testing.T) {
	type key struct {
		dev string
		at  int64
	}
	type info struct {
		rec time.Time
		day int
	}
	r := rand.New(rand.NewPCG(1, 2))
	s := NewKeySet()
	want := map[key]info{}
	t0 := time.Unix(1_790_000_000, 0)
	devs := []string{"a", "b", "c", "d"}
	check := func(when string) {
		t.Helper()
		if s.Len() != len(want) {
			t.Fatalf("%s: Len() = %d; want %d", when, s.Len(), len(want))
		}
		for k := range want {
			if !s.Has(k.dev, k.at) {
				t.Fatalf("%s: Has(%s, %d) = false; want true", when, k.dev, k.at)
			}
		}
	}
	for i := range 5000 {
		k := key{devs[r.IntN(len(devs))], int64(r.IntN(3000))}
		if r.IntN(4) == 0 { // mostly fresh readings, later than the rest
			k.at = int64(3000 + i)
		}
		in := info{t0.Add(time.Duration(i) * time.Second), int(k.at / 500)}
		_, had := want[k]
		if added := s.Add(k.dev, k.at, in.day, in.rec); added == had {
			t.Fatalf("Add(%v) = %v; want %v", k, added, !had)
		}
		if !had {
			want[k] = in
		}
		if r.IntN(50) == 0 {
			s.Remove(k.dev, k.at)
			delete(want, k)
		}
	}
	check("after adding")
	if s.Has("a", -1) || s.Has("zzz", 5) {
		t.Error("Has reports keys never added")
	}
	cut := t0.Add(2500 * time.Second)
	wantGone := 0
	for k, in := range want {
		if in.rec.Before(cut) {
			delete(want, k)
			wantGone++
		}
	}
	if gone := s.ForgetRecordedBefore(cut); gone != wantGone {
		t.Errorf("ForgetRecordedBefore = %d; want %d", gone, wantGone)
	}
	check("after ForgetRecordedBefore")
	wantGone = 0
	for k, in := range want {
		if in.day >= 2 && in.day <= 4 {
			delete(want, k)
			wantGone++
		}
	}
	if gone := s.ForgetDays(2, 4); gone != wantGone {
		t.Errorf("ForgetDays(2, 4) = %d; want %d", gone, wantGone)
	}
	check("after ForgetDays")
	for k := range want {
		if in := want[k]; in.day >= 2 && in.day <= 4 {
			t.Fatalf("key %v of day %d survived ForgetDays", k, in.day)
		}
	}
	// Forgotten keys are new again.
	if !s.Add("a", 0, 0, t0) && !s.Has("a", 0) {
		t.Error("a forgotten key cannot be added again")
	}
}

// BenchmarkKeySetAdd adds fresh keys of 100,000 devices, as ingest records a city's readings.
func BenchmarkKeySetAdd(b *testing.B) {
	const devices = 100_000
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = "device-" + time.Duration(i).String()
	}
	s := NewKeySet()
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Add(ids[i%devices], int64(i), 20780, now)
	}
}

// BenchmarkKeySetMemory reports the heap a KeySet holds per key: 2,000,000 keys of 100,000
// devices, 20 each, as a city's day of home and station readings.
func BenchmarkKeySetMemory(b *testing.B) {
	const devices, perDevice = 100_000, 20
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("device-%06d", i)
	}
	now := time.Now()
	var perKey float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := NewKeySet()
		for j := range perDevice {
			for i, id := range ids {
				s.Add(id, int64(j*1000+i%1000), 20780, now)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perKey = float64(after.HeapAlloc-before.HeapAlloc) / float64(s.Len())
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perKey, "B/key")
}
