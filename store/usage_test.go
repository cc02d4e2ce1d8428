package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/usage"
)

// use is a use of device at site at the UTC time at (RFC 3339), on the day day.
func use(device, site, at string, day usage.Day) usage.Use {
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		panic(err)
	}
	return usage.Use{Device: device, Site: site, At: t, Day: day}
}

// mustRecord records uses and fails the test unless added is want.
func mustRecord(t *testing.T, s *Store, uses []usage.Use, want int) {
	t.Helper()
	added, err := s.RecordUses(context.Background(), uses)
	if err != nil || added != want {
		t.Fatalf("RecordUses(%d uses) = %d, %v; want %d added", len(uses), added, err, want)
	}
}

// dayCounts fails the test on an error.
func dayCounts(t *testing.T, s *Store, q usage.Query) []usage.DayCount {
	t.Helper()
	got, err := s.DayCounts(context.Background(), q)
	if err != nil {
		t.Fatalf("DayCounts(%+v): %v", q, err)
	}
	return got
}

func wantCounts(t *testing.T, what string, got, want []usage.DayCount) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v; want %v", what, got, want)
	}
}

// A use is its device and measurement time: repeats, within a call or across calls, count once,
// whatever their site or day says; counts are per device, site and day.
func testUsageRecordDedupes(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	s := mustOpen(t, dsn)
	v0, _ := s.RegistryVersion(ctx)

	mustRecord(t, s, nil, 0)
	mustRecord(t, s, []usage.Use{
		use("cuff-1", "s1", "2026-11-21T15:59:59.999Z", "2026-11-21"),
		use("cuff-1", "s1", "2026-11-21T16:00:00Z", "2026-11-22"),
		use("cuff-1", "s1", "2026-11-21T16:00:00Z", "2026-11-22"), // a repeat within the call
		use("cuff-1", "s1", "2026-11-21T16:00:00.001Z", "2026-11-22"),
		use("scale-1", "s2", "2026-11-21T16:00:00Z", "2026-11-21"), // same time, another device
	}, 4)
	mustRecord(t, s, []usage.Use{
		use("cuff-1", "s1", "2026-11-21T16:00:00Z", "2026-11-22"),     // recorded already
		use("cuff-1", "s9", "2026-11-21T16:00:00.001Z", "2026-11-23"), // recorded already, other site and day
		use("cuff-1", "s1", "2026-11-22T01:00:00Z", "2026-11-22"),
	}, 1)
	// A time below the millisecond is the same use.
	mustRecord(t, s, []usage.Use{{Device: "scale-1", Site: "s2", Day: "2026-11-21",
		At: time.Date(2026, 11, 21, 16, 0, 0, 400_000, time.UTC)}}, 0)

	wantCounts(t, "DayCounts(all)", dayCounts(t, s, usage.Query{From: "2026-11-01", To: "2026-11-30"}), []usage.DayCount{
		{Device: "cuff-1", Site: "s1", Day: "2026-11-21", Uses: 1},
		{Device: "cuff-1", Site: "s1", Day: "2026-11-22", Uses: 3},
		{Device: "scale-1", Site: "s2", Day: "2026-11-21", Uses: 1},
	})
	if n := storedKeys(t, dsn); n != 5 {
		t.Errorf("the database holds %d use keys; want 5", n)
	}
	if v, _ := s.RegistryVersion(ctx); v != v0 {
		t.Errorf("RecordUses moved the registry version from %d to %d; usage is not the registry", v0, v)
	}
	if log, _ := s.AuditLog(ctx, audit.Filter{}); len(log) != 0 {
		t.Errorf("RecordUses wrote audit rows %+v; want none", log)
	}
}

// Concurrent recorders of overlapping uses count each use once.
func testUsageRecordConcurrently(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	base := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	var uses []usage.Use
	for i := range 300 {
		uses = append(uses, usage.Use{Device: fmt.Sprintf("d-%d", i%7), Site: "s1", At: base.Add(time.Duration(i) * time.Second), Day: "2026-11-22"})
	}
	const callers = 4
	added := make(chan int, callers)
	errs := make(chan error, callers)
	for c := range callers {
		go func() {
			// Each caller records every use, in its own order and batches.
			mine := slices.Clone(uses)
			if c%2 == 1 {
				slices.Reverse(mine)
			}
			total := 0
			for start := 0; start < len(mine); start += 50 + c {
				n, err := s.RecordUses(context.Background(), mine[start:min(start+50+c, len(mine))])
				if err != nil {
					errs <- err
					return
				}
				total += n
			}
			added <- total
			errs <- nil
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatalf("RecordUses alongside others: %v", err)
		}
	}
	total := 0
	for range callers {
		total += <-added
	}
	if total != len(uses) {
		t.Errorf("%d callers added %d uses in all; want %d, each once", callers, total, len(uses))
	}
	sum := 0
	for _, c := range dayCounts(t, s, usage.Query{From: "2026-11-22", To: "2026-11-22"}) {
		sum += c.Uses
	}
	if sum != len(uses) {
		t.Errorf("counts add up to %d; want %d", sum, len(uses))
	}
}

func testUsageDayCountsQuery(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	mustRecord(t, s, []usage.Use{
		use("b", "s1", "2026-10-31T10:00:00Z", "2026-10-31"),
		use("b", "s1", "2026-11-01T10:00:00Z", "2026-11-01"),
		use("b", "s2", "2026-11-01T11:00:00Z", "2026-11-01"), // moved to s2 that day
		use("a", "s2", "2026-11-02T10:00:00Z", "2026-11-02"),
		use("a", "s2", "2026-11-02T11:00:00Z", "2026-11-02"),
		use("c", "s1", "2026-11-30T10:00:00Z", "2026-11-30"),
		use("c", "s1", "2026-12-01T10:00:00Z", "2026-12-01"),
	}, 7)
	a2 := usage.DayCount{Device: "a", Site: "s2", Day: "2026-11-02", Uses: 2}
	b31 := usage.DayCount{Device: "b", Site: "s1", Day: "2026-10-31", Uses: 1}
	b1s1 := usage.DayCount{Device: "b", Site: "s1", Day: "2026-11-01", Uses: 1}
	b1s2 := usage.DayCount{Device: "b", Site: "s2", Day: "2026-11-01", Uses: 1}
	c30 := usage.DayCount{Device: "c", Site: "s1", Day: "2026-11-30", Uses: 1}
	c1 := usage.DayCount{Device: "c", Site: "s1", Day: "2026-12-01", Uses: 1}
	tests := []struct {
		name string
		q    usage.Query
		want []usage.DayCount
	}{
		{"november", usage.Query{From: "2026-11-01", To: "2026-11-30"}, []usage.DayCount{a2, b1s1, b1s2, c30}},
		{"one day", usage.Query{From: "2026-11-01", To: "2026-11-01"}, []usage.DayCount{b1s1, b1s2}},
		{"everything", usage.Query{From: "2000-01-01", To: "2100-01-01"}, []usage.DayCount{a2, b31, b1s1, b1s2, c30, c1}},
		{"site", usage.Query{From: "2026-10-01", To: "2026-12-31", Site: "s1"}, []usage.DayCount{b31, b1s1, c30, c1}},
		{"devices", usage.Query{From: "2026-11-01", To: "2026-12-31", Devices: []string{"c", "a", "c"}}, []usage.DayCount{a2, c30, c1}},
		{"site and devices", usage.Query{From: "2026-11-01", To: "2026-11-30", Site: "s2", Devices: []string{"b"}}, []usage.DayCount{b1s2}},
		{"nothing", usage.Query{From: "2027-01-01", To: "2027-01-31"}, []usage.DayCount{}},
		{"unknown device", usage.Query{From: "2026-11-01", To: "2026-11-30", Devices: []string{"zzz"}}, []usage.DayCount{}},
	}
	for _, tt := range tests {
		wantCounts(t, tt.name+": DayCounts", dayCounts(t, s, tt.q), tt.want)
	}
	for _, q := range []usage.Query{
		{From: "2026-11-30", To: "2026-11-01"},
		{From: "2026-11-01"},
		{From: "2026-13-01", To: "2026-13-02"},
		{From: "2026-11-1", To: "2026-11-30"},
	} {
		_, err := s.DayCounts(context.Background(), q)
		wantCode(t, fmt.Sprintf("DayCounts(%+v)", q), err, errcode.Invalid)
	}
}

// ReplaceUsage makes the given counts and keys the whole of its days, and leaves other days.
func testUsageReplace(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	s := mustOpen(t, dsn)
	before := use("a", "s1", "2026-10-31T10:00:00Z", "2026-10-31")
	after := use("a", "s1", "2026-11-03T10:00:00Z", "2026-11-03")
	stale := use("a", "s1", "2026-11-01T10:00:00Z", "2026-11-01") // not in the rebuild
	kept := use("b", "s2", "2026-11-02T10:00:00Z", "2026-11-02")  // in the rebuild too
	mustRecord(t, s, []usage.Use{before, after, stale, kept}, 4)

	rebuilt := []usage.Use{
		kept,
		use("b", "s2", "2026-11-02T11:00:00Z", "2026-11-02"),
		use("c", "s1", "2026-11-01T09:00:00Z", "2026-11-01"),
	}
	counts := []usage.DayCount{
		{Device: "b", Site: "s2", Day: "2026-11-02", Uses: 2},
		{Device: "c", Site: "s1", Day: "2026-11-01", Uses: 1},
	}
	must(t, "ReplaceUsage", s.ReplaceUsage(ctx, "2026-11-01", "2026-11-02", counts, rebuilt))
	wantCounts(t, "DayCounts after ReplaceUsage", dayCounts(t, s, usage.Query{From: "2026-10-01", To: "2026-11-30"}), []usage.DayCount{
		{Device: "a", Site: "s1", Day: "2026-10-31", Uses: 1},
		{Device: "a", Site: "s1", Day: "2026-11-03", Uses: 1},
		counts[0], counts[1],
	})
	// The rebuilt keys dedupe what ingest records next; the stale key is gone, so that use
	// counts again.
	mustRecord(t, s, append(slices.Clone(rebuilt), before, after), 0)
	mustRecord(t, s, []usage.Use{stale}, 1)
	if n := storedKeys(t, dsn); n != 6 {
		t.Errorf("the database holds %d use keys; want 6", n)
	}

	// Replacing with nothing empties the days.
	must(t, "ReplaceUsage(nothing)", s.ReplaceUsage(ctx, "2026-11-01", "2026-11-02", nil, nil))
	wantCounts(t, "DayCounts after an empty ReplaceUsage", dayCounts(t, s, usage.Query{From: "2026-11-01", To: "2026-11-02"}), []usage.DayCount{})

	for name, err := range map[string]error{
		"count outside the days": s.ReplaceUsage(ctx, "2026-11-01", "2026-11-02", []usage.DayCount{{Device: "a", Site: "s1", Day: "2026-11-03", Uses: 1}}, nil),
		"key outside the days":   s.ReplaceUsage(ctx, "2026-11-01", "2026-11-02", nil, []usage.Use{after}),
		"zero count":             s.ReplaceUsage(ctx, "2026-11-01", "2026-11-02", []usage.DayCount{{Device: "a", Site: "s1", Day: "2026-11-01"}}, nil),
		"from after to":          s.ReplaceUsage(ctx, "2026-11-02", "2026-11-01", nil, nil),
	} {
		wantCode(t, "ReplaceUsage with a "+name, err, errcode.Invalid)
	}
	// A refused replacement changes nothing.
	wantCounts(t, "DayCounts after refused replacements", dayCounts(t, s, usage.Query{From: "2026-10-01", To: "2026-11-30"}), []usage.DayCount{
		{Device: "a", Site: "s1", Day: "2026-10-31", Uses: 1},
		{Device: "a", Site: "s1", Day: "2026-11-03", Uses: 1},
	})
}

// PruneUses forgets old keys by when they were recorded, not by when the reading was taken;
// counts stay.
func testUsagePrune(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk := withClock(s)
	old := use("a", "s1", "2026-11-01T10:00:00Z", "2026-11-01")
	mustRecord(t, s, []usage.Use{old, use("a", "s1", "2026-11-01T11:00:00Z", "2026-11-01")}, 2)
	clk.advance(time.Hour)
	cutoff := clk.now()
	// A backlog reading, taken long before, recorded now.
	backlog := use("a", "s1", "2026-10-01T10:00:00Z", "2026-10-01")
	mustRecord(t, s, []usage.Use{backlog}, 1)

	n, err := s.PruneUses(ctx, cutoff)
	if err != nil || n != 2 {
		t.Fatalf("PruneUses(%v) = %d, %v; want the 2 keys recorded before", cutoff, n, err)
	}
	if n, err := s.PruneUses(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("PruneUses again = %d, %v; want 0", n, err)
	}
	mustRecord(t, s, []usage.Use{backlog}, 0) // its key is kept
	wantCounts(t, "DayCounts after PruneUses", dayCounts(t, s, usage.Query{From: "2026-10-01", To: "2026-11-30"}), []usage.DayCount{
		{Device: "a", Site: "s1", Day: "2026-10-01", Uses: 1},
		{Device: "a", Site: "s1", Day: "2026-11-01", Uses: 2},
	})
	// Past the window, a repeat counts again: the window must outlast redeliveries.
	mustRecord(t, s, []usage.Use{old}, 1)
}

// Calls larger than one statement: more rows than SQLite takes parameters for in one statement,
// repeats across statement boundaries, more counts and devices than one statement holds.
func testUsageManyRows(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	s := mustOpen(t, dsn)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const n = 9001 // > 32,766 parameters at 4 a row
	var uses []usage.Use
	want := map[usage.DayCount]int{}
	for i := range n {
		at := base.Add(time.Duration(i) * 7 * time.Minute)
		u := usage.Use{Device: fmt.Sprintf("d-%04d", i%2500), Site: "s1", At: at, Day: usage.DayOf(at, time.UTC)}
		uses = append(uses, u)
		want[usage.DayCount{Device: u.Device, Site: u.Site, Day: u.Day}]++
	}
	// Repeats of early uses late in the call, in another statement.
	withRepeats := append(slices.Clone(uses), uses[0], uses[1], uses[s.rowsPerStatement()+5])
	mustRecord(t, s, withRepeats, n)
	mustRecord(t, s, uses[n-1500:], 0)

	q := usage.Query{From: "2026-01-01", To: "2026-12-31"}
	got := dayCounts(t, s, q)
	if len(got) != len(want) || len(got) <= devicesPerQuery {
		t.Fatalf("DayCounts = %d counts; want %d (more than one statement's worth)", len(got), len(want))
	}
	for _, c := range got {
		if want[usage.DayCount{Device: c.Device, Site: c.Site, Day: c.Day}] != c.Uses {
			t.Fatalf("count %+v; want %d uses", c, want[usage.DayCount{Device: c.Device, Site: c.Site, Day: c.Day}])
		}
	}
	// Filtering by more devices than one statement takes, in no order, keeps the sort.
	var ids []string
	for i := 2499; i >= 0; i-- {
		ids = append(ids, fmt.Sprintf("d-%04d", i))
	}
	q.Devices = ids
	wantCounts(t, "DayCounts(2500 devices)", dayCounts(t, s, q), got)

	// Replace the whole period with itself, from counts and keys of more than one statement.
	must(t, "ReplaceUsage", s.ReplaceUsage(ctx, "2026-01-01", "2026-12-31", got, uses))
	q.Devices = nil
	wantCounts(t, "DayCounts after ReplaceUsage", dayCounts(t, s, q), got)
	if keys := storedKeys(t, dsn); keys != n {
		t.Errorf("the database holds %d use keys after ReplaceUsage; want %d", keys, n)
	}
	mustRecord(t, s, uses, 0)
}

// storedKeys returns how many use keys a new Store on dsn loads: the keys the database holds.
func storedKeys(t *testing.T, dsn string) int {
	t.Helper()
	s := mustOpen(t, dsn)
	defer s.Close()
	s.uses.mu.Lock()
	defer s.uses.mu.Unlock()
	tx, err := s.beginUsageWrite(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := s.catchUp(context.Background(), tx); err != nil {
		t.Fatalf("load use keys: %v", err)
	}
	return s.uses.keys.Len()
}

// Two Stores on one database (two instances of ingest) recording overlapping uses at once
// count each use once; each learns the other's keys from the log, and a third Store opened
// later knows them all.
func testUsageTwoStores(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	stores := []*Store{mustOpen(t, dsn), mustOpen(t, dsn)}
	base := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	var uses []usage.Use
	for i := range 600 {
		uses = append(uses, usage.Use{Device: fmt.Sprintf("d-%d", i%11), Site: "s1", At: base.Add(time.Duration(i) * time.Second), Day: "2026-11-22"})
	}
	added := make(chan int, len(stores))
	errs := make(chan error, len(stores))
	for i, s := range stores {
		go func() {
			mine := slices.Clone(uses)
			if i == 1 {
				slices.Reverse(mine)
			}
			total := 0
			for start := 0; start < len(mine); start += 37 {
				n, err := s.RecordUses(ctx, mine[start:min(start+37, len(mine))])
				if err != nil {
					errs <- err
					return
				}
				total += n
				if start%(37*4) == 0 {
					if _, err := s.FoldUses(ctx); err != nil {
						errs <- err
						return
					}
				}
			}
			added <- total
			errs <- nil
		}()
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Fatalf("RecordUses and FoldUses in two stores at once: %v", err)
		}
	}
	if total := <-added + <-added; total != len(uses) {
		t.Errorf("two stores added %d uses in all; want %d, each once", total, len(uses))
	}
	for i, s := range stores {
		sum := 0
		for _, c := range dayCounts(t, s, usage.Query{From: "2026-11-22", To: "2026-11-22"}) {
			sum += c.Uses
		}
		if sum != len(uses) {
			t.Errorf("store %d: counts add up to %d; want %d", i, sum, len(uses))
		}
		mustRecord(t, s, uses[:50], 0)
	}
	if n := storedKeys(t, dsn); n != len(uses) {
		t.Errorf("a third store loads %d use keys; want %d", n, len(uses))
	}
}

// Counts read the same before and after a fold, with uses folded and unfolded, a day's count
// split between them, and a query that selects some of them.
func testUsageFold(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	q := usage.Query{From: "2026-11-01", To: "2026-11-30"}
	mustRecord(t, s, []usage.Use{
		use("a", "s1", "2026-11-01T10:00:00Z", "2026-11-01"),
		use("b", "s2", "2026-11-01T10:00:00Z", "2026-11-01"),
	}, 2)
	if n, err := s.FoldUses(ctx); err != nil || n != 2 {
		t.Fatalf("FoldUses = %d, %v; want 2", n, err)
	}
	if n, err := s.FoldUses(ctx); err != nil || n != 0 {
		t.Fatalf("FoldUses again = %d, %v; want 0", n, err)
	}
	mustRecord(t, s, []usage.Use{
		use("a", "s1", "2026-11-01T11:00:00Z", "2026-11-01"), // the same day as a folded count
		use("c", "s1", "2026-11-02T10:00:00Z", "2026-11-02"),
		use("a", "s1", "2026-12-01T10:00:00Z", "2026-12-01"), // outside q
	}, 3)
	want := []usage.DayCount{
		{Device: "a", Site: "s1", Day: "2026-11-01", Uses: 2},
		{Device: "b", Site: "s2", Day: "2026-11-01", Uses: 1},
		{Device: "c", Site: "s1", Day: "2026-11-02", Uses: 1},
	}
	onlyA := usage.Query{From: q.From, To: q.To, Site: "s1", Devices: []string{"a"}}
	wantCounts(t, "DayCounts before the fold", dayCounts(t, s, q), want)
	wantCounts(t, "DayCounts(a at s1) before the fold", dayCounts(t, s, onlyA), want[:1])
	if n, err := s.FoldUses(ctx); err != nil || n != 3 {
		t.Fatalf("FoldUses = %d, %v; want 3", n, err)
	}
	wantCounts(t, "DayCounts after the fold", dayCounts(t, s, q), want)
	wantCounts(t, "DayCounts(a at s1) after the fold", dayCounts(t, s, onlyA), want[:1])
}

// Rows of the log name their uses' subjects (a device at a site) by number: a store that
// never wrote reads another's rows, stores learn the subjects others add, a device that moves
// is a new subject, and rows written before numbering (version 1) count alongside.
func testUsageSubjects(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	a, b, reader := mustOpen(t, dsn), mustOpen(t, dsn), mustOpen(t, dsn)
	q := usage.Query{From: "2026-11-01", To: "2026-11-30"}
	mustRecord(t, a, []usage.Use{
		use("cuff-1", "s1", "2026-11-01T10:00:00Z", "2026-11-01"),
		use("cuff-2", "s1", "2026-11-01T10:00:00Z", "2026-11-01"),
		use("cuff-1", "s1", "2026-11-01T11:00:00Z", "2026-11-01"),
	}, 3)
	mustRecord(t, b, []usage.Use{
		use("cuff-1", "s2", "2026-11-02T10:00:00Z", "2026-11-02"), // moved to s2
		use("oxi-1", "s3", "2026-11-02T10:00:00Z", "2026-11-02"),
		use("cuff-1", "s1", "2026-11-01T10:00:00Z", "2026-11-01"), // a's already
	}, 2)
	// A use in a row of version 1, as rows were written before subjects were numbered.
	if _, err := a.db.ExecContext(ctx, `INSERT INTO usage_log (recorded_ms, kind, keys, uses) VALUES ($1, $2, 1, $3)`,
		time.Now().UnixMilli(), logUses, appendUseLogV1(nil, []logUse{{device: "oxi-1", site: "s3", at: time.Date(2026, 11, 2, 11, 0, 0, 0, time.UTC).UnixMilli(), day: 20759}})); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, a, []usage.Use{
		use("oxi-1", "s3", "2026-11-02T10:00:00Z", "2026-11-02"), // b's
		use("oxi-1", "s3", "2026-11-02T11:00:00Z", "2026-11-02"), // the version 1 row's
		use("oxi-1", "s3", "2026-11-02T12:00:00Z", "2026-11-02"),
		use("cuff-2", "s2", "2026-11-02T12:00:00Z", "2026-11-02"),
	}, 2)
	want := []usage.DayCount{
		{Device: "cuff-1", Site: "s1", Day: "2026-11-01", Uses: 2},
		{Device: "cuff-1", Site: "s2", Day: "2026-11-02", Uses: 1},
		{Device: "cuff-2", Site: "s1", Day: "2026-11-01", Uses: 1},
		{Device: "cuff-2", Site: "s2", Day: "2026-11-02", Uses: 1},
		{Device: "oxi-1", Site: "s3", Day: "2026-11-02", Uses: 3},
	}
	for name, s := range map[string]*Store{"a": a, "b": b, "a store that never wrote": reader} {
		wantCounts(t, "DayCounts of "+name+" before the fold", dayCounts(t, s, q), want)
	}
	if n, err := b.FoldUses(ctx); err != nil || n != 8 {
		t.Fatalf("FoldUses = %d, %v; want 8", n, err)
	}
	wantCounts(t, "DayCounts after the fold", dayCounts(t, reader, q), want)
	var got []string
	rows, err := a.db.QueryContext(ctx, `SELECT id, device_id, site_id FROM usage_subjects ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		var dev, site string
		if err := rows.Scan(&id, &dev, &site); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s@%s", id, dev, site))
	}
	if w := []string{"1 cuff-1@s1", "2 cuff-2@s1", "3 cuff-1@s2", "4 oxi-1@s3", "5 cuff-2@s2"}; !slices.Equal(got, w) {
		t.Errorf("usage_subjects = %q; want %q", got, w)
	}
}

// Keys recorded before the log (migration 0013 left them in device_uses) still recognise their
// uses, and are pruned by when they were recorded.
func testUsageKeysBeforeTheLog(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	s := mustOpen(t, dsn)
	old := use("a", "s1", "2026-11-01T10:00:00Z", "2026-11-01")
	if _, err := s.db.ExecContext(ctx, `INSERT INTO device_uses (device_id, at_ms, site_id, day, recorded_ms) VALUES ($1, $2, $3, $4, $5)`,
		old.Device, old.At.UnixMilli(), old.Site, string(old.Day), t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, s, []usage.Use{old, use("a", "s1", "2026-11-01T11:00:00Z", "2026-11-01")}, 1)
	if n := storedKeys(t, dsn); n != 2 {
		t.Errorf("the database holds %d use keys; want 2", n)
	}
	n, err := s.PruneUses(ctx, t0.Add(time.Second))
	if err != nil || n != 1 {
		t.Fatalf("PruneUses = %d, %v; want the key from before the log", n, err)
	}
	mustRecord(t, s, []usage.Use{old}, 1)
}

// A usage_log row that does not decode fails the Store that loads it, naming the row, rather
// than losing its keys silently.
func testUsageCorruptLog(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	s := mustOpen(t, dsn)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO usage_log (recorded_ms, kind, keys, uses) VALUES ($1, $2, 1, $3)`,
		t0.UnixMilli(), logUses, []byte{useLogVersion, 1, 5, 'a'}); err != nil {
		t.Fatal(err)
	}
	_, err := s.RecordUses(ctx, []usage.Use{use("a", "s1", "2026-11-01T10:00:00Z", "2026-11-01")})
	if err == nil || !strings.Contains(err.Error(), "usage_log row 1") {
		t.Errorf("RecordUses over a corrupt log row = %v; want an error naming usage_log row 1", err)
	}
	if _, err := s.DayCounts(ctx, usage.Query{From: "2026-11-01", To: "2026-11-30"}); err == nil {
		t.Error("DayCounts over a corrupt log row succeeded; want an error")
	}
}

// BenchmarkCountUses is the store's part of counting uses while ingest drains a backlog: groups
// of 3,500 new uses from 2,000 devices at one site (what a drain commits at once), folded into
// the day counts every 100 groups (about 5 s of a drain), in a SQLite store. ns/use is the cost
// of recording and folding a use; the uses are made before the timer runs, with the device ids
// and site id of a registry, as ingest makes them.
func BenchmarkCountUses(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "vw.db"))
	ctx := context.Background()
	const group, devices, foldEvery = 3500, 2000, 100
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day := usage.DayOf(base, time.UTC)
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%04d", i)
	}
	groups := make([][]usage.Use, foldEvery)
	for g := range groups {
		groups[g] = make([]usage.Use, group)
	}
	var uses int
	var recording, folding time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		for g, us := range groups {
			for j := range us {
				n := (i*foldEvery+g)*group + j
				us[j] = usage.Use{Device: ids[n%devices], Site: "test-site",
					At: base.Add(time.Duration(n) * time.Millisecond), Day: day}
			}
		}
		b.StartTimer()
		start := time.Now()
		for _, us := range groups {
			if n, err := s.RecordUses(ctx, us); err != nil || n != len(us) {
				b.Fatalf("RecordUses = %d, %v; want %d", n, err, len(us))
			}
		}
		folded := time.Now()
		if n, err := s.FoldUses(ctx); err != nil || n != foldEvery*group {
			b.Fatalf("FoldUses = %d, %v; want %d", n, err, foldEvery*group)
		}
		recording += folded.Sub(start)
		folding += time.Since(folded)
		uses += foldEvery * group
	}
	b.ReportMetric(float64((recording+folding).Nanoseconds())/float64(uses), "ns/use")
	b.ReportMetric(float64(recording.Nanoseconds())/float64(uses), "record_ns/use")
	b.ReportMetric(float64(folding.Nanoseconds())/float64(uses), "fold_ns/use")
}
