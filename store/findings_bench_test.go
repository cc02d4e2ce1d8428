package store

import (
	"context"
	"fmt"
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
