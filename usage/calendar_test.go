package usage

import (
	"testing"
	"time"
)

func TestCivilDay(t *testing.T) {
	for _, d := range []string{"1969-12-31", "1970-01-01", "2000-02-29", "2024-03-01", "2026-12-31", "2100-03-01"} {
		tm, _ := time.Parse(DayLayout, d)
		if got, want := civilDay(tm.Date()), tm.Unix()/86400; got != want {
			t.Errorf("civilDay(%s) = %d; want %d", d, got, want)
		}
	}
}
