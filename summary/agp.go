package summary

import (
	"slices"
	"time"
)

// AGPBinWidth is the width of the ambulatory glucose profile's time-of-day bins.
const AGPBinWidth = 15 * time.Minute

// AGP is the ambulatory glucose profile (Battelino 2019): the percentiles of glucose by time of
// day, over all the days of the period, in the patient's local time.
type AGP struct {
	// Reportable says the period meets what an AGP report needs (14 days, 70% sensor
	// activity); when not, the CGM report's flags say why.
	Reportable bool
	// Bins are the 96 bins of the day, from local midnight.
	Bins []AGPBin
}

// AGPBin holds the percentiles of the readings of one time-of-day bin; they are zero when
// Readings is.
type AGPBin struct {
	// Start is the bin's start, from local midnight.
	Start                  time.Duration
	Readings               int
	P5, P25, P50, P75, P95 Glucose
}

// agp bins the points by local time of day and takes their percentiles.
func agp(pts []CGMPoint, loc *time.Location, reportable bool) AGP {
	n := int(24 * time.Hour / AGPBinWidth)
	vals := make([][]float64, n)
	for _, pt := range pts {
		lt := time.UnixMilli(pt.T).In(loc)
		i := int(time.Duration(lt.Hour())*time.Hour+time.Duration(lt.Minute())*time.Minute) / int(AGPBinWidth)
		vals[i] = append(vals[i], pt.V)
	}
	out := AGP{Reportable: reportable, Bins: make([]AGPBin, n)}
	for i, vs := range vals {
		b := AGPBin{Start: time.Duration(i) * AGPBinWidth, Readings: len(vs)}
		if len(vs) > 0 {
			slices.Sort(vs)
			b.P5, b.P25, b.P50 = Glucose(Quantile(vs, 0.05)), Glucose(Quantile(vs, 0.25)), Glucose(Quantile(vs, 0.50))
			b.P75, b.P95 = Glucose(Quantile(vs, 0.75)), Glucose(Quantile(vs, 0.95))
		}
		out.Bins[i] = b
	}
	return out
}

// Quantile returns the q-quantile (0 <= q <= 1) of sorted, a non-empty ascending slice, by
// linear interpolation between order statistics: Hyndman and Fan's type 7, the default of R,
// NumPy and spreadsheets' PERCENTILE, which AGP software commonly uses.
func Quantile(sorted []float64, q float64) float64 {
	h := q * float64(len(sorted)-1)
	lo := int(h)
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}
