package summary

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// Band names a glucose range by its bounds in mmol/L, as the consensus reports them. The
// bounds are those of the alert rules: below 3.9 is low, above 10.0 out of range, above 13.9
// high, compared on the canonical value; for values to one decimal they are the consensus
// bands.
type Band string

// The consensus glucose bands (Battelino 2019), from level-2 low to level-2 high.
const (
	BandBelow3_0   Band = "below_3.0" // < 3.0: level 2 hypoglycaemia
	Band3_0To3_8   Band = "3.0-3.8"   // >= 3.0 and < 3.9: level 1
	Band3_9To10_0  Band = "3.9-10.0"  // >= 3.9 and <= 10.0: in range
	Band10_1To13_9 Band = "10.1-13.9" // > 10.0 and <= 13.9: level 1 hyperglycaemia
	BandAbove13_9  Band = "above_13.9"
)

// Bands lists the bands in order, low to high.
var Bands = []Band{BandBelow3_0, Band3_0To3_8, Band3_9To10_0, Band10_1To13_9, BandAbove13_9}

// BandOf returns the band of a glucose value in mmol/L.
func BandOf(v float64) Band {
	switch {
	case v < 3.0:
		return BandBelow3_0
	case v < 3.9:
		return Band3_0To3_8
	case v <= 10.0:
		return Band3_9To10_0
	case v <= 13.9:
		return Band10_1To13_9
	default:
		return BandAbove13_9
	}
}

func bandIndex(b Band) int { return slices.Index(Bands, b) }

// BandTime is the share of the CGM data's time in one band.
type BandTime struct {
	Band    Band
	Percent float64
	// MinutesPerDay is Percent of 24 hours, as the consensus states time per day (70% in range
	// is 16 h 48 min a day).
	MinutesPerDay float64
}

// CGMOptions are the parameters of the CGM report.
type CGMOptions struct {
	// Slot is the sensor's expected interval: sensor activity counts the slots of the period
	// that hold a reading.
	Slot time.Duration
	// Tolerance is how much later than Slot the next reading may come and still be the one
	// after it; a longer interval is a gap.
	Tolerance time.Duration
	// Targets are the consensus targets to check.
	Targets TargetSet
	// Episode defines a level-2 episode.
	Episode EpisodeRule
	// MinDays and MinActive (%) are what an AGP report needs: 14 days, 70% sensor activity.
	MinDays   int
	MinActive float64
}

// DefaultCGMOptions returns the consensus report's parameters for a 5-minute sensor.
func DefaultCGMOptions() CGMOptions {
	return CGMOptions{Slot: 5 * time.Minute, Tolerance: time.Minute, Targets: StandardTargets,
		Episode: DefaultEpisodeRule(), MinDays: 14, MinActive: 70}
}

// CGM is the consensus CGM report of a period (Battelino 2019 and 2023; ADA Standards of Care
// section 6).
type CGM struct {
	Period   Period
	Readings int
	// SensorActive is the % of the period's slots that hold a reading.
	SensorActive float64
	// CoveredMinutes is the time the readings stand for, of which the bands are shares.
	CoveredMinutes float64
	// Mean and SD (sample) are of the readings; CV is SD / Mean in %.
	Mean, SD Glucose
	CV       float64
	// GMI is the glucose management indicator, % (Bergenstal 2018): 3.31 + 0.02392 x mean
	// glucose in mg/dL.
	GMI float64
	// Bands are the time in each band, in the order of Bands.
	Bands     []BandTime
	TargetSet TargetSet
	Targets   []TargetCheck
	AGP       AGP
	// Episodes are the level-2 hypoglycaemia episodes that began in the period.
	Episodes []Episode
	// Excluded are the CGM readings of the period left out as in doubt (set by Compute): they
	// count for no figure above, and the time they would have covered is a gap.
	Excluded Excluded
	Flags    []Flag
}

// IsCGM reports whether r is a CGM glucose reading: a glucose reading whose Source is "cgm".
// A CGM device's reading that names no source is one too; the caller sets its Source, as the
// alert engine reads it by the device's kind.
func IsCGM(r reading.Reading) bool { return r.Type == reading.Glucose && r.Source == "cgm" }

// cgmPoints returns the CGM readings of rs in the period, in time order, one per time.
func cgmPoints(rs []reading.Reading, p Period) []CGMPoint {
	var pts []CGMPoint
	for _, r := range rs {
		if IsCGM(r) && p.Contains(r.Time) {
			pts = append(pts, CGMPoint{r.Time.UnixMilli(), r.Value})
		}
	}
	slices.SortStableFunc(pts, func(a, b CGMPoint) int { return cmp.Compare(a.T, b.T) })
	return slices.CompactFunc(pts, func(a, b CGMPoint) bool { return a.T == b.T })
}

// CGMReport computes the CGM report of the CGM readings (IsCGM) of rs in period p, in the
// patient's time zone loc.
//
// Time in each band is computed from time, not from reading counts, so that gaps do not bias
// it: a reading stands for the time until the next one (or the end of the period), and when
// the next comes more than Slot+Tolerance later, for one Slot; the rest of a gap is no data.
// The bands are shares of the time the readings stand for. The mean, SD and CV are of the
// readings, as the consensus computes them.
func CGMReport(rs []reading.Reading, loc *time.Location, p Period, o CGMOptions) CGM {
	out := CGM{Period: p, TargetSet: o.Targets}
	pts := cgmPoints(rs, p)
	out.Readings = len(pts)
	if p.Days < o.MinDays {
		out.Flags = append(out.Flags, FlagShortPeriod)
	}
	if len(pts) == 0 {
		out.Flags = append(out.Flags, FlagNoData)
		out.AGP = agp(nil, loc, false)
		return out
	}

	slot := o.Slot.Milliseconds()
	slots := (p.To.Sub(p.From).Milliseconds() + slot - 1) / slot
	from, to := p.From.UnixMilli(), p.To.UnixMilli()
	var active int64
	last := int64(-1)
	for _, pt := range pts {
		if s := (pt.T - from) / slot; s != last {
			active, last = active+1, s
		}
	}
	out.SensorActive = 100 * float64(active) / float64(slots)
	if out.SensorActive < o.MinActive {
		out.Flags = append(out.Flags, FlagLowSensorActivity)
	}

	maxStep := slot + o.Tolerance.Milliseconds()
	var inBand [5]int64
	var covered int64
	for i, pt := range pts {
		next := to
		if i+1 < len(pts) {
			next = pts[i+1].T
		}
		w := next - pt.T
		if w > maxStep {
			w = min(slot, to-pt.T)
		}
		inBand[bandIndex(BandOf(pt.V))] += w
		covered += w
	}
	out.CoveredMinutes = float64(covered) / 60000
	out.Bands = make([]BandTime, len(Bands))
	for i, b := range Bands {
		pct := 100 * float64(inBand[i]) / float64(covered)
		out.Bands[i] = BandTime{Band: b, Percent: pct, MinutesPerDay: pct / 100 * 24 * 60}
	}

	var sum float64
	for _, pt := range pts {
		sum += pt.V
	}
	mean := sum / float64(len(pts))
	var ss float64
	for _, pt := range pts {
		ss += (pt.V - mean) * (pt.V - mean)
	}
	sd := 0.0
	if len(pts) > 1 {
		sd = math.Sqrt(ss / float64(len(pts)-1))
	}
	out.Mean, out.SD = Glucose(mean), Glucose(sd)
	out.CV = 100 * sd / mean
	out.GMI = 3.31 + 0.02392*Glucose(mean).MgdL()

	pct := func(bs ...Band) float64 {
		var v float64
		for _, b := range bs {
			v += out.Bands[bandIndex(b)].Percent
		}
		return v
	}
	value := map[Metric]float64{
		MetricTimeInRange:   pct(Band3_9To10_0),
		MetricTimeBelow3_9:  pct(BandBelow3_0, Band3_0To3_8),
		MetricTimeBelow3_0:  pct(BandBelow3_0),
		MetricTimeAbove10_0: pct(Band10_1To13_9, BandAbove13_9),
		MetricTimeAbove13_9: pct(BandAbove13_9),
		MetricCV:            out.CV,
	}
	for _, t := range Targets(o.Targets) {
		v := value[t.Metric]
		out.Targets = append(out.Targets, TargetCheck{Target: t, Value: v, Met: t.Met(v)})
	}

	out.AGP = agp(pts, loc, !slices.Contains(out.Flags, FlagShortPeriod) && !slices.Contains(out.Flags, FlagLowSensorActivity))
	out.Episodes = episodes(pts, loc, o.Episode)
	return out
}
