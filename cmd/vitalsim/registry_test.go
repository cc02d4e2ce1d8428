package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/simulators"
)

// exported is a registry export read back from its CSV files, each row as column -> value.
type exported struct {
	sites, teams, patients, devices, assignments map[string]map[string]string // by first column
	order                                        map[string][]string          // ids in file order
}

// readExport parses the five files of dir, checking each header row exactly and that the first
// column (the id; for assignments the device) is unique.
func readExport(t *testing.T, dir string) *exported {
	t.Helper()
	headers := map[string]string{
		"sites":       "id,name,district,address,lat,lon,time_zone,opening_hours",
		"teams":       "id,site,name",
		"patients":    "id,team,plans",
		"devices":     "id,kind,model,serial,firmware,site,mode,status,rated_uses_per_day,secret,in_service",
		"assignments": "device,patient,from",
	}
	e := &exported{order: map[string][]string{}}
	for name, header := range headers {
		b, err := os.ReadFile(filepath.Join(dir, name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		if first, _, _ := strings.Cut(string(b), "\n"); first != header {
			t.Errorf("%s.csv header %q; want %q", name, first, header)
		}
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("%s.csv: %v", name, err)
		}
		cols := strings.Split(header, ",")
		byID := map[string]map[string]string{}
		for _, row := range rows[1:] {
			rec := map[string]string{}
			for i, c := range cols {
				rec[c] = row[i]
			}
			if _, dup := byID[row[0]]; dup {
				t.Errorf("%s.csv: %s %q appears twice", name, cols[0], row[0])
			}
			byID[row[0]] = rec
			e.order[name] = append(e.order[name], row[0])
		}
		switch name {
		case "sites":
			e.sites = byID
		case "teams":
			e.teams = byID
		case "patients":
			e.patients = byID
		case "devices":
			e.devices = byID
		case "assignments":
			e.assignments = byID
		}
	}
	return e
}

func TestExportRegistry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "registry")
	const devicesN, seed = 240, 5
	stdout := runOK(t, context.Background(), "--export-registry", dir, "--devices", fmt.Sprint(devicesN), "--seed", fmt.Sprint(seed))
	if !strings.Contains(stdout, "240 devices") {
		t.Errorf("stdout %q; want what was written", stdout)
	}
	e := readExport(t, dir)
	if fi, err := os.Stat(filepath.Join(dir, "devices.csv")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("devices.csv mode %v, %v; want 0600, it holds the secrets", fi.Mode(), err)
	}

	if n := len(e.sites); n < 3 || n > 6 {
		t.Errorf("%d sites; want 3-6", n)
	}
	coords := map[string]string{}
	for id, s := range e.sites {
		lat, err1 := strconv.ParseFloat(s["lat"], 64)
		lon, err2 := strconv.ParseFloat(s["lon"], 64)
		if err1 != nil || err2 != nil || lat < 30.4 || lat > 30.8 || lon < 103.9 || lon > 104.2 {
			t.Errorf("site %s at %s,%s; want coordinates in Chengdu", id, s["lat"], s["lon"])
		}
		if other, dup := coords[s["lat"]+","+s["lon"]]; dup {
			t.Errorf("sites %s and %s share coordinates", id, other)
		}
		coords[s["lat"]+","+s["lon"]] = id
		if s["time_zone"] != "Asia/Shanghai" || s["name"] == "" || s["opening_hours"] == "" {
			t.Errorf("site %+v; want a name, opening hours and Asia/Shanghai", s)
		}
	}
	teamsAt := map[string]int{}
	for id, tm := range e.teams {
		if e.sites[tm["site"]] == nil {
			t.Errorf("team %s at unknown site %q", id, tm["site"])
		}
		teamsAt[tm["site"]]++
	}
	for id := range e.sites {
		if teamsAt[id] < 2 {
			t.Errorf("site %s has %d teams; want a couple", id, teamsAt[id])
		}
	}
	for id, p := range e.patients {
		if e.teams[p["team"]] == nil {
			t.Errorf("patient %s in unknown team %q", id, p["team"])
		}
		if p["plans"] != "" {
			for plan := range strings.SplitSeq(p["plans"], ";") {
				if c, what, ok := strings.Cut(plan, ": "); !ok || c == "" || what == "" {
					t.Errorf("patient %s: plan %q; want like \"hypertension: BP daily\"", id, plan)
				}
			}
		}
	}

	now := time.Now()
	fleet := simulators.NewFleet(devicesN, seed, simulators.DefaultMix())
	if len(e.devices) != fleet.Len() {
		t.Fatalf("%d devices exported; want %d", len(e.devices), fleet.Len())
	}
	sitesUsed := map[string]bool{}
	for _, d := range fleet.Devices() {
		row := e.devices[d.ID]
		if row == nil {
			t.Fatalf("device %s of the fleet not exported", d.ID)
		}
		sitesUsed[row["site"]] = true
		if devices.Kind(row["kind"]) != d.Kind.RegistryKind() || !devices.Kind(row["kind"]).Valid() ||
			e.sites[row["site"]] == nil || row["status"] != "active" || row["model"] == "" || row["serial"] == "" || row["firmware"] != d.Firmware {
			t.Errorf("device row %v; want kind %s, a known site, active, model, serial, firmware %s", row, d.Kind, d.Firmware)
		}
		if row["in_service"] != "" {
			t.Errorf("device %s in service %q; want empty without --history", d.ID, row["in_service"])
		}
		if row["secret"] != simulators.Secret(seed, d.ID) || len(row["secret"]) != 32 {
			t.Errorf("device %s secret %q; want the 32 characters derived from seed and id", d.ID, row["secret"])
		}
		a := e.assignments[d.ID]
		if d.Kind == simulators.Station {
			if row["mode"] != "station" || row["rated_uses_per_day"] == "0" || a != nil {
				t.Errorf("station row %v, assignment %v; want mode station, rated uses, no assignment", row, a)
			}
			for _, p := range d.Residents {
				if e.patients[p] == nil {
					t.Errorf("station %s: resident %s not in patients.csv", d.ID, p)
				}
			}
		} else {
			if row["mode"] != "home" || row["rated_uses_per_day"] != "0" || a == nil || a["patient"] != d.Patient {
				t.Fatalf("home device row %v, assignment %v; want mode home, assigned to %s", row, a, d.Patient)
			}
			from, err := time.Parse(time.RFC3339, a["from"])
			if err != nil || from.After(now.Add(-29*24*time.Hour)) || from.Before(now.Add(-32*24*time.Hour)) {
				t.Errorf("assignment %v: from %v, %v; want RFC 3339, about 30 days ago", a, from, err)
			}
		}
	}
	for id, a := range e.assignments {
		if e.devices[id] == nil || e.patients[a["patient"]] == nil {
			t.Errorf("assignment %v: unknown device or patient", a)
		}
	}
	if len(sitesUsed) != len(e.sites) {
		t.Errorf("devices at %d of %d sites; want them spread over every site", len(sitesUsed), len(e.sites))
	}

	// What the fleet sends names only exported patients: a home device's patient, when it
	// names one, is its assignment's.
	for i := range 20 {
		for _, d := range fleet.Devices() {
			at := now.Add(time.Duration(i) * 37 * time.Minute)
			msg, rej := reading.Decode(d.ID, d.Telemetry(at), at)
			if len(rej) > 0 {
				t.Fatalf("%s: rejected %v", d.ID, rej)
			}
			checkPatient(t, e, d.ID, msg.Patient)
		}
	}

	// The same seed gives the same files.
	again := filepath.Join(t.TempDir(), "again")
	runOK(t, context.Background(), "--export-registry", again, "--devices", fmt.Sprint(devicesN), "--seed", fmt.Sprint(seed))
	for _, name := range []string{"sites.csv", "teams.csv", "patients.csv", "devices.csv"} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, _ := os.ReadFile(filepath.Join(again, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two exports of seed %d", name, seed)
		}
	}
	if e2 := readExport(t, again); !slices.Equal(e.order["assignments"], e2.order["assignments"]) {
		t.Errorf("assignments differ between two exports of seed %d", seed)
	}
}

// checkPatient fails the test unless patient, as named in a telemetry payload of device, fits
// the export: a station's is an exported patient; a home device's is empty (the registry credits
// the assigned patient) or its assigned patient.
func checkPatient(t *testing.T, e *exported, device, patient string) {
	t.Helper()
	row := e.devices[device]
	switch {
	case row == nil:
		t.Errorf("telemetry from %s, which is not in devices.csv", device)
	case row["mode"] == "station" && e.patients[patient] == nil:
		t.Errorf("station %s: patient %q not in patients.csv", device, patient)
	case row["mode"] == "home" && patient != "" && patient != e.assignments[device]["patient"]:
		t.Errorf("home device %s: patient %q; want its assigned %s", device, patient, e.assignments[device]["patient"])
	}
}

// startAuthBroker starts a Mosquitto that knows the devices of the export in dir by their
// secrets' hashes, lets each publish only under devices/{its id}/, and lets anonymous clients
// (the test's subscriber) only read.
func startAuthBroker(t *testing.T, dir string) *testsrv.Mosquitto {
	t.Helper()
	e := readExport(t, dir)
	var pw strings.Builder
	for _, id := range e.order["devices"] {
		fmt.Fprintf(&pw, "%s:%s\n", id, devices.HashSecret(e.devices[id]["secret"]))
	}
	conf := t.TempDir()
	pwFile, aclFile := filepath.Join(conf, "passwords"), filepath.Join(conf, "acl")
	// Topic rules before any "user" line are for anonymous clients; pattern rules for everyone,
	// %u being the user name.
	acl := "topic read devices/#\npattern write devices/%u/#\n"
	if err := os.WriteFile(pwFile, []byte(pw.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(aclFile, []byte(acl), 0o644); err != nil {
		t.Fatal(err)
	}
	// mosquitto 2.0.11 with testsrv's max_queued_messages 0 disconnects a client whose publish
	// it denies (it compares its queue with the limit 0); with a limit it acknowledges and drops
	// the message, as MQTT 3.1.1 allows [MQTT-3.3.5-2]. A later line overrides the earlier one.
	extra := "password_file " + pwFile + "\nacl_file " + aclFile + "\nmax_queued_messages 1000000"
	return testsrv.StartMosquitto(t, testsrv.MosquittoOptions{ExtraConfig: extra})
}

func TestAuthLoadAndRealtime(t *testing.T) {
	dir := t.TempDir()
	const devicesN, seed, count = 150, 4, 3000
	runOK(t, context.Background(), "--export-registry", dir, "--devices", fmt.Sprint(devicesN), "--seed", fmt.Sprint(seed))
	broker := startAuthBroker(t, dir)
	e := readExport(t, dir)
	rec := subscribe(t, broker.URL, "devices")

	// The ACL bites: a device signed in as itself cannot publish for another. Its own message,
	// sent after on the same connection, landing first shows that the other one was dropped.
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL).SetClientID("sim-glu-0001").
		SetUsername("sim-glu-0001").SetPassword(e.devices["sim-glu-0001"]["secret"]))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as sim-glu-0001: %v", tok.Error())
	}
	c.Publish("devices/sim-glu-0002/telemetry", 0, false, `{"readings":[]}`)
	c.Publish("devices/sim-glu-0001/status", 0, false, `{"online":false}`)
	rec.waitFor(t, 0, 1)
	c.Disconnect(0)
	rec.mu.Lock()
	rec.status = map[string][][]byte{}
	rec.mu.Unlock()

	out := filepath.Join(t.TempDir(), "summary.json")
	runOK(t, context.Background(), "--broker", broker.URL, "--auth", "--devices", fmt.Sprint(devicesN), "--seed", fmt.Sprint(seed),
		"--rate", "0", "--count", fmt.Sprint(count), "--conns", "3", "--window", "100", "--out", out, "--quiet")
	sum := readSummary(t, out)
	if sum.Sent != count || sum.Errors != 0 || sum.Status != devicesN || sum.Conns != devicesN || !sum.Auth {
		t.Fatalf("summary sent %d, errors %d, status %d, conns %d, auth %v; want %d, 0, %d, %d, true",
			sum.Sent, sum.Errors, sum.Status, sum.Conns, sum.Auth, count, devicesN, devicesN)
	}
	rec.waitFor(t, count, devicesN)
	rec.mu.Lock()
	for device, payloads := range rec.telemetry {
		for _, p := range payloads {
			msg, rej := reading.Decode(device, p, time.Now())
			if len(rej) > 0 {
				t.Errorf("%s: %s rejected: %v", device, p, rej)
			}
			checkPatient(t, e, device, msg.Patient)
		}
	}
	if len(rec.telemetry) != devicesN {
		t.Errorf("telemetry from %d devices; want every one of %d", len(rec.telemetry), devicesN)
	}
	rec.telemetry, rec.status = map[string][][]byte{}, map[string][][]byte{}
	rec.mu.Unlock()

	// Realtime devices sign in the same way; their ids are in the export, and a secret depends
	// only on the seed and the id.
	runOK(t, context.Background(), "--broker", broker.URL, "--auth", "--realtime", "--devices", "3", "--seed", fmt.Sprint(seed),
		"--mix", "station=1", "--duration", "500ms", "--status-every", "0", "--out", out, "--quiet")
	rec.waitFor(t, int(readSummary(t, out).Sent), 6) // online and offline from each
}

func TestAuthWrongSecretFails(t *testing.T) {
	dir := t.TempDir()
	runOK(t, context.Background(), "--export-registry", dir, "--devices", "20", "--seed", "4")
	broker := startAuthBroker(t, dir)
	var stdout, stderr bytes.Buffer
	// The same device ids, with the secrets of another seed.
	err := run(context.Background(), []string{"--broker", broker.URL, "--auth", "--devices", "20", "--seed", "5",
		"--count", "10", "--quiet"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "not Authorized") || !strings.Contains(err.Error(), "--seed 5") {
		t.Errorf("run --auth with the wrong seed = %v; want the broker's refusal, with a hint about --seed", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q; want no summary of a run that never started", stdout.String())
	}
}
