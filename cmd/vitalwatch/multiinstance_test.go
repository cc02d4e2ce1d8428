package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// multiInstance is the documented setup for several ingest instances on Mosquitto: the registry
// in PostgreSQL, one InfluxDB, and a Mosquitto configured with what `vitalwatch broker-config
// --ingest-users FILE` wrote and printed, FILE made with mosquitto_passwd as an operator would.
type multiInstance struct {
	t         *testing.T
	mq        *testsrv.Mosquitto
	ix        *testsrv.Influx
	dsn       string
	devices   []string
	passwords map[string]string // ingest user -> password
}

// deviceSecret is the provisioned MQTT secret of each device in a multiInstance registry.
func deviceSecret(id string) string { return "provisioned-secret-of-" + id }

func startMultiInstance(t *testing.T, devices int, users ...string) *multiInstance {
	t.Helper()
	pg := testsrv.StartPostgres(t)
	m := &multiInstance{t: t, ix: testsrv.StartInflux(t, testsrv.InfluxOptions{}), dsn: pg.NewDatabase(t),
		devices: heartRateDevices(devices)}

	in, out := t.TempDir(), t.TempDir()
	var csv strings.Builder
	csv.WriteString("id,kind,site,mode,secret\n")
	for _, id := range m.devices {
		fmt.Fprintf(&csv, "%s,wearable,c1,home,%s\n", id, deviceSecret(id))
	}
	writeFile(t, filepath.Join(in, "sites.csv"), "id,name,time_zone\nc1,Centre One,Asia/Shanghai\n")
	writeFile(t, filepath.Join(in, "devices.csv"), csv.String())
	env := []string{"VITALWATCH_STORE_DSN=" + m.dsn, "VITALWATCH_DATA_DIR=" + t.TempDir()}
	var stdout, stderr strings.Builder
	if err := run(context.Background(), []string{"registry", "import", in}, env, &stdout, &stderr); err != nil {
		t.Fatalf("registry import: %v\n%s", err, stderr.String())
	}

	usersFile, passwords := ingestUsersFile(t, users...)
	m.passwords = passwords
	stdout.Reset()
	stderr.Reset()
	if err := run(context.Background(), []string{"broker-config", "--ingest-users", usersFile, out}, env, &stdout, &stderr); err != nil {
		t.Fatalf("broker-config --ingest-users: %v\n%s", err, stderr.String())
	}
	m.mq = testsrv.StartMosquitto(t, testsrv.MosquittoOptions{ExtraConfig: mosquittoConfLines(t, stdout.String())})
	return m
}

// instance starts `vitalwatch serve` as a process: ingest only (alerts off, to spare the
// machine), signed in as the ingest user, in the shared group, with a data directory of its
// own as on a machine of its own.
func (m *multiInstance) instance(user string) *proc {
	m.t.Helper()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(m.t))
	return startProc(m.t, writeConfig(m.t, fmt.Sprintf(`data_dir: %s
store:
  dsn: %s
http:
  listen: %s
broker:
  embedded: false
  url: %s
  username: %s
  password: %s
ingest:
  client_id: %s
  shared_group: vitalwatch
%salerts:
  enabled: false
influx:
  url: %s
  bucket: %s
`, m.t.TempDir(), m.dsn, httpAddr, m.mq.URL, user, m.passwords[user], user, testTuning, m.ix.URL, m.ix.Bucket)), httpAddr)
}

// publishAsDevices publishes msgs in the background at perSecond, each from its own device
// signed in with its secret (username = client id = device id), at QoS 1; the publisher's
// wait returns once the broker has acknowledged every message.
func (m *multiInstance) publishAsDevices(msgs []testsrv.Message, perSecond int) *publisher {
	p := &publisher{done: make(chan error, 1), sent: make(chan int, len(msgs)+1)}
	go func() {
		clients := map[string]mqtt.Client{}
		defer func() {
			for _, c := range clients {
				c.Disconnect(250)
			}
		}()
		for _, id := range m.devices {
			c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.mq.URL).SetClientID(id).SetUsername(id).
				SetPassword(deviceSecret(id)).SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(300 * time.Millisecond))
			if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
				p.done <- fmt.Errorf("connect %s: %v", id, tok.Error())
				return
			}
			clients[id] = c
		}
		var toks []mqtt.Token
		tick := time.NewTicker(time.Second / time.Duration(perSecond/100))
		defer tick.Stop()
		for i := 0; i < len(msgs); i += 100 {
			<-tick.C
			for _, msg := range msgs[i:min(i+100, len(msgs))] {
				id := strings.Split(msg.Topic, "/")[1]
				toks = append(toks, clients[id].Publish(msg.Topic, 1, false, msg.Payload))
			}
			p.sent <- min(i+100, len(msgs))
		}
		for _, tok := range toks {
			if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
				p.done <- fmt.Errorf("publish: %v", tok.Error())
				return
			}
		}
		p.done <- nil
	}()
	return p
}

// metric returns the value of an unlabelled counter on p's /metrics, or 0.
func metric(t *testing.T, p *proc, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// TestMultiInstanceOnMosquitto runs two instances as the documentation describes them: each
// with an ingest user and client id of its own, one shared group, one PostgreSQL store. Both
// become ready (with one ingest user, use_username_as_clientid gave both one client id and
// each took the other's session), both take a share, and every reading lands once.
func TestMultiInstanceOnMosquitto(t *testing.T) {
	m := startMultiInstance(t, 30, "vitalwatch-ingest-a", "vitalwatch-ingest-b")
	a := m.instance("vitalwatch-ingest-a")
	b := m.instance("vitalwatch-ingest-b")

	msgs := heartRates(6000, len(m.devices), time.Now().Add(-2*time.Hour))
	pub := m.publishAsDevices(msgs, 2000)
	pub.wait(t)
	waitCount(t, m.ix, "heart_rate", len(msgs), 60*time.Second, func() string { return a.logTail() + "\n---\n" + b.logTail() })
	// Both stay ready: neither has been pushed off the broker by the other.
	for _, p := range []*proc{a, b} {
		resp, err := http.Get("http://" + p.http + "/readyz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("instance %s not ready after the run: %v %v\n%s", p.http, err, resp, p.logTail())
		}
		resp.Body.Close()
		if got := metric(t, p, "vitalwatch_mqtt_connects_total"); got != 1 {
			t.Errorf("instance %s connected %v times; want once (a second connection means it lost its session)", p.http, got)
		}
	}
	// A batch is counted as acknowledged just after its points are in InfluxDB: wait for the
	// last count.
	var ackedA, ackedB float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ackedA, ackedB = metric(t, a, "vitalwatch_ingest_acked_total"), metric(t, b, "vitalwatch_ingest_acked_total")
		if ackedA+ackedB >= float64(len(msgs)) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("instance a acknowledged %v messages, b %v", ackedA, ackedB)
	if ackedA < float64(len(msgs))/4 || ackedB < float64(len(msgs))/4 || ackedA+ackedB < float64(len(msgs)) {
		t.Errorf("acknowledged a=%v b=%v of %d; want both to take a share of the shared subscription, all of it between them", ackedA, ackedB, len(msgs))
	}
}

// TestMultiInstanceStandbyTakesOverOnMosquitto: with one of two instances killed, Mosquitto
// keeps queueing that instance's share on its persistent session; the survivor gets only its
// own. A standby started elsewhere with the dead instance's ingest user (and so its client id)
// takes over the session and its queue: every reading lands, none is lost.
func TestMultiInstanceStandbyTakesOverOnMosquitto(t *testing.T) {
	m := startMultiInstance(t, 30, "vitalwatch-ingest-a", "vitalwatch-ingest-b")
	a := m.instance("vitalwatch-ingest-a")
	b := m.instance("vitalwatch-ingest-b")

	msgs := heartRates(12000, len(m.devices), time.Now().Add(-4*time.Hour))
	pub := m.publishAsDevices(msgs[:8000], 1000)
	pub.waitSent(t, 3000)
	b.cmd.Process.Signal(syscall.SIGKILL)
	b.cmd.Wait()
	pub.wait(t)                 // Mosquitto has acknowledged all 8000 to the devices
	time.Sleep(3 * time.Second) // time for the survivor to write all it was given
	landed := m.ix.Count(t, "heart_rate")
	t.Logf("b killed after 3000 of 8000 messages: %d landed through a, %d wait on b's session", landed, 8000-landed)
	if landed < 3000+1500 || landed > 8000-1500 {
		t.Fatalf("%d of 8000 landed with b dead after 3000; want a's share of the rest (about 2500 more) to land and b's held for b's session", landed)
	}

	// The standby: another machine (its own data directory and address), b's ingest user.
	pub = m.publishAsDevices(msgs[8000:], 1000) // devices keep sending meanwhile
	standby := m.instance("vitalwatch-ingest-b")
	pub.wait(t)
	waitCount(t, m.ix, "heart_rate", len(msgs), 60*time.Second, func() string { return a.logTail() + "\n---\n" + standby.logTail() })
	if got := metric(t, standby, "vitalwatch_ingest_acked_total"); got < float64(8000-landed) {
		t.Errorf("the standby acknowledged %v messages; want at least the %d held for b's session", got, 8000-landed)
	}
}
