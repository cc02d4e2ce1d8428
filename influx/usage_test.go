package influx

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/usage"
)

// TestReaderReadingPoints reads the tags of the readings writeReadings stored: the stop of a
// range is left out, and device status is not a reading.
func TestReaderReadingPoints(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	writeReadings(t, ix)
	r := NewReader(Config{URL: ix.URL, Bucket: ix.Bucket, Timeout: 10 * time.Second})
	defer r.Close()
	tests := []struct {
		name        string
		start, stop time.Time
		want        []string
	}{
		{"minutes 0 to 3", minute(0), minute(3), []string{
			"cuff-1 sA 2m", "gm-1 sA 0m", "gm-1 sA 1m", "gm-1 sA 2m", "gm-2 sB 1m",
		}},
		{"minutes 4 to 5, with a device status", minute(4), minute(5), []string{"gm-1 sA 4m"}},
		{"nothing", minute(10), minute(20), nil},
	}
	for _, tt := range tests {
		var got []string
		err := r.ReadingPoints(context.Background(), tt.start, tt.stop, func(p usage.TaggedPoint) {
			s := fmt.Sprintf("%s %s %gm", p.Device, p.Site, p.At.Sub(readingsBase).Minutes())
			if !slices.Contains(got, s) { // a row per field
				got = append(got, s)
			}
		})
		if err != nil {
			t.Fatalf("%s: ReadingPoints: %v", tt.name, err)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: ReadingPoints = %q; want %q", tt.name, got, tt.want)
		}
	}
	nodb := NewReader(Config{URL: ix.URL, Bucket: "nodb/autogen", Timeout: 10 * time.Second})
	defer nodb.Close()
	if err := nodb.ReadingPoints(context.Background(), minute(0), minute(3), func(usage.TaggedPoint) {}); err == nil {
		t.Error("ReadingPoints from a database that does not exist = nil error; want one")
	}
}
