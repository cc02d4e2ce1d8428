package simulators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// wireMessage is the device contract's telemetry payload as a test reads it back, strictly.
type wireMessage struct {
	TS       json.RawMessage `json:"ts"`
	Seq      *int64          `json:"seq"`
	Patient  string          `json:"patient"`
	Readings []wireReading   `json:"readings"`
	Battery  *float64        `json:"battery"`
	Flags    []string        `json:"flags"`
}

type wireReading struct {
	Type      string          `json:"type"`
	Value     *float64        `json:"value"`
	Systolic  *float64        `json:"systolic"`
	Diastolic *float64        `json:"diastolic"`
	Pulse     *float64        `json:"pulse"`
	Unit      string          `json:"unit"`
	Context   string          `json:"context"`
	Source    string          `json:"source"`
	Position  string          `json:"position"`
	Lat       *float64        `json:"lat"`
	Lon       *float64        `json:"lon"`
	TS        json.RawMessage `json:"ts"`
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// parseTS reads a contract timestamp: an RFC 3339 string with a zone, or Unix milliseconds.
func parseTS(raw json.RawMessage) (time.Time, error) {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, err
		}
		return time.Parse(time.RFC3339Nano, s)
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("ts %s is neither RFC 3339 nor Unix ms", raw)
	}
	return time.UnixMilli(ms), nil
}

// plausible checks a reading against docs/domain.md "Plausibility", after converting it to the
// canonical unit; written out again here rather than shared, so that the test does not trust
// the code it tests.
func plausible(r wireReading) error {
	in := func(name string, p *float64, lo, hi float64, scale func(float64) float64) error {
		if p == nil {
			return fmt.Errorf("%s missing", name)
		}
		v := *p
		if scale != nil {
			v = scale(v)
		}
		if !(v >= lo && v <= hi) {
			return fmt.Errorf("%s %v (canonical %v) outside %v-%v", name, *p, v, lo, hi)
		}
		return nil
	}
	unitErr := fmt.Errorf("%s: unit %q not accepted", r.Type, r.Unit)
	switch reading.Type(r.Type) {
	case reading.Glucose:
		switch r.Unit {
		case "mmol/L":
			return in("glucose", r.Value, 0.6, 33.3, nil)
		case "mg/dL":
			return in("glucose", r.Value, 0.6, 33.3, func(v float64) float64 { return v / 18.016 })
		}
		return unitErr
	case reading.BP:
		if r.Unit != "mm[Hg]" {
			return unitErr
		}
		if err := in("systolic", r.Systolic, 50, 300, nil); err != nil {
			return err
		}
		if err := in("diastolic", r.Diastolic, 20, 200, nil); err != nil {
			return err
		}
		if *r.Diastolic >= *r.Systolic {
			return fmt.Errorf("diastolic %v not below systolic %v", *r.Diastolic, *r.Systolic)
		}
		if r.Pulse != nil {
			return in("pulse", r.Pulse, 20, 300, nil)
		}
		return nil
	case reading.HeartRate:
		if r.Unit != "/min" {
			return unitErr
		}
		return in("heart rate", r.Value, 20, 300, nil)
	case reading.SpO2:
		if r.Unit != "%" {
			return unitErr
		}
		return in("spo2", r.Value, 50, 100, nil)
	case reading.Temperature:
		switch r.Unit {
		case "Cel":
			return in("temperature", r.Value, 30, 45, nil)
		case "[degF]":
			return in("temperature", r.Value, 30, 45, func(v float64) float64 { return (v - 32) * 5 / 9 })
		}
		return unitErr
	case reading.Weight:
		switch r.Unit {
		case "kg":
			return in("weight", r.Value, 2, 400, nil)
		case "[lb_av]":
			return in("weight", r.Value, 2, 400, func(v float64) float64 { return v * 0.45359237 })
		}
		return unitErr
	case reading.Steps:
		if err := in("steps", r.Value, 0, 100000, nil); err != nil {
			return err
		}
		if *r.Value != math.Trunc(*r.Value) {
			return fmt.Errorf("steps %v not whole", *r.Value)
		}
		return nil
	case reading.Fall, reading.SOS:
		if r.Lat == nil || r.Lon == nil {
			return fmt.Errorf("%s without a location", r.Type)
		}
		if err := in("lat", r.Lat, -90, 90, nil); err != nil {
			return err
		}
		return in("lon", r.Lon, -180, 180, nil)
	}
	return fmt.Errorf("unknown type %q", r.Type)
}

var contractFlags = []string{
	"cuff_loose", "body_movement", "strip_error", "sample_too_small", "sensor_malfunction",
	"battery_low", "time_fault", "low_perfusion", "sensor_displaced",
}

// sweep calls Telemetry on every device of f n times, stepping through several days so that
// every hour of the day is covered, and returns the payloads in call order.
func sweep(f *Fleet, n int, start time.Time) [][]byte {
	var out [][]byte
	for i := range n {
		for j, d := range f.Devices() {
			at := start.Add(time.Duration(i)*17*time.Minute + time.Duration(j)*time.Second)
			out = append(out, d.Telemetry(at))
		}
	}
	return out
}

var sweepStart = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func TestTelemetryIsValidAndPlausible(t *testing.T) {
	const rounds = 400 // 400 x 17 min: almost five days
	f := NewFleet(200, 42, DefaultMix())
	lastSeq := map[string]int64{}
	lastTS := map[string]time.Time{}
	seenUnits := map[string]bool{}
	seenFormats := map[string]bool{}
	seenTypes := map[string]bool{}
	seenContexts := map[string]bool{}
	for i := range rounds {
		for j, d := range f.Devices() {
			at := sweepStart.Add(time.Duration(i)*17*time.Minute + time.Duration(j)*time.Second)
			b := d.Telemetry(at)
			if len(b) > reading.MaxPayload {
				t.Fatalf("%s: payload of %d bytes, above %d", d.ID, len(b), reading.MaxPayload)
			}
			var m wireMessage
			if err := decodeStrict(b, &m); err != nil {
				t.Fatalf("%s: payload %s: %v", d.ID, b, err)
			}
			ts, err := parseTS(m.TS)
			if err != nil {
				t.Fatalf("%s: %s: %v", d.ID, b, err)
			}
			if m.TS[0] == '"' {
				seenFormats["rfc3339"] = true
			} else {
				seenFormats["unix_ms"] = true
			}
			if ts.Sub(at).Abs() > time.Millisecond {
				t.Errorf("%s: ts %v; want the measurement time %v", d.ID, ts, at)
			}
			if !ts.After(lastTS[d.ID]) {
				t.Errorf("%s: ts %v not after the previous %v", d.ID, ts, lastTS[d.ID])
			}
			lastTS[d.ID] = ts
			if m.Seq == nil || *m.Seq <= lastSeq[d.ID] {
				t.Fatalf("%s: seq %v after %d; want increasing", d.ID, m.Seq, lastSeq[d.ID])
			}
			if last := lastSeq[d.ID]; last != 0 && *m.Seq != last+1 {
				t.Errorf("%s: seq %d after %d; want no gap", d.ID, *m.Seq, last)
			}
			lastSeq[d.ID] = *m.Seq
			if d.Kind == Station {
				if !slices.Contains(d.Residents, m.Patient) {
					t.Errorf("%s: patient %q is not a resident of the station", d.ID, m.Patient)
				}
			} else if m.Patient != "" {
				t.Errorf("%s: home device sends patient %q; want it omitted", d.ID, m.Patient)
			}
			if m.Battery != nil && (*m.Battery < 0 || *m.Battery > 100) {
				t.Errorf("%s: battery %v", d.ID, *m.Battery)
			}
			if len(m.Readings) == 0 {
				t.Errorf("%s: no readings in %s", d.ID, b)
			}
			for _, fl := range m.Flags {
				if !slices.Contains(contractFlags, fl) {
					t.Errorf("%s: flag %q is not one of the contract's", d.ID, fl)
				}
			}
			for _, r := range m.Readings {
				if err := plausible(r); err != nil {
					t.Errorf("%s: %v in %s", d.ID, err, b)
				}
				seenUnits[r.Unit] = true
				seenTypes[r.Type] = true
				if r.Context != "" {
					seenContexts[r.Context] = true
				}
			}
		}
	}
	for _, u := range []string{"mmol/L", "mg/dL", "mm[Hg]", "/min", "%", "Cel", "[degF]", "kg", "[lb_av]", "count"} {
		if !seenUnits[u] {
			t.Errorf("no reading in unit %q from the fleet; want every unit of the contract", u)
		}
	}
	for _, typ := range []reading.Type{reading.Glucose, reading.BP, reading.HeartRate, reading.SpO2, reading.Temperature, reading.Weight, reading.Steps} {
		if !seenTypes[string(typ)] {
			t.Errorf("no %s reading from the fleet", typ)
		}
	}
	for _, c := range []string{"fasting", "before_meal", "after_meal", "bedtime", "random"} {
		if !seenContexts[c] {
			t.Errorf("no glucose reading with context %q", c)
		}
	}
	if !seenFormats["rfc3339"] || !seenFormats["unix_ms"] {
		t.Errorf("timestamp formats seen: %v; want both RFC 3339 and Unix ms", seenFormats)
	}
}

func TestSameSeedSameBytes(t *testing.T) {
	a := NewFleet(60, 7, DefaultMix())
	b := NewFleet(60, 7, DefaultMix())
	pa, pb := sweep(a, 50, sweepStart), sweep(b, 50, sweepStart)
	for i := range pa {
		if !bytes.Equal(pa[i], pb[i]) {
			t.Fatalf("payload %d differs between two fleets of seed 7:\n%s\n%s", i, pa[i], pb[i])
		}
	}
	for i, d := range a.Devices() {
		at := sweepStart.Add(time.Hour)
		if sa, sb := d.Status(at), b.Devices()[i].Status(at); !bytes.Equal(sa, sb) {
			t.Errorf("%s: status differs between two fleets of seed 7:\n%s\n%s", d.ID, sa, sb)
		}
	}
	if !slices.Equal(a.Patients(), b.Patients()) {
		t.Errorf("patients differ between two fleets of seed 7")
	}

	c := NewFleet(60, 8, DefaultMix())
	if pc := sweep(c, 50, sweepStart); slices.EqualFunc(pa, pc, bytes.Equal) {
		t.Errorf("fleets of seed 7 and 8 sent the same payloads")
	}
}

func TestStatusDoesNotChangeTelemetry(t *testing.T) {
	a := NewFleet(20, 3, DefaultMix())
	b := NewFleet(20, 3, DefaultMix())
	for i := range 30 {
		at := sweepStart.Add(time.Duration(i) * 7 * time.Minute)
		for j, d := range a.Devices() {
			d.Status(at)
			d.NextAt(at)
			if pa, pb := d.Telemetry(at), b.Devices()[j].Telemetry(at); !bytes.Equal(pa, pb) {
				t.Fatalf("%s: telemetry depends on status calls:\n%s\n%s", d.ID, pa, pb)
			}
		}
	}
}

func TestStatusPayload(t *testing.T) {
	f := NewFleet(40, 5, DefaultMix())
	for _, d := range f.Devices() {
		b := d.Status(sweepStart)
		var s struct {
			TS       json.RawMessage `json:"ts"`
			Battery  *float64        `json:"battery"`
			Signal   *float64        `json:"signal"`
			Firmware string          `json:"firmware"`
			Online   *bool           `json:"online"`
			Flags    []string        `json:"flags"`
		}
		if err := decodeStrict(b, &s); err != nil {
			t.Fatalf("%s: status %s: %v", d.ID, b, err)
		}
		if _, err := parseTS(s.TS); err != nil {
			t.Errorf("%s: status %s: %v", d.ID, b, err)
		}
		if s.Signal == nil || *s.Signal > -30 || *s.Signal < -110 || s.Firmware == "" || s.Online == nil || !*s.Online {
			t.Errorf("%s: status %s; want signal in dBm, firmware and online true", d.ID, b)
		}
		if (d.Kind == Station) != (s.Battery == nil) {
			t.Errorf("%s: status %s; want a battery for every device but the mains-powered station", d.ID, b)
		}
	}
	var off struct{ Online *bool }
	if err := json.Unmarshal(OfflineStatus(), &off); err != nil || off.Online == nil || *off.Online {
		t.Errorf("OfflineStatus() = %s; want {\"online\": false}", OfflineStatus())
	}
}

func TestBatteryDrainsAndRecovers(t *testing.T) {
	f := NewFleet(1, 1, Mix{BPCuff: 1})
	d := f.Devices()[0]
	var levels []float64
	for i := range 1000 {
		var m wireMessage
		if err := json.Unmarshal(d.Telemetry(sweepStart.Add(time.Duration(i)*time.Hour)), &m); err != nil {
			t.Fatal(err)
		}
		levels = append(levels, *m.Battery)
	}
	drops, rises := 0, 0
	for i := 1; i < len(levels); i++ {
		switch {
		case levels[i] < levels[i-1]:
			drops++
		case levels[i] > levels[i-1]:
			rises++
			if levels[i] != 100 {
				t.Errorf("battery rose from %v to %v; want a recharge to 100 only", levels[i-1], levels[i])
			}
		}
	}
	if drops == 0 || rises == 0 {
		t.Errorf("battery over 1000 messages: %d drops, %d recharges; want both", drops, rises)
	}
}

func TestNewFleet(t *testing.T) {
	idRE := regexp.MustCompile(`^sim-(glu|cgm|bp|oxi|wear|stn|temp|scale)-\d{4}$`)
	patientRE := regexp.MustCompile(`^P-\d{6}$`)
	f := NewFleet(250, 11, DefaultMix())
	if f.Len() != 250 || len(f.Devices()) != 250 {
		t.Fatalf("NewFleet(250) has %d devices", f.Len())
	}
	perKind := map[Kind]int{}
	for _, d := range f.Devices() {
		perKind[d.Kind]++
		if !idRE.MatchString(d.ID) {
			t.Errorf("device id %q; want sim-{kind}-0001", d.ID)
		}
		if f.Device(d.ID) != d {
			t.Errorf("Device(%q) is not the device", d.ID)
		}
		owners := d.Residents
		if d.Kind != Station {
			owners = []string{d.Patient}
		}
		for _, p := range owners {
			if !patientRE.MatchString(p) || !slices.Contains(f.Patients(), p) {
				t.Errorf("%s: patient %q; want P-000123 style, one of Patients()", d.ID, p)
			}
		}
	}
	if perKind[GlucoseMeter] != 75 || perKind[BPCuff] != 75 || perKind[Station] < 12 || perKind[Station] > 13 {
		t.Errorf("devices per kind %v; want 75 meters, 75 cuffs, 12-13 stations by DefaultMix", perKind)
	}
	if d := f.Device("sim-bp-0001"); d == nil || d.Kind != BPCuff {
		t.Errorf("Device(sim-bp-0001) = %v; want the first cuff", d)
	}

	only := NewFleet(3, 1, Mix{Station: 1})
	for _, d := range only.Devices() {
		if d.Kind != Station {
			t.Errorf("Mix{station: 1} gave a %s", d.Kind)
		}
	}
	if got := NewFleet(8, 1, nil).Len(); got != 8 {
		t.Errorf("NewFleet(8, 1, nil) has %d devices; want the default mix", got)
	}
}

func TestParseMix(t *testing.T) {
	tests := []struct {
		in      string
		want    Mix
		wantErr bool
	}{
		{in: "glucose_meter=3,bp_cuff=2", want: Mix{GlucoseMeter: 3, BPCuff: 2}},
		{in: "cgm", want: Mix{CGM: 1}},
		{in: " wearable = 4 , station=1 ", want: Mix{Wearable: 4, Station: 1}},
		{in: "toaster=1", wantErr: true},
		{in: "cgm=-1", wantErr: true},
		{in: "cgm=0", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseMix(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseMix(%q) error = %v; want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got.String() != tt.want.String() {
			t.Errorf("ParseMix(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
	if m, err := ParseMix(DefaultMix().String()); err != nil || m.String() != DefaultMix().String() {
		t.Errorf("ParseMix(DefaultMix().String()) = %v, %v; want the default mix back", m, err)
	}
}

func TestNextAt(t *testing.T) {
	f := NewFleet(80, 9, DefaultMix())
	zone := time.FixedZone("CST", 8*3600)
	for _, d := range f.Devices() {
		perDay := map[string]int{}
		at := sweepStart
		for range 60 {
			next := d.NextAt(at)
			if !next.After(at) {
				t.Fatalf("%s: NextAt(%v) = %v; want later", d.ID, at, next)
			}
			if again := d.NextAt(at); !again.Equal(next) {
				t.Fatalf("%s: NextAt(%v) = %v, then %v; want the same", d.ID, at, next, again)
			}
			h := next.In(zone).Hour()
			switch d.Kind {
			case CGM, Wearable:
				if at != sweepStart && next.Sub(at) != 5*time.Minute {
					t.Errorf("%s: %v after %v; want every 5 minutes", d.ID, next, at)
				}
			case BPCuff:
				if !(h >= 6 && h <= 7 || h >= 20 && h <= 21) {
					t.Errorf("%s: cuff reading at %v; want morning or evening", d.ID, next.In(zone))
				}
			case Station:
				if h < 7 || h > 17 {
					t.Errorf("%s: station reading at %v; want opening hours", d.ID, next.In(zone))
				}
			}
			perDay[next.In(zone).Format(time.DateOnly)]++
			at = next
		}
		if d.Kind == GlucoseMeter {
			for day, n := range perDay {
				if n > 4 {
					t.Errorf("%s: %d readings on %s; want 1-4 a day", d.ID, n, day)
				}
			}
		}
	}
}

func TestMessageTimesStrictlyIncrease(t *testing.T) {
	d := NewFleet(1, 1, Mix{Wearable: 1}).Devices()[0]
	var prev time.Time
	for range 5 {
		m := d.Message(sweepStart) // a load test measures faster than the clock ticks
		if !m.Time.After(prev) {
			t.Errorf("Message(same time) ts %v after %v; want strictly later", m.Time, prev)
		}
		prev = m.Time
	}
}

func TestInject(t *testing.T) {
	d := NewFleet(1, 1, Mix{GlucoseMeter: 1}).Devices()[0]
	first := d.Message(sweepStart)

	low := []Reading{{Type: reading.Glucose, Value: 2.4, Unit: "mmol/L", Context: "random", Source: "fingerstick"}}
	d.Inject(Event{Readings: low, Flags: []string{}, Skew: 10 * time.Minute})
	d.Inject(Event{Payload: []byte(`{"readings":[`), WantReason: reading.ReasonMalformed})
	if d.Pending() != 2 {
		t.Fatalf("Pending() = %d after two Inject; want 2", d.Pending())
	}
	at := sweepStart.Add(time.Hour)
	m := d.Message(at)
	if !slices.Equal(m.Readings, low) || len(m.Flags) != 0 || m.Seq != first.Seq+1 {
		t.Errorf("after Inject(readings): %+v; want the injected readings, no flags, next seq", m)
	}
	if !m.Time.Equal(at.Add(10 * time.Minute)) {
		t.Errorf("after Inject(skew 10m): ts %v; want %v", m.Time, at.Add(10*time.Minute))
	}
	raw := d.Message(at.Add(time.Minute))
	if string(raw.JSON()) != `{"readings":[` || raw.WantReason != reading.ReasonMalformed {
		t.Errorf("after Inject(payload): %s, %q; want the raw payload and its reason", raw.JSON(), raw.WantReason)
	}
	if next := d.Message(at.Add(2 * time.Minute)); next.Seq != first.Seq+2 {
		t.Errorf("seq after a raw payload = %d; want %d (raw payloads take no seq)", next.Seq, first.Seq+2)
	}
	if d.Pending() != 0 {
		t.Errorf("Pending() = %d after use; want 0", d.Pending())
	}
}

func TestBadPayload(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	seen := map[string]int{}
	for range 2000 {
		b, why := BadPayloadAt(r, now)
		seen[why]++
		if len(b) == 0 || len(b) > reading.MaxPayload {
			t.Fatalf("BadPayload gave %d bytes", len(b))
		}
		if why == string(reading.ReasonMalformed) {
			if json.Valid(b) {
				t.Errorf("malformed payload %q is valid JSON", b)
			}
			continue
		}
		var m wireMessage
		if err := decodeStrict(b, &m); err != nil {
			t.Fatalf("%s payload %s: %v; want valid JSON with only that fault", why, b, err)
		}
		if m.Seq != nil {
			t.Errorf("bad payload %s has a seq; want none", b)
		}
		if len(m.Readings) != 1 {
			t.Fatalf("bad payload %s; want exactly one reading", b)
		}
		rd := m.Readings[0]
		switch reading.Reason(why) {
		case reading.ReasonUnknownType:
			if slices.Contains(reading.Types, reading.Type(rd.Type)) {
				t.Errorf("unknown-type payload %s has a known type", b)
			}
		case reading.ReasonUnknownUnit:
			if err := plausible(rd); err == nil {
				t.Errorf("unknown-unit payload %s has an accepted unit", b)
			}
		case reading.ReasonImplausible:
			if err := plausible(rd); err == nil {
				t.Errorf("implausible payload %s is plausible", b)
			}
		case reading.ReasonFutureTimestamp:
			ts, err := parseTS(m.TS)
			if err != nil || ts.Sub(now) < time.Hour {
				t.Errorf("future-timestamp payload %s: ts %v, %v; want at least an hour ahead of %v", b, ts, err, now)
			}
			if err := plausible(rd); err != nil {
				t.Errorf("future-timestamp payload %s: %v; want only the time wrong", b, err)
			}
		default:
			t.Fatalf("BadPayload reason %q; want one of %v", why, BadReasons)
		}
		if reading.Reason(why) != reading.ReasonFutureTimestamp && m.TS != nil {
			t.Errorf("bad payload %s has a ts; want none so that only its own fault applies", b)
		}
	}
	for _, why := range BadReasons {
		if seen[string(why)] < 300 {
			t.Errorf("%d of 2000 bad payloads are %s; want about a fifth", seen[string(why)], why)
		}
	}
}

func TestStationBadPayloadNamesResident(t *testing.T) {
	d := NewFleet(1, 1, Mix{Station: 1}).Devices()[0]
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		b, why := d.Bad(r, sweepStart)
		if why == reading.ReasonMalformed {
			continue
		}
		var m wireMessage
		if err := json.Unmarshal(b, &m); err != nil || !slices.Contains(d.Residents, m.Patient) {
			t.Errorf("station bad payload %s (%v); want a resident as patient", b, err)
		}
	}
}

func BenchmarkTelemetry(b *testing.B) {
	f := NewFleet(100, 1, DefaultMix())
	devs := f.Devices()
	at := sweepStart
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		devs[i%len(devs)].Telemetry(at)
	}
}
