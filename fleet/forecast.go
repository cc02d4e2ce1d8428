package fleet

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/forecast"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/usage"
)

// HistoryMonths is how many months of daily demand a forecast reads, the current one included:
// two years and a month, enough for the yearly cycle (forecast.MinYearly days).
const HistoryMonths = 25

// ForecastMonths is how many calendar months after the current one a forecast covers.
const ForecastMonths = 3

// Demand is a centre's daily demand of one device kind: for stations, the uses on each local
// day; for home devices, how many of them were in use (had a reading) that day. It runs from the
// centre's first day with a use of the kind to Last, the last complete local day before now.
type Demand struct {
	Site  string
	Kind  devices.Kind
	Mode  devices.Mode
	First usage.Day
	Last  usage.Day
	Daily []float64
	// Condition names the conditions (of Conditions, joined by "+") whose plans ask for the
	// kind; empty when none does.
	Condition string
	// Patients are, for a kind a plan asks for, the centre's patients on such a plan at the end
	// of each day of Daily, from the registry's log (0 before it began); nil otherwise, or
	// without the log.
	Patients []float64
}

// DemandHistory returns the daily demand of every kind (or scope.Kind) at every centre in scope
// with a use in the last HistoryMonths months, by site and kind. Uses are counted at the
// centre the device was at, whatever its status that day. With the registry's log of patients,
// each series of a kind a plan asks for carries its patients on the plan day by day.
func (r *Reports) DemandHistory(ctx context.Context, scope Scope) ([]Demand, error) {
	dir, err := r.directory(ctx)
	if err != nil {
		return nil, err
	}
	now := r.now()
	to := usage.MonthOf(now.UTC())
	from := to
	for range HistoryMonths - 1 {
		from = from.Prev()
	}
	type acc struct {
		mode  devices.Mode
		first int
		days  map[int]float64
	}
	accs := map[stockKey]*acc{}
	err = r.store.EachMonthUses(ctx, usage.MonthQuery{From: from, To: to, Sites: scope.Sites},
		func(device []byte, site string, month usage.Month, days uint32, uses []int32) {
			if !scope.hasSite(site) {
				return
			}
			d, ok := dir.Device(string(device))
			if !ok || scope.Kind != "" && d.Kind != scope.Kind {
				return
			}
			k := stockKey{site, d.Kind}
			a := accs[k]
			if a == nil {
				a = &acc{mode: d.Mode, first: 1 << 30, days: map[int]float64{}}
				accs[k] = a
			}
			first, _ := month.FirstDay().Number()
			i := 0
			for day := 1; day <= 31 && i < len(uses); day++ {
				if days&(1<<(day-1)) == 0 {
					continue
				}
				n := first + day - 1
				if d.Mode == devices.Home {
					a.days[n]++
				} else {
					a.days[n] += float64(uses[i])
				}
				a.first = min(a.first, n)
				i++
			}
		})
	if err != nil {
		return nil, err
	}
	out := make([]Demand, 0, len(accs))
	for k, a := range accs {
		local := now.In(dir.Location(k.site))
		last, _ := usage.DayOf(local.AddDate(0, 0, -1), time.UTC).Number()
		if a.first > last {
			continue // nothing before today
		}
		d := Demand{Site: k.site, Kind: k.kind, Mode: a.mode, First: usage.DayNumbered(a.first), Last: usage.DayNumbered(last),
			Daily: make([]float64, last-a.first+1)}
		for n, v := range a.days {
			if n <= last {
				d.Daily[n-a.first] = v
			}
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Demand) int { return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Kind, b.Kind)) })
	if r.patients != nil {
		records, err := patientRecords(ctx, r.patients)
		if err != nil {
			return nil, err
		}
		attachPatients(records, out, dir.Location)
	}
	return out, nil
}

// MonthForecast is the forecast mean daily demand of one calendar month.
type MonthForecast struct {
	Month usage.Month
	forecast.Point
	// Patients is, from the patient-driven model, the mean patients on the plan projected
	// over the month; 0 from the usage-only model.
	Patients float64
}

// DemandForecast is the forecast of one kind's daily demand at one centre.
type DemandForecast struct {
	Site  string
	Kind  devices.Kind
	Model string    // the model chosen (forecast.Forecaster's Name: "…×patients" when patient-driven)
	Days  int       // days of history it was fitted to
	Last  usage.Day // the last day of history
	// Driver is DriverPatients when the demand was forecast from the patients on a plan,
	// DriverUsage when from its use alone.
	Driver string
	// Why says, for the usage-only model, why not the patients (forecast.Usage*).
	Why string
	// Condition names the conditions whose plans ask for the kind ("" for none); Patients is
	// how many of the centre's patients were on such a plan on the last day.
	Condition string
	Patients  float64
	// Months are the ForecastMonths calendar months after the current one.
	Months []MonthForecast
}

// The drivers of a forecast.
const (
	DriverUsage    = "usage"
	DriverPatients = "patients"
)

// ForecastMonth is the first month a forecast covers, the one a plan on the forecast judges
// by: the month after the current one (in UTC).
func (r *Reports) ForecastMonth() usage.Month { return usage.MonthOf(r.now().UTC()).Next() }

// forecastCache keeps the forecasts of the last complete day, for each kind asked for: they
// change only with the day (or with uses recorded late, which the next day takes in).
type forecastCache struct {
	mu   sync.Mutex
	day  string // the UTC day of now when they were made
	byOf map[devices.Kind][]DemandForecast
}

// Forecast forecasts the daily demand of every kind (or scope.Kind) at every centre in scope
// for the ForecastMonths calendar months after the current one, from the centre's daily demand
// up to yesterday (see DemandHistory and package forecast).
func (r *Reports) Forecast(ctx context.Context, scope Scope) ([]DemandForecast, error) {
	all, err := r.forecastAll(ctx, scope.Kind)
	if err != nil {
		return nil, err
	}
	if scope.Sites == nil {
		return all, nil
	}
	return slices.DeleteFunc(slices.Clone(all), func(f DemandForecast) bool { return !scope.hasSite(f.Site) }), nil
}

// forecastAll is Forecast of every site, kept for the day.
func (r *Reports) forecastAll(ctx context.Context, kind devices.Kind) ([]DemandForecast, error) {
	now := r.now()
	day := now.UTC().Format(usage.DayLayout)
	c := &r.forecasts
	c.mu.Lock()
	if c.day == day {
		if fs, ok := c.byOf[kind]; ok {
			c.mu.Unlock()
			return fs, nil
		}
	}
	c.mu.Unlock()
	hist, err := r.DemandHistory(ctx, Scope{Kind: kind})
	if err != nil {
		return nil, err
	}
	out := forecastDemands(hist, r.ForecastMonth())
	c.mu.Lock()
	if c.day != day {
		c.day, c.byOf = day, map[devices.Kind][]DemandForecast{}
	}
	c.byOf[kind] = out
	c.mu.Unlock()
	return out, nil
}

// Basis is the demand a plan judges by.
type Basis string

// Bases.
const (
	// BasisHistory is last month's use (the assessment's).
	BasisHistory Basis = "history"
	// BasisForecast is the forecast use of the month after the current one.
	BasisForecast Basis = "forecast"
)

// Bases lists the bases.
var Bases = []Basis{BasisHistory, BasisForecast}

// onForecast puts the forecast of the month after the current one in place of last month's
// use: each stock's demand is the forecast mean, and its history ends with the utilisation that
// demand gives its working devices now (the oldest month dropped), so that it is short when the
// forecast month would be above the high line, and spare when it and the months before it are
// below the low line. A stock without a forecast (no use in the history) has a demand of 0. It
// returns the forecast of each stock, in us's order.
func (r *Reports) onForecast(ctx context.Context, kind devices.Kind, us []reallocation.Usage) ([]*MonthForecast, error) {
	fs, err := r.forecastAll(ctx, kind)
	if err != nil {
		return nil, err
	}
	by := make(map[stockKey]*MonthForecast, len(fs))
	for i := range fs {
		if len(fs[i].Months) > 0 {
			by[stockKey{fs[i].Site, fs[i].Kind}] = &fs[i].Months[0]
		}
	}
	out := make([]*MonthForecast, len(us))
	months := r.thresholds.Months
	for i := range us {
		u := &us[i]
		f := by[stockKey{u.Site, u.Type}]
		out[i] = f
		u.Demand = 0
		if f != nil {
			u.Demand = f.Mean
		}
		util := u.Utilisation(u.Devices)
		h := append(slices.Clone(u.History), util)
		u.History = h[max(len(h)-months, 0):]
	}
	return out, nil
}

// forecastDemands forecasts each series for the ForecastMonths calendar months from month
// (see forecastDemand), in hist's order; a series that cannot be fitted is left out. The series
// are fitted in parallel, by as many goroutines as GOMAXPROCS.
func forecastDemands(hist []Demand, month usage.Month) []DemandForecast {
	fs := make([]DemandForecast, len(hist))
	ok := make([]bool, len(hist))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(hist)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(hist); i = int(next.Add(1)) - 1 {
				fs[i], ok[i] = forecastDemand(hist[i], month)
			}
		})
	}
	wg.Wait()
	out := make([]DemandForecast, 0, len(hist))
	for i := range fs {
		if ok[i] {
			out = append(out, fs[i])
		}
	}
	return out
}

// forecastDemand forecasts the series h for the ForecastMonths calendar months from month,
// from its patients when they drive it better than its use alone (forecast.FitWithPatients).
func forecastDemand(h Demand, month usage.Month) (DemandForecast, bool) {
	c, err := forecast.FitWithPatients(h.Daily, h.Patients)
	if err != nil {
		return DemandForecast{}, false
	}
	f := DemandForecast{Site: h.Site, Kind: h.Kind, Model: c.Name(), Days: c.Days(), Last: h.Last, Driver: DriverUsage,
		Why: c.Why, Condition: h.Condition}
	if c.Patients != nil {
		f.Driver = DriverPatients
	}
	if n := len(h.Patients); n > 0 {
		f.Patients = h.Patients[n-1]
	}
	last, _ := h.Last.Number()
	for range ForecastMonths {
		first, _ := month.FirstDay().Number()
		from := max(first-last, 1)
		to := first - last + month.Days() - 1
		m := MonthForecast{Month: month, Point: c.Mean(from, to)}
		if c.Patients != nil {
			m.Patients = c.Patients.PatientsProjected(from, to)
		}
		f.Months = append(f.Months, m)
		month = month.Next()
	}
	return f, true
}
