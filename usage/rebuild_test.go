package usage_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// rebuildZones are the sites of the rebuild test: the zones farthest from UTC both ways, one
// in between, and UTC.
var rebuildZones = map[string]string{
	"sh":   "Asia/Shanghai",      // UTC+8
	"kiri": "Pacific/Kiritimati", // UTC+14
	"pago": "Pacific/Pago_Pago",  // UTC-11
	"utc":  "UTC",
}

func zoneOf(t *testing.T) func(string) *time.Location {
	return func(site string) *time.Location {
		loc, err := time.LoadLocation(rebuildZones[site])
		if err != nil {
			t.Fatalf("zone of %s: %v", site, err)
		}
		return loc
	}
}

// TestRebuildCountsLocalDays writes points around the edges of the local days of sites in
// zones from UTC-11 to UTC+14, and rebuilds two days of usage from them.
func TestRebuildCountsLocalDays(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	ms := func(s string) int64 {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return at.UnixMilli()
	}
	lines := []string{
		// sh, UTC+8: the last millisecond of the 20th, then midnight of the 21st.
		fmt.Sprintf("glucose,device=A,site=sh value=5.1 %d", ms("2026-11-20T15:59:59.999Z")),
		fmt.Sprintf("glucose,device=A,site=sh value=5.2 %d", ms("2026-11-20T16:00:00Z")),
		// Several measurements and fields at one time are one use; a copy under another site
		// (sent again after a move) takes the first site in byte order.
		fmt.Sprintf("bp,device=A,site=sh systolic=120,diastolic=80,pulse=70 %d", ms("2026-11-21T02:00:00Z")),
		fmt.Sprintf("weight,device=A,site=sh,patient=P-1 value=70 %d", ms("2026-11-21T02:00:00Z")),
		fmt.Sprintf("weight,device=A,site=utc,patient=P-1 value=70 %d", ms("2026-11-21T02:00:00Z")),
		// Device status is not a use.
		fmt.Sprintf("device_status,device=A,site=sh battery=80 %d", ms("2026-11-21T03:00:00Z")),
		// utc: at a boundary between two of the rebuild's UTC-day queries (10:00Z), and around
		// the end of the period.
		fmt.Sprintf("spo2,device=B,site=utc value=97 %d", ms("2026-11-21T10:00:00Z")),
		fmt.Sprintf("spo2,device=B,site=utc value=97 %d", ms("2026-11-22T23:59:59.999Z")),
		fmt.Sprintf("spo2,device=B,site=utc value=97 %d", ms("2026-11-23T00:00:00Z")),
		// kiri, UTC+14: the very first instant of the period (the first query's start), and the
		// last millisecond of it.
		fmt.Sprintf("heart_rate,device=C,site=kiri value=60 %d", ms("2026-11-20T10:00:00Z")),
		fmt.Sprintf("heart_rate,device=C,site=kiri value=60 %d", ms("2026-11-20T09:59:59.999Z")),
		fmt.Sprintf("heart_rate,device=C,site=kiri value=60 %d", ms("2026-11-22T09:59:59.999Z")),
		fmt.Sprintf("heart_rate,device=C,site=kiri value=60 %d", ms("2026-11-22T10:00:00Z")),
		// pago, UTC-11: the first and last millisecond of the period there.
		fmt.Sprintf("temperature,device=D,site=pago value=36.6 %d", ms("2026-11-21T11:00:00Z")),
		fmt.Sprintf("temperature,device=D,site=pago value=36.6 %d", ms("2026-11-21T10:59:59.999Z")),
		fmt.Sprintf("temperature,device=D,site=pago value=36.6 %d", ms("2026-11-23T10:59:59.999Z")),
		fmt.Sprintf("temperature,device=D,site=pago value=36.6 %d", ms("2026-11-23T11:00:00Z")),
		// An event and a reading taken together.
		fmt.Sprintf("event,device=E,site=sh,kind=fall value=1,lat=31.2 %d", ms("2026-11-22T05:00:00Z")),
		fmt.Sprintf("heart_rate,device=E,site=sh value=120 %d", ms("2026-11-22T05:00:00Z")),
		// Points written without the registry have no site: no use.
		fmt.Sprintf("spo2,device=F value=97 %d", ms("2026-11-21T12:00:00Z")),
	}
	w := influx.NewWriter(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	defer w.Close()
	if err := w.Write(context.Background(), []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	reader := influx.NewReader(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	defer reader.Close()

	got, err := usage.Rebuild(context.Background(), reader, "2026-11-21", "2026-11-22", zoneOf(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []usage.DayCount{
		{Device: "A", Site: "sh", Day: "2026-11-21", Uses: 2},
		{Device: "B", Site: "utc", Day: "2026-11-21", Uses: 1},
		{Device: "B", Site: "utc", Day: "2026-11-22", Uses: 1},
		{Device: "C", Site: "kiri", Day: "2026-11-21", Uses: 1},
		{Device: "C", Site: "kiri", Day: "2026-11-22", Uses: 1},
		{Device: "D", Site: "pago", Day: "2026-11-21", Uses: 1},
		{Device: "D", Site: "pago", Day: "2026-11-22", Uses: 1},
		{Device: "E", Site: "sh", Day: "2026-11-22", Uses: 1},
	}
	if !slices.Equal(got.Counts, want) {
		t.Errorf("Rebuild(2026-11-21..22).Counts =\n%v\nwant\n%v", got.Counts, want)
	}
	if got.Uses() != 9 || len(got.Keys) != 9 {
		t.Errorf("Rebuild: %d uses, %d keys; want 9 of each", got.Uses(), len(got.Keys))
	}
	for i, k := range got.Keys {
		if k.Day < "2026-11-21" || k.Day > "2026-11-22" || (i > 0 && got.Keys[i-1].Device == k.Device && !got.Keys[i-1].At.Before(k.At)) {
			t.Errorf("key %d %+v: want keys within the period, by device and time", i, k)
		}
		if k.Device == "A" && k.Site != "sh" {
			t.Errorf("key %+v: want site sh, the first of sh and utc", k)
		}
	}
	if got.Untagged != 1 {
		t.Errorf("Rebuild.Untagged = %d; want 1", got.Untagged)
	}

	// One day, and a period with nothing.
	one, err := usage.Rebuild(context.Background(), reader, "2026-11-22", "2026-11-22", zoneOf(t))
	if err != nil {
		t.Fatal(err)
	}
	var wantOne []usage.DayCount
	for _, c := range want {
		if c.Day == "2026-11-22" {
			wantOne = append(wantOne, c)
		}
	}
	if !slices.Equal(one.Counts, wantOne) {
		t.Errorf("Rebuild(2026-11-22).Counts = %v; want %v", one.Counts, wantOne)
	}
	none, err := usage.Rebuild(context.Background(), reader, "2026-12-01", "2026-12-31", zoneOf(t))
	if err != nil || len(none.Counts) != 0 || len(none.Keys) != 0 {
		t.Errorf("Rebuild(December) = %+v, %v; want nothing", none, err)
	}
	if _, err := usage.Rebuild(context.Background(), reader, "2026-11-22", "2026-11-21", zoneOf(t)); err == nil {
		t.Error("Rebuild(from after to) = nil error; want one")
	}
	nodb := influx.NewReader(influx.Config{URL: ix.URL, Bucket: "nodb/autogen"})
	defer nodb.Close()
	if _, err := usage.Rebuild(context.Background(), nodb, "2026-11-21", "2026-11-22", zoneOf(t)); err == nil {
		t.Error("Rebuild from a database that does not exist = nil error; want one")
	}
}

// periodKeeper is a store that tells the periods it replaced.
type periodKeeper struct {
	*store.Store
	periods []string
}

func (p *periodKeeper) ReplaceUsage(ctx context.Context, from, to usage.Day, counts []usage.DayCount, keys []usage.Use) error {
	p.periods = append(p.periods, fmt.Sprintf("%s..%s", from, to))
	return p.Store.ReplaceUsage(ctx, from, to, counts, keys)
}

// TestRebuilderReplacesAWeekAtATime rebuilds ten days over counts that are wrong: a week is
// replaced, then three days, and the store ends up with what the readings say.
func TestRebuilderReplacesAWeekAtATime(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	ctx := context.Background()
	nov := func(day, hour int) int64 { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC).UnixMilli() }
	lines := []string{
		fmt.Sprintf("spo2,device=A,site=utc value=97 %d", nov(20, 0)),
		fmt.Sprintf("spo2,device=A,site=utc value=97 %d", nov(20, 1)),
		fmt.Sprintf("spo2,device=B,site=utc value=97 %d", nov(27, 0)),
		fmt.Sprintf("spo2,device=C value=97 %d", nov(23, 0)), // no site: no use
	}
	w := influx.NewWriter(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	defer w.Close()
	if err := w.Write(ctx, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	reader := influx.NewReader(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	defer reader.Close()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "vw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wrong := []usage.DayCount{{Device: "A", Site: "elsewhere", Day: "2026-11-21", Uses: 99}}
	if err := st.ReplaceUsage(ctx, "2026-11-20", "2026-11-29", wrong, nil); err != nil {
		t.Fatal(err)
	}

	keeper := &periodKeeper{Store: st}
	utc := func(string) *time.Location { return time.UTC }
	got, err := usage.NewRebuilder(keeper, reader, utc).Rebuild(ctx, "2026-11-20", "2026-11-29")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"2026-11-20..2026-11-26", "2026-11-27..2026-11-29"}; !slices.Equal(keeper.periods, want) {
		t.Errorf("Rebuild replaced %v; want %v", keeper.periods, want)
	}
	want := []usage.DayCount{
		{Device: "A", Site: "utc", Day: "2026-11-20", Uses: 2},
		{Device: "B", Site: "utc", Day: "2026-11-27", Uses: 1},
	}
	if !slices.Equal(got.Before, wrong) || !slices.Equal(got.After, want) || got.Keys != 3 || got.Untagged != 1 {
		t.Errorf("Rebuild = %+v; want before %v, after %v, 3 keys, 1 untagged", got, wrong, want)
	}
	stored, err := st.DayCounts(ctx, usage.Query{From: "2026-11-20", To: "2026-11-29"})
	if err != nil || !slices.Equal(stored, want) {
		t.Errorf("the store holds %v, %v; want %v", stored, err, want)
	}
}
