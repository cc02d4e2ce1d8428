package simulators

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// The simulator and ingest's decoder meet at the device contract: what the fleet sends as good
// must decode without a rejection, and every bad payload must be rejected for the reason it
// was built for and no other.

func TestDecoderAcceptsFleet(t *testing.T) {
	f := NewFleet(200, 21, DefaultMix())
	for i := range 150 {
		for j, d := range f.Devices() {
			at := sweepStart.Add(time.Duration(i)*23*time.Minute + time.Duration(j)*time.Second)
			m := d.Message(at)
			b := m.JSON()
			got, rejections := reading.Decode(d.ID, b, at.Add(2*time.Second))
			if len(rejections) > 0 {
				t.Fatalf("Decode(%s, %s) rejected %+v; want every simulated reading accepted", d.ID, b, rejections)
			}
			if len(got.Readings) != len(m.Readings) {
				t.Fatalf("Decode(%s, %s) gave %d readings; want %d", d.ID, b, len(got.Readings), len(m.Readings))
			}
			if got.Seq != m.Seq || got.Patient != m.Patient {
				t.Errorf("Decode(%s, %s) = seq %d patient %q; want %d %q", d.ID, b, got.Seq, got.Patient, m.Seq, m.Patient)
			}
		}
	}
}

func TestDecoderRejectsBadPayloads(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	now := sweepStart
	devices := NewFleet(16, 2, DefaultMix()).Devices()
	for i := range 1000 {
		d := devices[i%len(devices)]
		b, want := d.Bad(r, now)
		_, rejections := reading.Decode(d.ID, b, now)
		if len(rejections) != 1 || rejections[0].Reason != want {
			t.Errorf("Decode(%s, %q) rejected %+v; want exactly one rejection, %s", d.ID, b, rejections, want)
		}
	}
}
