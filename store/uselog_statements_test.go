package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/usage"
)

// RecordUses runs the same statements on every call; they are prepared once and kept, and the
// uses still count once each.
func TestRecordUsesKeepsStatementsSQLite(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "vw.db"))
	at := time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)
	use := func(dev string, min int) usage.Use {
		t := at.Add(time.Duration(min) * time.Minute)
		return usage.Use{Device: dev, Site: "s1", At: t, Day: usage.DayOf(t, time.UTC)}
	}
	if n, err := s.RecordUses(ctx, []usage.Use{use("d1", 0), use("d2", 0)}); err != nil || n != 2 {
		t.Fatalf("RecordUses = %d, %v; want 2 added", n, err)
	}
	kept := func() map[string]bool {
		s.statements.mu.Lock()
		defer s.statements.mu.Unlock()
		out := map[string]bool{}
		for q := range s.statements.m {
			out[q] = true
		}
		return out
	}
	before := kept()
	var usageQueries int
	for q := range before {
		if strings.Contains(q, "usage_log") {
			usageQueries++
		}
	}
	if usageQueries < 2 {
		t.Fatalf("statements kept after a first call: %v; want the catch-up's read of usage_log and its insert", before)
	}
	s.statements.mu.Lock()
	stmts := map[string]any{}
	for q, st := range s.statements.m {
		stmts[q] = st
	}
	s.statements.mu.Unlock()
	if n, err := s.RecordUses(ctx, []usage.Use{use("d1", 0), use("d1", 5), use("d3", 0)}); err != nil || n != 2 {
		t.Fatalf("RecordUses again = %d, %v; want 2 added (d1 at 0 was counted)", n, err)
	}
	s.statements.mu.Lock()
	for q, st := range stmts {
		if any(s.statements.m[q]) != st {
			t.Errorf("statement %q was prepared again", q)
		}
	}
	s.statements.mu.Unlock()
	if _, err := s.FoldUses(ctx); err != nil {
		t.Fatal(err)
	}
	counts, err := s.DayCounts(ctx, usage.Query{From: "2026-11-03", To: "2026-11-03"})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range counts {
		total += c.Uses
	}
	if total != 4 {
		t.Errorf("DayCounts = %+v; want 4 uses in all", counts)
	}
}
