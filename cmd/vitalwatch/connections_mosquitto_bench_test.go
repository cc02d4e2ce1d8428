package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// With BENCH_BROKER=mosquitto, BenchmarkConnections puts the devices' connections in an
// external Mosquitto, configured as an operator would with what `vitalwatch broker-config
// --ingest-users` wrote for the run's registry and printed for mosquitto.conf. Each run starts
// a fresh Mosquitto, and the two sides become:
//
//   - broker: Mosquitto, with a bare subscriber (TestConnectionsBenchProcess's "subscriber") in
//     ingest's place, signed in as the ingest user on the shared subscription, acknowledging at
//     once;
//   - serve: Mosquitto, with vitalwatch serve as its ingest client (broker.embedded false, one
//     connection on the shared subscription), ingest into a real influxd, usage, alerts and
//     device status.
//
// Mosquitto acknowledges a device's publish as soon as it has queued the message for ingest,
// where the embedded broker waits for ingest: the devices' rate is then Mosquitto's, and what
// the ingest side kept up with is its own rate (taken/s), with what Mosquitto still held for it
// when the load ended (behind). BENCH_MOSQUITTO_CONFIG is added to every run's mosquitto.conf,
// after the lines of internal/testsrv and of broker-config, such as "max_inflight_messages 20".

const (
	// benchIngestUser is the ingest user in Mosquitto's files, and so (use_username_as_clientid)
	// the client id of the ingest side: ingest.client_id's default.
	benchIngestUser = "vitalwatch-ingest"
	benchIngestPass = "password-of-" + benchIngestUser // as ingestUsersFile sets it
	benchSharedGrp  = "vitalwatch"
)

// benchMosquitto is what every run's Mosquitto is configured with.
type benchMosquitto struct {
	confLines string // the mosquitto.conf lines broker-config printed
	entries   int    // lines of the password file: devices and the ingest user
}

// prepareMosquitto runs `vitalwatch broker-config --ingest-users` once on a copy of the
// registry's data directory (the registry every run copies), with an ingest users file made by
// mosquitto_passwd. It raises this process's open-file limit to what it may be, so that
// Mosquitto, which does not raise its own as Go programs do, inherits it.
func prepareMosquitto(b *testing.B, template string) *benchMosquitto {
	users, passwords := ingestUsersFile(b, benchIngestUser)
	if passwords[benchIngestUser] != benchIngestPass {
		b.Fatalf("the ingest user's password is %q, want %q", passwords[benchIngestUser], benchIngestPass)
	}
	work := b.TempDir()
	data := filepath.Join(work, "data")
	if err := os.CopyFS(data, os.DirFS(template)); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(work, "mosquitto")
	var stdout, stderr strings.Builder
	began := time.Now()
	if err := run(context.Background(), []string{"broker-config", "--ingest-users", users, out},
		[]string{"VITALWATCH_DATA_DIR=" + data}, &stdout, &stderr); err != nil {
		b.Fatalf("broker-config --ingest-users: %v\n%s", err, stderr.String())
	}
	took := time.Since(began)
	lines := []string{mosquittoConfLines(b, stdout.String())}
	if extra := os.Getenv("BENCH_MOSQUITTO_CONFIG"); extra != "" {
		lines = append(lines, extra)
	}
	m := &benchMosquitto{confLines: strings.Join(lines, "\n"), entries: countLines(b, filepath.Join(out, "passwd"))}

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	want := lim
	want.Cur = max(lim.Max, 1<<20) // root may raise the hard limit too
	want.Max = want.Cur
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
		want = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		// Setting it at all, even unchanged, has the processes started from here inherit it.
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			b.Fatal(err)
		}
	}
	fmt.Printf("mosquitto: broker-config wrote %d password entries in %v; open-file limit %d\n",
		m.entries, took.Round(time.Millisecond), want.Cur)
	return m
}

func countLines(b *testing.B, path string) int {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

// start starts a fresh Mosquitto and returns it with the time it took to take connections,
// which includes loading the password file.
func (m *benchMosquitto) start(b *testing.B) (*testsrv.Mosquitto, time.Duration) {
	began := time.Now()
	mq := testsrv.StartMosquitto(b, testsrv.MosquittoOptions{ExtraConfig: m.confLines})
	return mq, time.Since(began)
}

// serveConfig is the broker part of serve's (or the bare subscriber's) configuration: an
// ingest client of mq.
func (m *benchMosquitto) serveConfig(mq *testsrv.Mosquitto) string {
	return fmt.Sprintf("broker:\n  embedded: false\n  url: %s\n  username: %s\n  password: %s\n", mq.URL, benchIngestUser, benchIngestPass)
}

// benchMosquittoEnv is the ingest side's environment: the shared subscription (ingest's keys
// stay free for BENCH_SERVE_CONFIG).
var benchMosquittoEnv = []string{"VITALWATCH_INGEST_CLIENT_ID=" + benchIngestUser, "VITALWATCH_INGEST_SHARED_GROUP=" + benchSharedGrp}

// mosquittoRun is what one run measured of Mosquitto, and of what the ingest side took.
type mosquittoRun struct {
	pid             int
	started         time.Duration // from start to taking connections
	rssEnd, rssPeak int64
	// at the start, once its ingest side has subscribed; at vitalsim's last line of the ramp
	// (once a second while the devices that stay connect: up to a second before the ramp's
	// end; 0 for a ramp shorter than a second); and at its first progress line (after the
	// ramp, and up to a second into the load)
	rssStart, rssRampLast, rssRamp int64
	staying                        int64
	rssQuarters                    [3]int64
	cpuSeconds                     float64
	cpuPerMsg                      float64 // µs, Mosquitto's whole CPU time over the messages
	takenRate                      float64 // messages the ingest side acknowledged a second
	behind                         int64   // messages acknowledged to the devices and not yet by the ingest side, at the end
	ackedAtEnd                     int64
	// after the load: what the ingest side had acknowledged once it stopped taking more, and
	// how long after the load that was
	ackedAfter int64
	drained    time.Duration
}

func (r *mosquittoRun) print() {
	fmt.Printf("     mosquitto: took connections %.2fs after its start; RSS %.0f MiB at the start", r.started.Seconds(), connMiB(r.rssStart))
	perDevice := func(rss int64) string {
		if r.staying == 0 {
			return ""
		}
		return fmt.Sprintf(" (%.1f KB a device that stays)", float64(rss-r.rssStart)/1024/float64(r.staying))
	}
	if r.rssRampLast > 0 {
		fmt.Printf(", %.0f at the ramp's last second%s", connMiB(r.rssRampLast), perDevice(r.rssRampLast))
	}
	fmt.Printf(", %.0f in the load's first second%s; %d devices stay connected\n     mosquitto:", connMiB(r.rssRamp), perDevice(r.rssRamp), r.staying)
	fmt.Printf(" RSS %.0f/%.0f/%.0f MiB at the quarters, %.0f at the end, peak %.0f MiB; CPU %.1f µs a message\n",
		connMiB(r.rssQuarters[0]), connMiB(r.rssQuarters[1]), connMiB(r.rssQuarters[2]), connMiB(r.rssEnd), connMiB(r.rssPeak), r.cpuPerMsg)
	fmt.Printf("     ingest side: took %.0f msg/s; %d behind at the end", r.takenRate, r.behind)
	if r.behind != 0 {
		fmt.Printf(", %d behind %.1fs later", r.behind-(r.ackedAfter-r.ackedAtEnd), r.drained.Seconds())
	}
	fmt.Println()
}

// snapshot records Mosquitto's peak RSS and CPU time, and what the ingest side has
// acknowledged, once the load has ended and before the processes stop.
func (r *mosquittoRun) snapshot(httpAddr string) {
	r.rssPeak, r.cpuSeconds, r.ackedAtEnd = peakRSS(r.pid), cpuSeconds(r.pid), int64(acked(httpAddr))
}

// drain waits, after the snapshot, until the ingest side has taken nothing more for 3
// seconds (or 2 minutes have passed): what Mosquitto held for it at the end of the load.
func (r *mosquittoRun) drain(httpAddr string) {
	began, last, lastChange := time.Now(), r.ackedAtEnd, time.Now()
	for time.Since(lastChange) < 3*time.Second && time.Since(began) < 2*time.Minute {
		time.Sleep(200 * time.Millisecond)
		if n := int64(acked(httpAddr)); n != last {
			last, lastChange = n, time.Now()
		}
	}
	r.ackedAfter, r.drained = last, lastChange.Sub(began)
}

// rates divides by the msgs the devices had acknowledged, over duration seconds.
func (r *mosquittoRun) rates(msgs int64, duration float64, staying int64) {
	r.staying = staying
	r.cpuPerMsg = r.cpuSeconds * 1e6 / float64(msgs)
	r.takenRate = float64(r.ackedAtEnd) / duration
	r.behind = msgs - r.ackedAtEnd
}

// summarizeMosquitto prints Mosquitto's medians for each side and the ratio of what the
// ingest sides took, pair by pair.
func summarizeMosquitto(b *testing.B, bySide map[string][]connectionsRun) {
	for _, side := range []string{"broker", "serve"} {
		var rs []connectionsRun
		for _, r := range bySide[side] {
			if r.mq != nil {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		end := connStat(rs, func(r connectionsRun) float64 { return connMiB(r.mq.rssEnd) })
		peak := connStat(rs, func(r connectionsRun) float64 { return connMiB(r.mq.rssPeak) })
		cpu := connStat(rs, func(r connectionsRun) float64 { return r.mq.cpuPerMsg })
		taken := connStat(rs, func(r connectionsRun) float64 { return r.mq.takenRate })
		fmt.Printf("%s, its Mosquitto: RSS at the end %s MiB, peak %s MiB; CPU %s µs a message; the ingest side took %s msg/s\n",
			side, end, peak, cpu.format("%.1f"), taken)
		b.ReportMetric(end.median, side+"_mosquitto_rss_end_MiB")
	}
	var ratios []float64
	for _, r := range bySide["serve"] {
		for _, o := range bySide["broker"] {
			if o.pair == r.pair && r.mq != nil && o.mq != nil && o.mq.takenRate > 0 {
				ratios = append(ratios, r.mq.takenRate/o.mq.takenRate)
			}
		}
	}
	if len(ratios) > 0 {
		s := connStatOf(ratios)
		fmt.Printf("taken by the ingest side, serve/subscriber, pair by pair: %s (%s)\n", s.format("%.2f"), connJoin(ratios, "%.2f"))
		b.ReportMetric(s.median, "taken_ratio")
	}
}
