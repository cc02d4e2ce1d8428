package simulators

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/reallocation"
)

// historyEnd is when the histories of these tests end: a Monday morning in Chengdu, so that
// August, September and October 2026 are the last three complete months.
var historyEnd = time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

const demoHistory = 130 * 24 * time.Hour

// used is what a fleet's history did, as utilisation counts it: uses per device and local day,
// a use being a distinct measurement time of the device.
type used struct {
	fleet    *Fleet
	messages int
	perDay   map[string]map[string]int // device -> day -> uses
	flagged  map[string]map[string]int // device -> day -> messages with FailureFlag
	payloads map[string][][]byte       // device -> payloads, when kept
	repairs  []Repair                  // the history's (Fleet.Repairs)
}

// outDays are the local days of m that do not count for device id, as the platform counts days
// in service: those wholly under repair, from the day after it went under maintenance to the
// day before it was back.
func (u *used) outDays(id string, m month) int {
	n := 0
	for _, r := range u.repairs {
		if r.Device != id {
			continue
		}
		for day := midnight(r.From.In(localZone())).AddDate(0, 0, 1); day.Before(midnight(r.Until.In(localZone()))); day = day.AddDate(0, 0, 1) {
			if strings.HasPrefix(Day(day), m.name) {
				n++
			}
		}
	}
	return n
}

// walkHistory runs every device's backlog over [from, to), checking that each message is one
// ingest accepts at to, measured within the period, later than the device's previous one.
func walkHistory(t *testing.T, f *Fleet, from, to time.Time, keep bool) *used {
	t.Helper()
	u := &used{fleet: f, perDay: map[string]map[string]int{}, flagged: map[string]map[string]int{}, payloads: map[string][][]byte{},
		repairs: f.Repairs(from, to)}
	for _, d := range f.Devices() {
		u.perDay[d.ID], u.flagged[d.ID] = map[string]int{}, map[string]int{}
		seen := map[int64]bool{}
		var last time.Time
		seq := d.seq
		b := f.Backlog(d, from, to)
		defer func() {
			if d.seq != seq {
				t.Errorf("%s: sequence number %d after its backlog, %d before; want it left for the live stream", d.ID, d.seq, seq)
			}
		}()
		for {
			m, ok := b.Next()
			if !ok {
				break
			}
			u.messages++
			if m.Time.Before(from) || !m.Time.Before(to) || !m.Time.After(last) {
				t.Fatalf("%s: message at %v after %v; want later, within [%v, %v)", d.ID, m.Time, last, from, to)
			}
			last = m.Time
			if m.Seq != 0 {
				t.Fatalf("%s: backlog message with seq %d; want none", d.ID, m.Seq)
			}
			if ms := m.Time.UnixMilli(); !seen[ms] {
				seen[ms] = true
				u.perDay[d.ID][Day(m.Time)]++
			}
			if slices.Contains(m.Flags, FailureFlag) {
				u.flagged[d.ID][Day(m.Time)]++
			}
			if keep || u.messages%97 == 0 {
				p := m.JSON()
				msg, rej := reading.Decode(d.ID, p, to)
				if len(rej) > 0 || msg.TimeMissing || len(msg.Readings) == 0 || !msg.Readings[0].Time.Equal(m.Time.Truncate(time.Millisecond)) {
					t.Fatalf("%s: %s: rejected %v, decoded %+v; want accepted, measured at %v", d.ID, p, rej, msg, m.Time)
				}
				if keep {
					u.payloads[d.ID] = append(u.payloads[d.ID], p)
				}
			}
		}
	}
	return u
}

// month is a calendar month of the fleet's zone.
type month struct {
	name string // YYYY-MM
	days int
}

// completeMonths are the n complete months before end's, oldest first.
func completeMonths(end time.Time, n int) []month {
	local := end.In(localZone())
	var ms []month
	for i := n; i >= 1; i-- {
		first := time.Date(local.Year(), local.Month()-time.Month(i), 1, 0, 0, 0, 0, localZone())
		ms = append(ms, month{first.Format("2006-01"), first.AddDate(0, 1, -1).Day()})
	}
	return ms
}

// utilisation of kind k at site in m, as docs/design.md defines it for devices in service the whole
// month but for their days under repair: for stations uses / (rated x days in service), for home
// devices days with a use / days lent; summed over the site's devices of the kind. It also
// returns the mean uses a day (the demand) and the number of devices.
func (u *used) utilisation(site string, k Kind, m month) (util, demand float64, n int) {
	var uses, capacity float64
	inService := 0
	for _, d := range u.fleet.Devices() {
		if d.Kind != k || u.fleet.Site(d) != site {
			continue
		}
		n++
		inService += m.days - u.outDays(d.ID, m)
		for day, c := range u.perDay[d.ID] {
			if !strings.HasPrefix(day, m.name) {
				continue
			}
			if k == Station {
				uses += float64(c)
			} else {
				uses++
			}
		}
	}
	rated := 1.0
	if k == Station {
		rated = float64(u.fleet.Scenario().RatedUsesPerDay)
	}
	capacity = rated * float64(inService)
	if n == 0 {
		return 0, 0, 0
	}
	return uses / capacity, uses / float64(m.days), n
}

// bands are the utilisation each level of load should show in every month: the scenario's
// intent, inside the planner's thresholds of 60% and 90%.
var bands = map[string]struct{ stations, home [2]float64 }{
	"idle":       {stations: [2]float64{0.25, 0.45}, home: [2]float64{0.25, 0.45}},
	"normal":     {stations: [2]float64{0.65, 0.85}, home: [2]float64{0.65, 0.85}},
	"overloaded": {stations: [2]float64{1.10, 1.40}, home: [2]float64{0.95, 1.00}},
}

func TestScenarioUtilisationBands(t *testing.T) {
	for _, tt := range []struct {
		devices int
		seed    int64
	}{{60, 1}, {150, 7}} {
		t.Run(fmt.Sprintf("devices=%d,seed=%d", tt.devices, tt.seed), func(t *testing.T) {
			sc := Reallocation()
			f := NewScenarioFleet(tt.devices, tt.seed, DefaultMix(), sc)
			u := walkHistory(t, f, HistoryStart(historyEnd, demoHistory), historyEnd, false)
			t.Logf("%d devices, %d messages over %v", f.Len(), u.messages, demoHistory)
			if u.messages > 200_000*tt.devices/60 {
				t.Errorf("%d messages over %v; want at most about 200,000 for 60 devices", u.messages, demoHistory)
			}
			for i, c := range sc.Centres {
				site := centres()[i].id
				band := bands[c.Level()]
				for _, m := range completeMonths(historyEnd, 3) {
					util, _, n := u.utilisation(site, Station, m)
					t.Logf("%s %s %s: %d stations at %.0f%%", m.name, site, c.Level(), n, 100*util)
					if n != c.Stations*stationScale(tt.devices) || util < band.stations[0] || util > band.stations[1] {
						t.Errorf("%s %s (%s): %d stations at %.2f; want %d at %.2f-%.2f",
							m.name, site, c.Level(), n, util, c.Stations*stationScale(tt.devices), band.stations[0], band.stations[1])
					}
					for _, k := range Kinds {
						if k == Station {
							continue
						}
						want := bands["normal"].home
						if slices.Contains(sc.Shaped, k) {
							want = band.home
						}
						if util, _, n := u.utilisation(site, k, m); n > 0 && (util < want[0] || util > want[1]) {
							t.Errorf("%s %s (%s): %d %s devices used on %.2f of days; want %.2f-%.2f", m.name, site, c.Level(), n, k, util, want[0], want[1])
						}
					}
				}
			}
		})
	}
}

// TestScenarioPlan feeds the history's utilisation to the reallocation planner, as the platform
// will: idle centres have stations and cuffs to spare, overloaded ones are short of them, the
// plan moves stations and cuffs from idle to overloaded centres and meets every shortage, and no
// other kind is spare or short.
func TestScenarioPlan(t *testing.T) {
	sc := Reallocation()
	f := NewScenarioFleet(60, 1, DefaultMix(), sc)
	start := HistoryStart(historyEnd, demoHistory)
	u := walkHistory(t, f, start, historyEnd, false)
	reg := f.RegistrySince(start)
	var centresOf []reallocation.Centre
	level := map[string]string{}
	for i, s := range reg.Sites {
		centresOf = append(centresOf, reallocation.Centre{ID: s.ID, Lat: s.Lat, Lon: s.Lon})
		level[s.ID] = sc.Centres[i].Level()
	}
	months := completeMonths(historyEnd, 3)
	var donors []reallocation.Donor
	var receivers []reallocation.Receiver
	var capacity []reallocation.Stock
	for _, s := range reg.Sites {
		for _, k := range Kinds {
			var history []float64
			var demand float64
			var n int
			for _, m := range months {
				var util float64
				util, demand, n = u.utilisation(s.ID, k, m)
				history = append(history, util)
			}
			if n == 0 {
				continue
			}
			rated := 1.0
			if k == Station {
				rated = float64(sc.RatedUsesPerDay)
			}
			stock := reallocation.Stock{Site: s.ID, Type: k.RegistryKind(), Devices: n, Rated: rated, Demand: demand}
			capacity = append(capacity, stock)
			a := reallocation.Assess(reallocation.Usage{Stock: stock, History: history}, reallocation.DefaultThresholds())
			switch {
			case a.Status == reallocation.Spare && level[s.ID] == "idle" && (k == Station || k == BPCuff):
				var ids []string
				for _, d := range f.Devices() {
					if d.Kind == k && f.Site(d) == s.ID {
						ids = append(ids, d.ID)
					}
				}
				donors = append(donors, reallocation.DonorOf(a, ids))
			case a.Status == reallocation.Short && level[s.ID] == "overloaded" && (k == Station || k == BPCuff):
				receivers = append(receivers, reallocation.ReceiverOf(a))
			case a.Status != reallocation.Balanced:
				t.Errorf("%s %s (%s) is %v (history %.2f); want only idle or overloaded stations and cuffs spare or short",
					s.ID, k, level[s.ID], a.Status, history)
			}
		}
	}
	p, err := reallocation.Plan(centresOf, donors, receivers)
	if err != nil {
		t.Fatal(err)
	}
	moved := map[Kind]int{}
	for _, m := range p.Moves {
		t.Log(m.Explain())
		moved[Kind(m.Type)] += m.Count
		if level[m.From] != "idle" || level[m.To] != "overloaded" {
			t.Errorf("move %s; want from an idle centre to an overloaded one", m.Explain())
		}
	}
	if p.Unmet != 0 || moved[Station] < 2 || moved[BPCuff] < 1 {
		t.Errorf("plan moves %v, %d unmet of %d short; want every shortage met, at least 2 stations and a cuff moved", moved, p.Unmet, p.Shortage)
	}

	// The failing station's residents have somewhere to go.
	failing := f.Failing()
	alts, err := reallocation.Alternatives(f.Site(failing), devices.Station, centresOf, capacity)
	if err != nil || len(alts) == 0 {
		t.Errorf("alternatives to %s at %s: %v, %v; want a nearby centre with spare stations", failing.ID, f.Site(failing), alts, err)
	}
}

func TestFailingStation(t *testing.T) {
	sc := Reallocation()
	f := NewScenarioFleet(60, 1, DefaultMix(), sc)
	failing := f.Failing()
	if failing == nil || failing.Kind != Station || f.Site(failing) != centres()[sc.Failing].id {
		t.Fatalf("Failing() = %v; want a station at %s", failing, centres()[sc.Failing].id)
	}
	if level := sc.Centres[sc.Failing].Level(); level == "idle" {
		t.Errorf("failing station at an %s centre; want a normal or overloaded one", level)
	}
	u := walkHistory(t, f, HistoryStart(historyEnd, 10*24*time.Hour), historyEnd, false)
	lastDay := historyEnd.AddDate(0, 0, -failDaysBefore).Format(time.DateOnly)
	var days []string
	for day := range u.perDay[failing.ID] {
		days = append(days, day)
	}
	slices.Sort(days)
	if len(days) == 0 || days[len(days)-1] != lastDay {
		t.Fatalf("failing station used on %v; want its last day %s", days, lastDay)
	}
	for _, day := range days {
		want := 0
		if day == lastDay {
			want = u.perDay[failing.ID][day]
		}
		if got := u.flagged[failing.ID][day]; got != want || day == lastDay && got < 3 {
			t.Errorf("failing station: %d of %d readings on %s flagged %s; want %d (at least 3 on its last day)",
				got, u.perDay[failing.ID][day], day, FailureFlag, want)
		}
	}
	faulty := map[string]bool{} // device and local day of a repair's fault
	for _, r := range u.repairs {
		faulty[r.Device+" "+Day(r.Fault)] = true
	}
	for id, byDay := range u.flagged {
		for day := range byDay {
			if d := f.Device(id); d.Kind == Station && d != failing && !faulty[id+" "+day] {
				t.Errorf("%s flagged %s on %s; want only the failing station and stations failing before a repair (a CGM may, now and then)", id, FailureFlag, day)
			}
		}
	}
	// The others go on until the end.
	today := historyEnd.Format(time.DateOnly)
	for _, d := range f.Devices() {
		if d.Kind == Station && d != failing && u.perDay[d.ID][today] == 0 {
			t.Errorf("%s: no use on %s before 10:00; want the station working", d.ID, today)
		}
	}
}

func TestHistorySameSeedSameBytes(t *testing.T) {
	from, to := HistoryStart(historyEnd, 3*24*time.Hour), historyEnd
	a := walkHistory(t, NewScenarioFleet(60, 7, DefaultMix(), Reallocation()), from, to, true)
	b := walkHistory(t, NewScenarioFleet(60, 7, DefaultMix(), Reallocation()), from, to, true)
	if a.messages == 0 || !reflect.DeepEqual(a.payloads, b.payloads) {
		t.Errorf("histories of seed 7: %d and %d messages, equal %v; want the same bytes", a.messages, b.messages, reflect.DeepEqual(a.payloads, b.payloads))
	}
	c := walkHistory(t, NewScenarioFleet(60, 8, DefaultMix(), Reallocation()), from, to, true)
	if reflect.DeepEqual(a.payloads, c.payloads) {
		t.Errorf("histories of seeds 7 and 8 are the same")
	}
	// The default fleet has a history too: its natural schedule.
	if d := walkHistory(t, NewFleet(20, 7, DefaultMix()), from, to, false); d.messages == 0 {
		t.Errorf("the default fleet's history is empty")
	}
}

func TestHistoryStart(t *testing.T) {
	tests := []struct {
		end  time.Time
		d    time.Duration
		want string
	}{
		{historyEnd, demoHistory, "2026-07-16T00:00:00+08:00"},
		{historyEnd, 0, "2026-11-23T00:00:00+08:00"},
		{time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC), 24 * time.Hour, "2026-11-22T00:00:00+08:00"}, // 01:00 on the 23rd in Chengdu
	}
	for _, tt := range tests {
		if got := HistoryStart(tt.end, tt.d).Format(time.RFC3339); got != tt.want {
			t.Errorf("HistoryStart(%v, %v) = %s; want %s", tt.end, tt.d, got, tt.want)
		}
	}
}

func TestScenarioFleet(t *testing.T) {
	sc := Reallocation()
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := LookupScenario("reallocation"); err != nil {
		t.Error(err)
	}
	if _, err := LookupScenario("nope"); err == nil || !strings.Contains(err.Error(), "reallocation") {
		t.Errorf("LookupScenario(nope) = %v; want an error naming the scenarios", err)
	}
	for _, n := range []int{60, 250} {
		f := NewScenarioFleet(n, 3, DefaultMix(), sc)
		perSite := map[string]int{}
		kinds := map[Kind]int{}
		for _, d := range f.Devices() {
			kinds[d.Kind]++
			if d.Kind == Station {
				perSite[f.Site(d)]++
			}
		}
		if f.Len() != n || kinds[Station] != sc.stationCount(n) || len(kinds) != len(Kinds) {
			t.Errorf("NewScenarioFleet(%d): %d devices, kinds %v; want %d stations and every kind", n, f.Len(), kinds, sc.stationCount(n))
		}
		for i, c := range sc.Centres {
			if got := perSite[centres()[i].id]; got != c.Stations*stationScale(n) {
				t.Errorf("NewScenarioFleet(%d): %d stations at %s; want %d", n, got, centres()[i].id, c.Stations*stationScale(n))
			}
		}
	}
	// A scenario does not change the default fleet.
	if a, b := NewFleet(60, 1, DefaultMix()), NewScenarioFleet(60, 1, DefaultMix(), nil); !reflect.DeepEqual(a.Registry(historyEnd), b.Registry(historyEnd)) || a.Failing() != nil {
		t.Errorf("NewScenarioFleet(nil) differs from NewFleet")
	}
}

func TestRegistrySince(t *testing.T) {
	sc := Reallocation()
	f := NewScenarioFleet(60, 1, DefaultMix(), sc)
	start := HistoryStart(historyEnd, demoHistory)
	r := f.RegistrySince(start)
	if len(r.Sites) != len(sc.Centres) {
		t.Errorf("%d sites; want the scenario's %d", len(r.Sites), len(sc.Centres))
	}
	for _, d := range r.Devices {
		if !d.InService.Equal(start) {
			t.Errorf("%s in service %v; want %v", d.ID, d.InService, start)
		}
		if d.Mode == devices.StationMode && d.RatedUsesPerDay != sc.RatedUsesPerDay {
			t.Errorf("station %s rated %d; want %d", d.ID, d.RatedUsesPerDay, sc.RatedUsesPerDay)
		}
	}
	for _, a := range r.Assignments {
		if !a.From.Equal(start) {
			t.Errorf("%s lent from %v; want %v, the history's start", a.DeviceID, a.From, start)
		}
	}

	dir := t.TempDir()
	if err := r.WriteCSV(dir); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(dir, "devices.csv"))
	col := slices.Index(rows[0], "in_service")
	if col < 0 {
		t.Fatalf("devices.csv header %v; want in_service", rows[0])
	}
	for _, row := range rows[1:] {
		if row[col] != "2026-07-16T00:00:00+08:00" {
			t.Errorf("devices.csv: %s in_service %q; want 2026-07-16T00:00:00+08:00", row[0], row[col])
		}
	}
	// Without a history the registry does not say when devices entered service.
	if err := f.Registry(historyEnd).WriteCSV(dir); err != nil {
		t.Fatal(err)
	}
	for _, row := range readCSV(t, filepath.Join(dir, "devices.csv"))[1:] {
		if row[col] != "" {
			t.Errorf("devices.csv of Registry: %s in_service %q; want empty", row[0], row[col])
		}
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestScenarioRealtimeSchedule: live, a scenario's devices keep the shares of their history,
// since both follow NextAt.
func TestScenarioRealtimeSchedule(t *testing.T) {
	f := NewScenarioFleet(60, 2, DefaultMix(), Reallocation())
	for _, d := range f.Devices() {
		if d.share <= 0 || d.share >= 1 || d.schedule.every > 0 {
			continue
		}
		const n = 60
		days := map[string]bool{}
		from := HistoryStart(historyEnd, n*24*time.Hour)
		for at := from; ; {
			at = d.NextAt(at)
			if !at.Before(from.AddDate(0, 0, n)) {
				break
			}
			days[Day(at)] = true
		}
		if want := d.share * float64(n); float64(len(days)) < want-2 || float64(len(days)) > want+2 {
			t.Errorf("%s: used on %d of %d days; want about %.0f (share %.2f)", d.ID, len(days), n, want, d.share)
		}
	}
}
