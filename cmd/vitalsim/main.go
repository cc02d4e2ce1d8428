// Command vitalsim drives a simulated fleet of health devices against an MQTT broker, following
// the device contract of docs/design.md: telemetry on {prefix}/{id}/telemetry, status on
// {prefix}/{id}/status.
//
// It has two modes. The load mode (the default) spreads the fleet over a few connections and
// publishes at a total rate (--rate, 0 for as fast as the broker acknowledges), keeping a
// bounded window of unacknowledged messages per connection; it reports the rate it achieved.
// The realtime mode (--realtime) gives every device its own connection, with its last will
// {"online": false} on its status topic, and lets each device measure on its own natural
// schedule: a CGM every 5 minutes, a home cuff morning and evening, a station in opening hours.
//
// A share of messages can be bad payloads (--bad) that ingest must reject; the summary, and the
// JSON written with --out, say how many of each reason were sent, so that a test can compare them
// with the dead letters that landed.
//
// With --auth every device signs in as itself, as the registry's broker requires: user name and
// client id its device id, password its secret (simulators.Secret, derived from --seed). The load
// mode then opens a connection per device and spreads its publishers over them. --sessions is
// the load mode of a city, for any number of devices (load_sessions.go): each device on its own
// connection, the worn ones staying connected, the others connecting, sending and leaving;
// --registry DIR reads the secrets from an export instead of deriving them.
// --export-registry DIR writes the fleet's sites, teams, patients, devices with their secrets, and
// assignments as CSV files for the registry to import, and exits.
//
// --scenario reallocation shapes the fleet for the utilisation demo: idle, normal and overloaded
// centres, and a station that fails (simulators.Reallocation). --scenario FILE (a .yaml script,
// simulators.Script) plays a scripted scenario on the wall clock, its devices signed in as
// themselves, on top of the live fleet or alone with --devices 0; the two may be given together.
// With --export-registry the script's centres, teams, residents and devices join the export,
// with scenario-script.txt naming the alerts it should raise. --history 130d first publishes
// what every device would have sent over the last 130 days, measured then, as fast as the broker
// takes it; vitalsim then exits, or goes on live when --rate or --realtime is given. With
// --history, --export-registry records every device in service (and every home device lent) from
// the history's first day, so that utilisation counts those days; with --scenario it also writes
// scenario.txt, which names the failing device, and maintenance.csv, the history's repairs
// (simulators.Fleet.Repairs), which the registry imports as the devices' past periods.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vitalwatch/vitalwatch/simulators"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal stops the run gracefully; a second one kills, as usual.
	context.AfterFunc(ctx, stop)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vitalsim:", err)
		os.Exit(1)
	}
}

// maxRealtimeDevices caps --realtime, where every device holds its own TCP connection: a
// thousand connections fit the default open-file limit of a shell (1024 on many systems) only
// just, and beyond that the load mode is the tool.
const maxRealtimeDevices = 1000

// maxAuthDevices caps --auth in the load mode, where every device holds its own connection so
// that the broker lets it publish under its own topics only. Go raises the soft open-file limit
// to the hard one at start; the broker needs as many descriptors.
const maxAuthDevices = 5000

// config is the parsed command line.
type config struct {
	broker      string
	username    string
	password    string
	auth        bool
	exportDir   string
	devices     int
	seed        int64
	mix         simulators.Mix
	rate        float64
	count       int64
	duration    time.Duration
	realtime    bool
	bad         float64
	qos         byte
	prefix      string
	statusEvery time.Duration
	conns       int
	window      int
	sessions    bool              // the sessions mode (load_sessions.go)
	parallel    int               // turns at once in the sessions mode
	sessionMsgs int               // telemetry per visit of a device that does not stay connected
	registryDir string            // --registry: the export whose secrets the devices sign in with
	secrets     map[string]string // device id -> secret, read from registryDir
	coalesce    bool
	drain       time.Duration
	out         string
	quiet       bool
	scenario    *simulators.Scenario // nil: the default fleet
	script      *simulators.Script   // nil: none
	scriptFile  string
	scriptStart time.Time     // the script's time 0; zero: when it starts
	history     time.Duration // 0: no history
	live        bool          // publish live: without --history, or with --rate or --realtime
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("vitalsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vitalsim [flags]\n       vitalsim --export-registry DIR [--devices N] [--seed S] [--mix ...] [--scenario S] [--scenario FILE] [--history D]\n"+
			"       vitalsim --history 130d [--scenario S] [flags]    (then exits; add --rate or --realtime to go on live)\n"+
			"       vitalsim --scenario FILE [--devices 0] [flags]    (plays a scripted scenario, on top of the fleet or alone)\n\n"+
			"Publishes a simulated device fleet to an MQTT broker, or writes the fleet's registry as CSV files:\n"+
			"sites.csv, teams.csv, patients.csv, devices.csv (with each device's secret, for --auth) and assignments.csv;\n"+
			"with --scenario also scenario.txt, which names the scenario's centres and its failing device, and with --history\n"+
			"maintenance.csv, the devices' repairs in the history.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.broker, "broker", "tcp://127.0.0.1:1883", "MQTT broker `URL` (tcp://, ssl://, ws://)")
	fs.StringVar(&c.username, "username", "", "MQTT user name; in --realtime, {id} is replaced by the device id")
	fs.StringVar(&c.password, "password", "", "MQTT password")
	fs.BoolVar(&c.auth, "auth", false, fmt.Sprintf("each device signs in as itself: user name and client id its id, password its secret from --seed (see --export-registry); "+
		"the load mode then opens a connection per device (at most %d devices)", maxAuthDevices))
	fs.StringVar(&c.exportDir, "export-registry", "", "write the fleet's registry (sites, teams, patients, devices with their secrets, assignments) as CSV files into `dir` and exit")
	fs.IntVar(&c.devices, "devices", 100, "number of devices in the fleet")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the fleet; the same seed gives the same devices, patients and values")
	mix := fs.String("mix", simulators.DefaultMix().String(), "relative share of each device kind, kind=weight,...")
	fs.Float64Var(&c.rate, "rate", 100, "telemetry messages per second across the fleet; 0 is as fast as possible (load mode)")
	fs.Int64Var(&c.count, "count", 0, "stop after this many telemetry messages, bad ones included; 0 is no limit")
	fs.DurationVar(&c.duration, "duration", 0, "stop after this long; 0 is until --count or a signal")
	fs.BoolVar(&c.realtime, "realtime", false, fmt.Sprintf("each device on its own connection and natural schedule, in real time (at most %d devices)", maxRealtimeDevices))
	fs.Float64Var(&c.bad, "bad", 0, "share of telemetry messages that are bad payloads, 0-1")
	qos := fs.Int("qos", 1, "MQTT QoS of telemetry and status, 0-2")
	fs.StringVar(&c.prefix, "prefix", "devices", "topic prefix: {prefix}/{id}/telemetry and {prefix}/{id}/status")
	fs.DurationVar(&c.statusEvery, "status-every", time.Minute, "status message interval per device; 0 sends none")
	fs.IntVar(&c.conns, "conns", 8, "publishers in the load mode, each with its own MQTT connection; with --auth they share the devices' own connections")
	fs.IntVar(&c.window, "window", 1000, "unacknowledged messages allowed per publisher (load mode)")
	fs.BoolVar(&c.sessions, "sessions", false, "the load mode of a city, for any number of devices: each device on its own connection, signed in as itself; "+
		"wearables and CGMs stay connected and send a reading each turn, the others connect, send --session-messages readings and leave (tcp:// brokers)")
	fs.IntVar(&c.parallel, "parallel", 64, "devices connecting or sending at once (--sessions)")
	fs.IntVar(&c.sessionMsgs, "session-messages", 10, "readings a device that does not stay connected sends each time it connects (--sessions)")
	fs.StringVar(&c.registryDir, "registry", "", "with --auth, read each device's secret from devices.csv of this `dir` (written by --export-registry) instead of deriving it from --seed")
	fs.BoolVar(&c.coalesce, "coalesce", true, "gather small writes to a tcp:// broker into large ones (load mode, not with --auth); false uses paho's own connection")
	fs.DurationVar(&c.drain, "drain-timeout", 10*time.Second, "how long to wait for outstanding acknowledgements when stopping")
	fs.StringVar(&c.out, "out", "", "write a JSON summary to this `file`")
	fs.BoolVar(&c.quiet, "quiet", false, "no live progress line on stderr")
	var scenarios scenarioFlags
	fs.Var(&scenarios, "scenario", "shape the fleet by a `scenario`: \"reallocation\" has idle, normal and overloaded centres and a failing station; "+
		"give the same one to --export-registry, --history and the live run. A .yaml file is a scripted scenario (simulators/scenarios/) that plays "+
		"on the wall clock on top of the fleet (or alone with --devices 0); give both to do both, and the file to --export-registry too")
	start := fs.String("scenario-start", "", "the `time` (RFC 3339) a --scenario FILE starts at; default now. Messages due before now are sent at once")
	fs.Var((*days)(&c.history), "history", "first publish what every device sent over this long before now (130d, 36h), measured then, as fast as the broker takes it; "+
		"then exit, or go on live with --rate or --realtime. With --export-registry: devices in service and lent from the history's first day")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if c.mix, err = simulators.ParseMix(*mix); err != nil {
		return c, err
	}
	if err := resolveScenarios(&c, scenarios); err != nil {
		return c, err
	}
	if *start != "" {
		if c.scriptStart, err = time.Parse(time.RFC3339, *start); err != nil {
			return c, fmt.Errorf("--scenario-start %q: want an RFC 3339 time such as 2026-11-22T08:00:00+08:00", *start)
		}
	}
	c.qos = byte(*qos)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.live = c.history == 0 || c.realtime || set["rate"]
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	check(c.devices >= 1 || c.devices == 0 && c.script != nil, "--devices %d: need at least 1, or 0 to play a --scenario FILE alone", c.devices)
	check(*start == "" || c.script != nil, "--scenario-start is for a --scenario FILE")
	if c.devices == 0 && c.script != nil {
		for _, name := range []string{"history", "rate", "realtime", "count", "bad"} {
			if set[name] {
				problems = append(problems, fmt.Sprintf("--%s is for a fleet, and --devices 0 plays the script alone", name))
			}
		}
	}
	check(c.script == nil || c.live || c.exportDir != "", "--scenario %s plays live: add --rate or --realtime to go on live after --history", c.scriptFile)
	check(c.rate >= 0, "--rate %v: must not be negative", c.rate)
	check(c.count >= 0, "--count %d: must not be negative", c.count)
	check(c.duration >= 0, "--duration %v: must not be negative", c.duration)
	check(c.bad >= 0 && c.bad <= 1, "--bad %v: must be a share between 0 and 1", c.bad)
	check(*qos >= 0 && *qos <= 2, "--qos %d: must be 0, 1 or 2", *qos)
	check(c.prefix != "" && !strings.ContainsAny(c.prefix, "+#") && !strings.HasSuffix(c.prefix, "/"),
		"--prefix %q: must be a topic without wildcards or a trailing /", c.prefix)
	check(c.statusEvery >= 0, "--status-every %v: must not be negative", c.statusEvery)
	check(c.conns >= 1, "--conns %d: need at least 1", c.conns)
	check(c.window >= 1 && c.window <= 65535, "--window %d: must be 1-65535 (MQTT packet ids)", c.window)
	check(c.drain > 0, "--drain-timeout %v: must be positive", c.drain)
	check(!c.realtime || c.devices <= maxRealtimeDevices,
		"--devices %d with --realtime: at most %d, each device holds a connection; use the load mode for more", c.devices, maxRealtimeDevices)
	check(!c.auth || c.realtime || c.exportDir != "" || c.devices <= maxAuthDevices || c.sessions && c.history == 0,
		"--devices %d with --auth: at most %d, each device holds its own connection; --sessions takes any number", c.devices, maxAuthDevices)
	check(c.registryDir == "" || c.auth && c.exportDir == "", "--registry gives the secrets that --auth signs in with, and does not go with --export-registry")
	if c.sessions {
		check(!c.realtime, "--sessions and --realtime are two modes: choose one")
		check(c.qos <= 1, "--qos %d with --sessions: 0 or 1", c.qos)
		check(c.parallel >= 1, "--parallel %d: need at least 1", c.parallel)
		check(c.sessionMsgs >= 1, "--session-messages %d: need at least 1", c.sessionMsgs)
		for _, name := range []string{"conns", "window", "coalesce"} {
			if set[name] {
				problems = append(problems, fmt.Sprintf("--%s is for the load mode's shared publishers; --sessions gives each device its own connection (see --parallel)", name))
			}
		}
		if _, err := brokerAddr(c.broker); err != nil {
			problems = append(problems, err.Error())
		}
	} else {
		for _, name := range []string{"parallel", "session-messages"} {
			if set[name] {
				problems = append(problems, fmt.Sprintf("--%s is for --sessions", name))
			}
		}
	}
	check(!c.auth || c.username == "" && c.password == "",
		"--username and --password do not go with --auth: each device signs in with its own id and secret")
	if c.realtime {
		for _, name := range []string{"rate", "conns", "window", "coalesce"} {
			if set[name] {
				problems = append(problems, fmt.Sprintf("--%s is for the load mode; --realtime devices keep their own schedule and connection", name))
			}
		}
	}
	check(c.history >= 0, "--history %v: must not be negative", c.history)
	check(c.scenario == nil || c.devices > 0, "--scenario %s shapes a fleet, and --devices 0 has none", scenarioName(c.scenario))
	if c.scenario != nil && c.devices > 0 {
		check(c.devices >= c.scenario.MinDevices(), "--devices %d with --scenario %s: at least %d, the scenario's stations and as many home devices",
			c.devices, c.scenario.Name, c.scenario.MinDevices())
	}
	if !c.live && c.exportDir == "" {
		for _, name := range []string{"count", "duration", "bad", "status-every"} {
			if set[name] {
				problems = append(problems, fmt.Sprintf("--%s is for the live run, and --history alone has none: add --rate or --realtime to go on live after the history", name))
			}
		}
	}
	if len(problems) > 0 {
		return c, errors.New(strings.Join(problems, "; "))
	}
	c.conns = max(1, min(c.conns, c.devices))
	if c.registryDir != "" {
		if c.secrets, err = readSecrets(c.registryDir); err != nil {
			return c, err
		}
	}
	return c, nil
}

// run is the whole program: parse args, build the fleet, publish until the count, the duration
// or ctx ends it, and report. Progress goes to stderr, the summary to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var fleet *simulators.Fleet // nil: a script alone
	if cfg.devices > 0 {
		fleet = simulators.NewScenarioFleet(cfg.devices, cfg.seed, cfg.mix, cfg.scenario)
	}
	if cfg.exportDir != "" {
		return exportRegistry(cfg, fleet, time.Now(), stdout)
	}
	if err := checkSecrets(cfg, fleet); err != nil {
		return err
	}
	if fleet == nil {
		return runScriptAlone(ctx, cfg, stdout, stderr)
	}
	var hist *historySummary
	if cfg.history > 0 {
		to := time.Now()
		from := simulators.HistoryStart(to, cfg.history)
		hcfg := cfg
		hcfg.realtime = false
		st := newStats()
		stopLive := startLive(st, stderr, cfg.quiet)
		err := runHistory(ctx, hcfg, fleet, from, to, st)
		stopLive()
		st.finish(time.Now())
		if err != nil {
			return err
		}
		hist = st.historySummary(from, to)
		if !cfg.live || ctx.Err() != nil || hist.Errors > 0 {
			sum := st.summary(hcfg, fleet.Len())
			sum.Mode = "history"
			return report(cfg, fleet, sum, hist, stdout)
		}
	}

	devs := fleet.Devices()
	if cfg.scenario != nil {
		devs = liveDevices(fleet)
	}
	if cfg.duration > 0 && !cfg.sessions { // the sessions mode counts it from the end of its ramp
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	if !cfg.realtime && cfg.rate/float64(len(devs)) > 1000 {
		fmt.Fprintf(stderr, "vitalsim: warning: %.0f messages/s per device; a device's timestamps step 1 ms per message and will run ahead of the clock, use more --devices\n",
			cfg.rate/float64(len(devs)))
	}

	// The script plays on its own connections while the fleet runs, and the run ends when both
	// have: the fleet by --count, --duration or a signal, the script at its last message (or
	// when the fleet fails).
	var played chan scriptResult
	scriptCtx, stopScript := context.WithCancel(ctx)
	defer stopScript()
	if cfg.script != nil {
		played = make(chan scriptResult, 1)
		go func() {
			sum, err := playScript(scriptCtx, cfg, scriptStart(cfg, time.Now()), stderr)
			played <- scriptResult{sum, err}
		}()
	}
	st := newStats()
	stopLive := startLive(st, stderr, cfg.quiet)
	var sessions *sessionSummary
	switch {
	case cfg.realtime:
		err = runRealtime(ctx, cfg, devs, st)
	case cfg.sessions:
		sessions, err = runSessions(ctx, cfg, devs, st)
	default:
		err = runLoad(ctx, cfg, devs, st)
	}
	stopLive()
	st.finish(time.Now())
	var script *scriptSummary
	if played != nil {
		if err != nil {
			stopScript()
		}
		res := <-played
		script, err = res.sum, errors.Join(err, res.err)
	}
	if err != nil {
		return err // a failed connection: nothing meaningful to summarise
	}
	sum := st.summary(cfg, len(devs))
	sum.Script = script
	sum.Sessions = sessions
	return report(cfg, fleet, sum, hist, stdout)
}

// scriptResult is what playScript returned.
type scriptResult struct {
	sum *scriptSummary
	err error
}

// runScriptAlone plays the script with no fleet (--devices 0) and reports what it sent.
func runScriptAlone(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	script, err := playScript(ctx, cfg, scriptStart(cfg, time.Now()), stderr)
	if err != nil {
		return err
	}
	return report(cfg, nil, summary{Mode: "script", Broker: cfg.broker, Seed: cfg.seed, Auth: cfg.auth, Script: script,
		ReadingsByType: map[string]int64{}, GoodByKind: map[string]int64{}, BadByReason: map[string]int64{}}, nil, stdout)
}

func scenarioName(sc *simulators.Scenario) string {
	if sc == nil {
		return ""
	}
	return sc.Name
}

// report prints the summary, writes it to --out, and fails the run when publishes failed.
func report(cfg config, fleet *simulators.Fleet, sum summary, hist *historySummary, stdout io.Writer) error {
	sum.History = hist
	if fleet != nil && fleet.Scenario() != nil {
		sum.Scenario = fleet.Scenario().Name
		if d := fleet.Failing(); d != nil {
			sum.Failing = d.ID
		}
	}
	sum.write(stdout)
	if cfg.out != "" {
		if err := sum.writeFile(cfg.out); err != nil {
			return err
		}
	}
	if hist != nil && hist.Errors > 0 {
		return fmt.Errorf("history: %d publishes failed or were not acknowledged (last error: %s)", hist.Errors, sum.LastError)
	}
	if sum.Errors > 0 {
		return fmt.Errorf("%d publishes failed or were not acknowledged (last error: %s)", sum.Errors, sum.LastError)
	}
	if sum.Script != nil && sum.Script.Errors > 0 {
		return fmt.Errorf("scenario %s: %d publishes failed or were not acknowledged", sum.Script.Name, sum.Script.Errors)
	}
	return nil
}
