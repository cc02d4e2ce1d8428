package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// deviceFleet is many simulated devices publishing spo2 readings at QoS 1, each with its own
// connection, signed in with its secret, keeping every unacknowledged publish and sending it
// again when it reconnects (persistent session, paho's store), as the device contract asks.
type deviceFleet struct {
	t       *testing.T
	clients map[string]mqtt.Client
	stop    chan struct{}
	wg      sync.WaitGroup

	mu   sync.Mutex
	sent []sentReading
	low  map[string]bool // devices whose next reading is low (an spo2_low alert)
}

// sentReading is one publish: the device, the reading's time (unique per device), whether it
// was low, and the publish's token, which completes when the broker acknowledges it.
type sentReading struct {
	device string
	at     int64
	low    bool
	tok    mqtt.Token
}

// startFleet connects the devices to broker and has each publish every interval.
func startFleet(t *testing.T, broker string, secrets map[string]string, interval time.Duration) *deviceFleet {
	t.Helper()
	f := &deviceFleet{t: t, clients: map[string]mqtt.Client{}, stop: make(chan struct{}), low: map[string]bool{}}
	for id, secret := range secrets {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID(id).
			SetUsername(id).SetPassword(secret).SetCleanSession(false).SetKeepAlive(10 * time.Second).
			SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
			SetMaxReconnectInterval(500 * time.Millisecond).SetConnectTimeout(5 * time.Second))
		if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("device %s: connect: %v", id, tok.Error())
		}
		f.clients[id] = c
	}
	t.Cleanup(f.close)
	for id, c := range f.clients {
		f.wg.Go(func() { f.publish(id, c, interval) })
	}
	return f
}

func (f *deviceFleet) publish(id string, c mqtt.Client, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last int64
	for {
		select {
		case <-f.stop:
			return
		case <-tick.C:
		}
		at := max(time.Now().UnixMilli(), last+1)
		last = at
		f.mu.Lock()
		low := f.low[id]
		delete(f.low, id)
		f.mu.Unlock()
		value := 97
		if low {
			value = 86
		}
		tok := c.Publish("devices/"+id+"/telemetry", 1, false,
			fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":%d,"unit":"%%"}]}`, at, value))
		if refusedAtOnce(tok) {
			// Between losing its connection and starting to reconnect, the client refuses a
			// publish at once, sending nothing: a device keeps such a reading for its next try.
			f.mu.Lock()
			if low {
				f.low[id] = true
			}
			f.mu.Unlock()
			continue
		}
		f.mu.Lock()
		f.sent = append(f.sent, sentReading{device: id, at: at, low: low, tok: tok})
		f.mu.Unlock()
	}
}

// refusedAtOnce reports whether the client refused the publish of tok without sending it,
// because it was between connections.
func refusedAtOnce(tok mqtt.Token) bool {
	select {
	case <-tok.Done():
		return errors.Is(tok.Error(), mqtt.ErrNotConnected)
	default:
		return false
	}
}

// lowNext makes the next reading of each of ids low.
func (f *deviceFleet) lowNext(ids []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.low[id] = true
	}
}

func (f *deviceFleet) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// waitSent waits until the fleet has published n more readings.
func (f *deviceFleet) waitSent(n int) {
	f.t.Helper()
	want := f.count() + n
	deadline := time.Now().Add(2 * time.Minute)
	for f.count() < want {
		if time.Now().After(deadline) {
			f.t.Fatalf("the fleet published %d of %d readings in 2 minutes", f.count(), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// finish stops publishing and waits up to limit for every publish to be acknowledged. It
// returns the readings the broker acknowledged, how many it did not, and how many of those the
// client itself failed because their connection closed under them while it wrote them
// (dropped): a device that sees such an error sends the reading again, and no broker can
// acknowledge what it may never have received.
func (f *deviceFleet) finish(limit time.Duration) (acked []sentReading, unacked, dropped int) {
	f.t.Helper()
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
	deadline := time.Now().Add(limit)
	errs := map[string]int{}
	for _, s := range f.sent {
		switch {
		case !s.tok.WaitTimeout(max(time.Until(deadline), 0)):
			unacked++
			errs["no acknowledgement in time"]++
		case droppedConnection(s.tok.Error()):
			dropped++
			errs[s.tok.Error().Error()]++
		case s.tok.Error() != nil:
			unacked++
			errs[s.tok.Error().Error()]++
		default:
			acked = append(acked, s)
		}
	}
	if len(errs) > 0 {
		f.t.Logf("publishes not acknowledged, by reason: %v", errs)
	}
	return acked, unacked, dropped
}

// droppedConnection reports whether err is the client's own failure to write on a connection
// that closed or was reset (the broker's process was killed under it).
func droppedConnection(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

func (f *deviceFleet) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
	for _, c := range f.clients {
		c.Disconnect(0)
	}
}

// writeHistory writes n normal spo2 readings of the devices, spread over the six days before
// the last two hours, to InfluxDB as ingest would have stored them.
func writeHistory(t *testing.T, ix *testsrv.Influx, ids []string, n int) {
	t.Helper()
	w := influx.NewWriter(influx.Config{URL: ix.URL, Bucket: ix.Bucket, Timeout: time.Minute})
	defer w.Close()
	end := time.Now().Add(-2 * time.Hour)
	step := 6 * 24 * time.Hour / time.Duration(n)
	var lines []byte
	for i := range n {
		id := ids[i%len(ids)]
		lines = fmt.Appendf(lines, "spo2,device=%s,device_type=oximeter,patient=P-%s,site=test-site value=97 %d\n",
			id, id, end.Add(-time.Duration(i)*step).UnixMilli())
		if i%20000 == 19999 || i == n-1 {
			if err := w.Write(context.Background(), lines); err != nil {
				t.Fatalf("writing history: %v", err)
			}
			lines = lines[:0]
		}
	}
}

// TestRestartsLoseNoAcknowledgedReading restarts vitalwatch serve, with its embedded broker,
// while 40 devices stream QoS 1 readings: once with SIGKILL, once with SIGTERM. A reading the
// broker acknowledged to its device must be in InfluxDB, however the restart falls: on a
// crash the broker's memory is gone, so it may acknowledge only what ingest made durable, and
// while serve starts (the alert rules replay from InfluxDB before ingest subscribes) it must
// not take readings that nobody will store. Low readings sent around each restart must still
// raise their alerts.
func TestRestartsLoseNoAcknowledgedReading(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dataDir := t.TempDir()
	var ids []string
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("rs-%02d", i))
	}
	secrets := seedDevices(t, dataDir, ids...)
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTeam(ctx, devices.Team{ID: "team-1", SiteID: "test-site", Name: "Team 1"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := st.CreatePatient(ctx, devices.Patient{ID: "P-" + id, TeamID: "team-1"}); err != nil {
			t.Fatal(err)
		}
		if err := st.AssignDevice(ctx, id, "P-"+id, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	token := adminToken(t, dataDir)
	// A week of history, as a deployment has: serve replays it into the alert rules at start,
	// before ingest subscribes, which makes that window as long as it is in the field.
	writeHistory(t, ix, ids, 150000)

	httpAddr := fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(t))
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(t))
	cfg := writeConfig(t, fmt.Sprintf(`data_dir: %s
http:
  listen: %s
broker:
  embedded: true
  listen: %s
ingest:
  watchdog_interval: 1s
influx:
  url: %s
  bucket: %s
`, dataDir, httpAddr, brokerAddr, ix.URL, ix.Bucket))
	p := startProc(t, cfg, httpAddr)
	fleet := startFleet(t, brokerAddr, secrets, 50*time.Millisecond) // 40 devices x 20 a second
	fleet.waitSent(3000)

	// Each restart: ten devices send a low reading just before it, ten while serve is down
	// or starting.
	restart := func(sig syscall.Signal, before, during []string) {
		fleet.lowNext(before)
		time.Sleep(300 * time.Millisecond)
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		p.cmd.Wait()
		fleet.lowNext(during)
		time.Sleep(time.Second) // the devices keep publishing into their own stores
		p = startProc(t, cfg, httpAddr)
		fleet.waitSent(3000)
	}
	restart(syscall.SIGKILL, ids[0:10], ids[10:20])
	restart(syscall.SIGTERM, ids[20:30], ids[30:40])

	acked, unacked, dropped := fleet.finish(90 * time.Second)
	if unacked > 0 {
		t.Errorf("%d publishes not acknowledged within 90s of the last restart", unacked)
	}
	// A device loses its connection once a restart, with at most one publish on the wire.
	if most := 2 * len(ids); dropped > most {
		t.Errorf("%d publishes failed as their connections closed; want at most %d (one a device a restart)", dropped, most)
	}
	rows := ix.Query(t, fmt.Sprintf(`from(bucket: %q) |> range(start: -1h) |> filter(fn: (r) => r._measurement == "spo2" and r._field == "value")`, ix.Bucket))
	stored := map[string]bool{}
	for _, r := range rows {
		at, err := time.Parse(time.RFC3339Nano, r["_time"])
		if err != nil {
			t.Fatalf("row %v: %v", r, err)
		}
		stored[fmt.Sprintf("%s@%d", r["device"], at.UnixMilli())] = true
	}
	var lost, lostLow int
	for _, s := range acked {
		if !stored[fmt.Sprintf("%s@%d", s.device, s.at)] {
			lost++
			if s.low {
				lostLow++
			}
		}
	}
	t.Logf("%d readings published, %d acknowledged, %d stored, %d acknowledged but lost (%d of them low)",
		len(acked)+unacked, len(acked), len(stored), lost, lostLow)
	if lost > 0 {
		t.Errorf("%d readings acknowledged to their devices are not in InfluxDB (%d of them low readings)", lost, lostLow)
	}

	// Every patient had a low reading around a restart: each must have its spo2_low alert.
	var missing []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var page struct {
			Items []struct {
				Patient string `json:"patient"`
			} `json:"items"`
		}
		getJSON(t, "http://"+httpAddr+"/api/v1/alerts?rule=spo2_low&limit=1000", token, http.StatusOK, &page)
		raised := map[string]bool{}
		for _, a := range page.Items {
			raised[a.Patient] = true
		}
		missing = nil
		for _, id := range ids {
			if !raised["P-"+id] {
				missing = append(missing, "P-"+id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d patients with a low reading around a restart have no spo2_low alert: %v", len(missing), len(ids), missing)
	}
}
