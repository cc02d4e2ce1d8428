package devices

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
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
		var de *errcode.Error
		if !errors.As(err, &de) || de.Code != errcode.Invalid || !strings.Contains(de.Message, "birth_year") {
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

// A new device's id is its MQTT username, client id and topic level: it must be one that
// Mosquitto's password and ACL files, mochi and MQTT topic rules all take, and not one of the
// names the platform's own MQTT users have. Existing ids keep passing ValidID, so that a device
// registered before these rules can still be found, retired or given a new secret.
func TestCheckNewDeviceID(t *testing.T) {
	for _, id := range []string{"cuff-0042", "ox.7_a-B", "A", strings.Repeat("x", 64), "vitalwatch", "my-vitalwatch-ingest"} {
		if err := CheckNewDeviceID(id); err != nil {
			t.Errorf("CheckNewDeviceID(%q) = %v; want nil", id, err)
		}
	}
	for _, tt := range []struct{ id, why string }{
		{"site:1", "':'"},                 // Mosquitto's password file: username:hash
		{"vitalwatch-ingest", "reserved"}, // the ingest client's username and client id
		{"vitalwatch-ingest-b", "reserved"},
		{"VITALWATCH-INGEST", "reserved"},
		{"a/b", "A-Z a-z 0-9 . _ -"}, // a topic level, and another device's subtree
		{"a+", "A-Z a-z 0-9 . _ -"},  // a wildcard in the ACL's %u
		{"a#", "A-Z a-z 0-9 . _ -"},
		{"a b", "A-Z a-z 0-9 . _ -"}, // one field of the ACL's user line
		{"a\tb", "A-Z a-z 0-9 . _ -"},
		{"a\nb", "A-Z a-z 0-9 . _ -"}, // one line of the password file
		{"", "A-Z a-z 0-9 . _ -"},
		{strings.Repeat("x", 65), "A-Z a-z 0-9 . _ -"},
	} {
		err := CheckNewDeviceID(tt.id)
		var de *errcode.Error
		if !errors.As(err, &de) || de.Code != errcode.Invalid || !strings.Contains(de.Message, "device id") || !strings.Contains(de.Message, tt.why) {
			t.Errorf("CheckNewDeviceID(%q) = %v; want an invalid error naming the device id and saying %q", tt.id, err, tt.why)
		}
	}
	if !reading.ValidID("site:1") {
		t.Error(`reading.ValidID("site:1") = false; an existing device with a ':' must stay addressable`)
	}
}
