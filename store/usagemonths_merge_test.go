package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/usage"
)

// mergeMonthRow copies the devices it adds nothing to; whatever the row and the counts, it
// gives the same row as decoding, adding, sorting and encoding everything
// (mergeMonthRowSorting), rows out of order included.
func TestMergeMonthRowAgreesWithSorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	device := func() string { return fmt.Sprintf("dev-%03d", rng.IntN(60)) }
	for i := range 3000 {
		// A row of up to 40 devices, in byte order unless shuffled.
		var devs []*monthDevice
		seen := map[string]bool{}
		for range rng.IntN(40) {
			d := &monthDevice{device: device()}
			if seen[d.device] {
				continue
			}
			seen[d.device] = true
			for range 1 + rng.IntN(5) {
				d.uses[rng.IntN(31)] = int64(1 + rng.IntN(70000))
			}
			devs = append(devs, d)
		}
		slices.SortFunc(devs, func(a, b *monthDevice) int { return strings.Compare(a.device, b.device) })
		shuffled := i%5 == 0 && len(devs) > 1
		if shuffled {
			rng.Shuffle(len(devs), func(a, b int) { devs[a], devs[b] = devs[b], devs[a] })
		}
		var row []byte
		for _, d := range devs {
			row = appendMonthDevice(row, d)
		}
		// Counts to add: some to devices in the row, some new, some repeated, some malformed.
		var add []usage.DayCount
		for range rng.IntN(30) {
			c := usage.DayCount{Device: device(), Site: "s1", Day: usage.Day(fmt.Sprintf("2026-11-%02d", 1+rng.IntN(30))), Uses: 1 + rng.IntN(5)}
			switch rng.IntN(12) {
			case 0:
				c.Uses = 0
			case 1:
				c.Day = "2026-11-xx"
			case 2:
				c.Device = ""
			}
			add = append(add, c)
		}
		got, err := mergeMonthRow(row, add)
		if err != nil {
			t.Fatalf("case %d: mergeMonthRow: %v", i, err)
		}
		want, err := mergeMonthRowSorting(row, add)
		if err != nil {
			t.Fatalf("case %d: mergeMonthRowSorting: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (row shuffled %v): mergeMonthRow\n%x\nwant\n%x", i, shuffled, got, want)
		}
	}
	if _, err := mergeMonthRow([]byte{3, 'a'}, nil); err == nil {
		t.Errorf("mergeMonthRow of a truncated row: no error")
	}
}

func BenchmarkMergeMonthRow(b *testing.B) {
	// A site's month: 8,000 devices used on 20 days; a fold adds a day's uses to 500 of them.
	var row []byte
	for i := range 8000 {
		d := &monthDevice{device: fmt.Sprintf("dev-%06d", i)}
		for day := range 20 {
			d.uses[day] = int64(1 + (i+day)%7)
		}
		row = appendMonthDevice(row, d)
	}
	var add []usage.DayCount
	for i := range 500 {
		add = append(add, usage.DayCount{Device: fmt.Sprintf("dev-%06d", i*16), Site: "s1", Day: "2026-11-21", Uses: 3})
	}
	for _, bc := range []struct {
		name  string
		merge func([]byte, []usage.DayCount) ([]byte, error)
	}{{"walk", mergeMonthRow}, {"sorting", mergeMonthRowSorting}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.merge(row, add); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
