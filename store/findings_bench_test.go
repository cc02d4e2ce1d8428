package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// BenchmarkApplyFindingPostgres measures how many findings a second PostgreSQL records when
// several instances (two stores on one database, each with its pool) repeat open alerts at
// once, each finding a reading of its own: the write rate that every alert finding of a fleet
// goes through, in one transaction each, whose event takes the one advisory lock that orders
// event ids. The test server runs without fsync, so a production server's commits are slower.
//
//	go test -run '^$' -bench ApplyFindingPostgres -benchtime 5000x ./store/
func BenchmarkApplyFindingPostgres(b *testing.B) {
	pg := testsrv.StartPostgres(b)
	for _, writers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			dsn := pg.NewDatabase(b)
			instances := []*Store{mustOpen(b, dsn), mustOpen(b, dsn)}
			const subjects = 500
			for p := range subjects {
				if _, _, _, err := instances[0].ApplyFinding(context.Background(),
					clinicalFinding("glucose_very_high", fmt.Sprintf("p%d", p), "t1", alerts.Urgent, 0, "17.2 mmol/L")); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			errs := make(chan error, writers)
			b.ResetTimer()
			start := time.Now()
			done := make(chan struct{})
			for w := range writers {
				go func() {
					defer func() { done <- struct{}{} }()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						f := clinicalFinding("glucose_very_high", fmt.Sprintf("p%d", i%subjects), "t1", alerts.Urgent, int(i), "17.5 mmol/L")
						if _, _, _, err := instances[w%2].ApplyFinding(context.Background(), f); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			for range writers {
				<-done
			}
			took := time.Since(start)
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
			b.ReportMetric(float64(b.N)/took.Seconds(), "findings/s")
		})
	}
}

// BenchmarkApplyFindingsSQLite measures what an alert finding costs in SQLite as ingest records
// them, 100 at a time (ApplyFindings; -benchtime counts batches), on a store that already holds
// 100,000 alerts: new alerts (each finding a new patient) and repeats of open ones. "migrated"
// is the schema as it is; "no-burden-groups" drops what migration 0022 adds to every alert
// written (the trigger that keeps burden_groups and the 14-column index the burden reads), to
// show what they cost.
//
//	go test -run '^$' -bench ApplyFindingsSQLite -benchtime 200x -count 3 ./store/
func BenchmarkApplyFindingsSQLite(b *testing.B) {
	benchApplyFindings(b, func(b *testing.B) *Store { return mustOpen(b, filepath.Join(b.TempDir(), "vw.db")) },
		"no-burden-groups", "DROP TRIGGER alerts_burden_group_insert", "DROP TRIGGER alerts_burden_group_update", "DROP INDEX alerts_burden_group")
}

// BenchmarkApplyFindingsPostgres is BenchmarkApplyFindingsSQLite in PostgreSQL, where
// "no-burden-figure" drops the index of migration 0025 (every alert in figure order, for the
// burden of a long period), to show what it costs each alert written.
//
//	go test -run '^$' -bench ApplyFindingsPostgres -benchtime 200x -count 3 ./store/
func BenchmarkApplyFindingsPostgres(b *testing.B) {
	pg := testsrv.StartPostgres(b)
	benchApplyFindings(b, func(b *testing.B) *Store { return mustOpen(b, pg.NewDatabase(b)) },
		"no-burden-figure", "DROP INDEX alerts_burden_figure")
}

// benchApplyFindings runs the findings benchmark on stores from open, as migrated and, named
// without, with the statements drop run first.
func benchApplyFindings(b *testing.B, open func(b *testing.B) *Store, without string, drop ...string) {
	const batch, prefill = 100, 100_000
	for _, schema := range []string{"migrated", without} {
		b.Run(schema, func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			if schema == without {
				for _, q := range drop {
					if _, err := s.db.ExecContext(ctx, q); err != nil {
						b.Fatal(q, err)
					}
				}
			}
			apply := func(fs []alerts.Finding) {
				for i, a := range s.Alerts.ApplyFindings(ctx, fs) {
					if a.Err != nil {
						b.Fatalf("finding %d: %v", i, a.Err)
					}
				}
			}
			team := func(p int) string { return fmt.Sprintf("t%d", p%300) }
			fs := make([]alerts.Finding, 0, batch)
			for p := 0; p < prefill; p += batch {
				fs = fs[:0]
				for q := p; q < p+batch; q++ {
					fs = append(fs, clinicalFinding("glucose_very_high", fmt.Sprintf("old%d", q), team(q), alerts.Urgent, q%1000, "17.2 mmol/L"))
				}
				apply(fs)
			}
			b.Run("new", func(b *testing.B) {
				n := 0
				for b.Loop() {
					fs = fs[:0]
					for range batch {
						n++
						fs = append(fs, clinicalFinding("glucose_high", fmt.Sprintf("new%d", n), team(n), alerts.Warning, n%1000, "14.2 mmol/L"))
					}
					apply(fs)
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/finding")
			})
			b.Run("repeat", func(b *testing.B) {
				n := 0
				for b.Loop() {
					fs = fs[:0]
					for range batch {
						n++
						fs = append(fs, clinicalFinding("glucose_very_high", fmt.Sprintf("old%d", n%prefill), team(n%prefill), alerts.Urgent, 1000+n, "17.5 mmol/L"))
					}
					apply(fs)
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/finding")
			})
		})
	}
}
