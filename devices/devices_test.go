package devices

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPatientBirthYear(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		year int
		ok   bool
	}{
		{0, true}, // unknown
		{1900, true},
		{1948, true},
		{2026, true},
		{1899, false},
		{2027, false},
		{-1948, false},
	}
	for _, tt := range tests {
		p := Patient{ID: "P-1", TeamID: "t1", BirthYear: tt.year}
		err := p.ValidateAt(now)
		if tt.ok {
			if err != nil {
				t.Errorf("ValidateAt(birth year %d) = %v; want nil", tt.year, err)
			}
			continue
		}
		var de *Error
		if !errors.As(err, &de) || de.Code != Invalid || !strings.Contains(de.Message, "birth_year") {
			t.Errorf("ValidateAt(birth year %d) = %v; want an invalid error naming birth_year", tt.year, err)
		}
	}
}

// The current year is the newest that has begun anywhere: on 31 December at 11:00 UTC it is
// already 1 January in Kiribati (UTC+14).
func TestPatientBirthYearAtNewYear(t *testing.T) {
	p := Patient{ID: "P-1", TeamID: "t1", BirthYear: 2027}
	if err := p.ValidateAt(time.Date(2026, 12, 31, 9, 59, 0, 0, time.UTC)); err == nil {
		t.Errorf("ValidateAt(2027, on 31 December 2026 09:59 UTC) = nil; want an error: the year has not begun anywhere")
	}
	if err := p.ValidateAt(time.Date(2026, 12, 31, 10, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("ValidateAt(2027, on 31 December 2026 10:00 UTC) = %v; want nil: it is 2027 in UTC+14", err)
	}
}
