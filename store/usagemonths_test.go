package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The monthly aggregate must say exactly what the day counts say, however the uses arrived:
// a rebuild (ReplaceUsage), uses recorded and folded, uses recorded and not folded yet, and the
// migration that fills it from the day counts already stored.

func TestUsageMonthsSQLite(t *testing.T) {
	testUsageMonths(t, filepath.Join(t.TempDir(), "vw.db"))
}

func TestUsageMonthsPostgres(t *testing.T) {
	pg := testsrv.StartPostgres(t)
	testUsageMonths(t, pg.NewDatabase(t))
}

func testUsageMonths(t *testing.T, dsn string) {
	ctx := context.Background()
	s := mustOpen(t, dsn)
	rng := rand.New(rand.NewPCG(19, 2026))
	devs := make([]string, 30)
	for i := range devs {
		devs[i] = fmt.Sprintf("dev-%02d", i)
	}
	sites := []string{"s1", "s2", "s3", "s4", "s5"}
	day := func(month, d int) usage.Day { return usage.Day(fmt.Sprintf("2025-%02d-%02d", month, d)) }
	days := func(month int) int { return time.Date(2025, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() }

	// A rebuild of January to March: counts of every size, a device at two sites in a month.
	var counts []usage.DayCount
	for m := 1; m <= 3; m++ {
		for _, dev := range devs {
			site := sites[rng.IntN(len(sites))]
			for d := 1; d <= days(m); d++ {
				if rng.IntN(3) == 0 {
					continue
				}
				if rng.IntN(10) == 0 {
					site = sites[rng.IntN(len(sites))]
				}
				uses := 1 + rng.IntN(30)
				switch rng.IntN(40) {
				case 0:
					uses = 65534 + rng.IntN(3) // either side of the 2-byte limit
				case 1:
					uses = 1_000_000 + rng.IntN(1000)
				}
				counts = append(counts, usage.DayCount{Device: dev, Site: site, Day: day(m, d), Uses: uses})
			}
		}
	}
	if err := s.ReplaceUsage(ctx, "2025-01-01", "2025-03-31", counts, nil); err != nil {
		t.Fatal(err)
	}
	// Uses recorded in March and April, folded; then more, not folded yet.
	record := func(n int) {
		var uses []usage.Use
		for range n {
			m := 3 + rng.IntN(2)
			d := 1 + rng.IntN(days(m))
			at := time.Date(2025, time.Month(m), d, rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000)*1e6, time.UTC)
			uses = append(uses, usage.Use{Device: devs[rng.IntN(len(devs))], Site: sites[rng.IntN(len(sites))], At: at, Day: day(m, d)})
		}
		if _, err := s.RecordUses(ctx, uses); err != nil {
			t.Fatal(err)
		}
	}
	record(3000)
	if _, err := s.FoldUses(ctx); err != nil {
		t.Fatal(err)
	}
	record(500)

	check := func(what string, from, to usage.Month, only []string) {
		t.Helper()
		ms, err := s.MonthUses(ctx, usage.MonthQuery{From: from, To: to, Sites: only})
		if err != nil {
			t.Fatalf("%s: MonthUses: %v", what, err)
		}
		var got []usage.DayCount
		for i := range ms {
			got = append(got, ms[i].DayCounts()...)
		}
		q := usage.Query{From: from.FirstDay(), To: to.LastDay()}
		want := dayCounts(t, s, q)
		if only != nil {
			want = slices.DeleteFunc(want, func(c usage.DayCount) bool { return !slices.Contains(only, c.Site) })
		}
		byKey := func(a, b usage.DayCount) int {
			return cmp.Or(strings.Compare(a.Device, b.Device), strings.Compare(string(a.Day), string(b.Day)), strings.Compare(a.Site, b.Site))
		}
		slices.SortFunc(got, byKey)
		slices.SortFunc(want, byKey)
		if len(want) < 100 {
			t.Fatalf("%s: only %d day counts to compare", what, len(want))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: the monthly aggregate has %d day counts, the day counts %d; first difference: %v", what, len(got), len(want), firstDiff(got, want))
		}
		if !slices.IsSortedFunc(ms, func(a, b usage.MonthUses) int {
			return cmp.Or(strings.Compare(a.Month.String(), b.Month.String()), strings.Compare(a.Site, b.Site), strings.Compare(a.Device, b.Device))
		}) {
			t.Errorf("%s: MonthUses is not ordered by month, site and device", what)
		}
	}
	jan, feb, apr := usage.Month{Year: 2025, Month: 1}, usage.Month{Year: 2025, Month: 2}, usage.Month{Year: 2025, Month: 4}
	check("with uses not folded", jan, apr, nil)
	check("two sites, with uses not folded", feb, apr, []string{"s2", "s4"})
	if _, err := s.FoldUses(ctx); err != nil {
		t.Fatal(err)
	}
	check("all folded", jan, apr, nil)

	// A rebuild of part of March leaves the month's row as its day counts say.
	var part []usage.DayCount
	for _, dev := range devs[:10] {
		part = append(part, usage.DayCount{Device: dev, Site: "s9", Day: "2025-03-10", Uses: 7})
	}
	if err := s.ReplaceUsage(ctx, "2025-03-05", "2025-03-12", part, nil); err != nil {
		t.Fatal(err)
	}
	check("after a rebuild of part of a month", jan, apr, nil)

	// The migration's statement, run on the day counts, writes the rows that the folds and
	// rebuilds wrote.
	rows := func() map[monthKey][]byte {
		out := map[monthKey][]byte{}
		err := eachRow(ctx, s.db, `SELECT month, site_id, uses FROM usage_months`, nil, func(sc scanner) error {
			var k monthKey
			var b []byte
			if err := sc.Scan(&k.month, &k.site, &b); err != nil {
				return err
			}
			out[k] = b
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	kept := rows()
	body, err := migrations.ReadFile("migrations/" + string(s.dialect) + "/0019_usage_months.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, fill, ok := strings.Cut(string(body), "INSERT INTO usage_months")
	if !ok {
		t.Fatal("migration 0019 has no INSERT INTO usage_months")
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM usage_months`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, "INSERT INTO usage_months"+fill); err != nil {
		t.Fatalf("migration 0019's INSERT: %v", err)
	}
	filled := rows()
	if len(filled) != len(kept) || len(kept) < 10 {
		t.Fatalf("the migration wrote %d rows; the folds and rebuilds %d", len(filled), len(kept))
	}
	for k, b := range kept {
		if !bytes.Equal(filled[k], b) {
			t.Errorf("month %s at %s: the migration wrote %x; the folds and rebuilds %x", k.month, k.site, filled[k], b)
		}
	}
}

// firstDiff is the first day count where got and want differ.
func firstDiff(got, want []usage.DayCount) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("got %+v, want %+v", got[i], want[i])
		}
	}
	return "one is longer"
}

// TestUsageMonthsUncompressedPostgres checks that PostgreSQL keeps the monthly aggregate's rows
// uncompressed (migration 0026), those written before the migration included.
func TestUsageMonthsUncompressedPostgres(t *testing.T) {
	ctx := context.Background()
	pg := testsrv.StartPostgres(t)
	s := mustOpen(t, pg.NewDatabase(t))
	compressed := func() (n, all int) {
		t.Helper()
		if err := s.db.QueryRowContext(ctx, `SELECT count(pg_column_compression(uses)), count(*) FROM usage_months`).Scan(&n, &all); err != nil {
			t.Fatal(err)
		}
		return n, all
	}
	// Rows of 40 devices with uses on every day: some 3 KB each, and compressible.
	write := func(month string) {
		var counts []usage.DayCount
		for d := range 40 {
			for day := 1; day <= 28; day++ {
				counts = append(counts, usage.DayCount{Device: fmt.Sprintf("device-%03d", d), Site: "s1",
					Day: usage.Day(fmt.Sprintf("%s-%02d", month, day)), Uses: 1 + day%3})
			}
		}
		if err := s.ReplaceUsage(ctx, usage.Day(month+"-01"), usage.Day(month+"-28"), counts, nil); err != nil {
			t.Fatal(err)
		}
	}

	write("2025-01")
	if n, all := compressed(); n != 0 || all != 1 {
		t.Fatalf("%d of %d rows compressed, want 0 of 1", n, all)
	}

	// A row written as before the migration, compressed; then the migration's statements again.
	if _, err := s.db.ExecContext(ctx, `ALTER TABLE usage_months ALTER COLUMN uses SET STORAGE EXTENDED`); err != nil {
		t.Fatal(err)
	}
	write("2025-02")
	if n, all := compressed(); n != 1 || all != 2 {
		t.Fatalf("before the migration: %d of %d rows compressed, want 1 of 2", n, all)
	}
	var before []byte
	if err := s.db.QueryRowContext(ctx, `SELECT uses FROM usage_months WHERE month = '2025-02'`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	body, err := migrations.ReadFile("migrations/postgres/0026_usage_months_uncompressed.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, string(body)); err != nil {
		t.Fatal(err)
	}
	if n, all := compressed(); n != 0 || all != 2 {
		t.Fatalf("after the migration: %d of %d rows compressed, want 0 of 2", n, all)
	}
	var after []byte
	if err := s.db.QueryRowContext(ctx, `SELECT uses FROM usage_months WHERE month = '2025-02'`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("the migration changed a row's uses: %d bytes, then %d", len(before), len(after))
	}
}
