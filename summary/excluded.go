package summary

import (
	"cmp"
	"slices"

	"github.com/vitalwatch/vitalwatch/reading"
)

// Doubtful is a reading in doubt: its device flagged the measurement (reading.QualityFlag, such
// as sensor_malfunction or cuff_loose) or the device was at fault when it measured (its
// calibration overdue). It is left out of every mean, percentile, band and time in range, as
// the alert rules leave it out of their windows, and each report counts what it left out.
type Doubtful struct {
	reading.Reading
	// Reasons are the quality flags, or a device fault such as "calibration_overdue": why it
	// is in doubt.
	Reasons []string
	// Home says the reading came from a home device (for the home BP average's count).
	Home bool
}

// Excluded counts the readings a report left out because they were in doubt.
type Excluded struct {
	Readings int
	// ByReason counts them per reason, most first, then by name; a reading with two reasons
	// counts under each.
	ByReason []ReasonCount
}

// ReasonCount is how many readings were left out for one reason.
type ReasonCount struct {
	Reason   string
	Readings int
}

// excluded counts the doubtful readings that keep selects.
func excluded(ds []Doubtful, keep func(*Doubtful) bool) Excluded {
	var out Excluded
	by := map[string]int{}
	for i := range ds {
		d := &ds[i]
		if !keep(d) {
			continue
		}
		out.Readings++
		for _, r := range d.Reasons {
			by[r]++
		}
	}
	for r, n := range by {
		out.ByReason = append(out.ByReason, ReasonCount{r, n})
	}
	slices.SortFunc(out.ByReason, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.Readings, a.Readings), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}
