// Command vitalwatch runs the VitalWatch platform: `vitalwatch serve` starts the embedded MQTT
// broker, ingest, and the HTTP API in one process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/vitalwatch/vitalwatch/internal/config"
	"github.com/vitalwatch/vitalwatch/store"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runInput(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vitalwatch:", err)
		os.Exit(1)
	}
}

const usage = `usage: vitalwatch <command> [--config FILE]

commands:
  serve     run the broker, ingest and the HTTP API until interrupted
  migrate   create or upgrade the database (store.dsn, or SQLite in data_dir), then exit
  config    print the effective configuration (secrets hidden) as YAML, then exit
  config --example
            print every key with its default and meaning (vitalwatch.example.yaml)
  version   print the version

registry (works before the server has ever run; every change is in the audit log):
  registry import DIR                  import sites.csv teams.csv patients.csv devices.csv
                                       assignments.csv from DIR (those present, in that order)
  devices import FILE.csv              import devices; new secrets are printed once as CSV
  devices add --id ID --kind K --site S [--mode home|station] [--rated N]
                                       register a device and print its MQTT password once
  devices rotate-secret ID             give a device a new MQTT password (printed once)
  devices retire|activate|maintenance ID
  devices assign DEVICE PATIENT [--from TIME]   lend a home device to a patient
  devices return DEVICE [--at TIME]             end its loan
  devices list [--site S]              list devices as CSV
  broker-config [--ingest-users FILE] [--owner USER[:GROUP]] DIR
                                       write a Mosquitto password file and ACL for an external
                                       broker: devices, the ingest user broker.username, and
                                       one ingest user per instance from FILE (mosquitto_passwd);
                                       0640, given (as root) to the user mosquitto or to USER

people (staff who sign in to the API and web UI; also before the server has ever run):
  users add --username U --role doctor|fleet_manager|admin [--teams T1,T2] [--sites S1]
            [--password-stdin]         create a user; without --password-stdin a password is
                                       made and printed once
  users passwd U [--password-stdin]    give a user a new password (their sessions end)
  users disable|enable U
  users list [--role R]                list users as CSV
  tokens create --user U --name NAME   make an API token acting as U and print it once
  tokens list --user U                 list U's tokens (never the tokens themselves)
  tokens revoke ID                     the token stops working at once

usage (uses per device and local day, which ingest counts):
  usage rebuild --from YYYY-MM-DD --to YYYY-MM-DD
                                       recount those days from the readings in InfluxDB and
                                       replace the counts kept in the store

forecast (the demand of each centre and device type, from the usage in the store):
  forecast [--site S] [--type K]       the mean demand a day of the three months after the
                                       current one, with 80% and 95% intervals
  forecast --backtest [--min-train 28] [--step 7]
                                       score the forecast on the history against last week
                                       repeated (MASE, MAE, MAPE per horizon month)

alerts:
  alerts rules                         print the alert rules in force (alerts.rules_file over
                                       the defaults) as a complete rules file
`

// run is runInput for commands that read nothing from standard input.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	return runInput(ctx, args, environ, nil, stdout, stderr)
}

// runInput runs the command in args; stdin is read by --password-stdin.
func runInput(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML configuration file (also VITALWATCH_CONFIG)")
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "serve", "migrate", "config":
	case "registry", "devices", "broker-config", "users", "tokens", "usage", "alerts", "forecast":
		// The subcommand and its own flags follow; --config may come anywhere after them.
		file, rest := extractConfigFlag(args)
		cfg, err := loadFor(file, environ)
		if err != nil {
			return err
		}
		if cmd == "users" || cmd == "tokens" {
			return runUsers(ctx, cfg, cmd, rest, stdin, stdout, stderr)
		}
		if cmd == "usage" {
			return runUsage(ctx, cfg, rest, stdout, stderr)
		}
		if cmd == "alerts" {
			return runAlerts(cfg, rest, stdout)
		}
		if cmd == "forecast" {
			return runForecast(ctx, cfg, rest, stdout, stderr)
		}
		return runRegistry(ctx, cfg, cmd, rest, stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	example := cmd == "config" && slices.Contains(args, "--example")
	if example {
		fs.Bool("example", false, "print every key with its default and meaning, then exit")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if example {
		return config.WriteExample(stdout)
	}
	cfg, err := loadFor(*configFile, environ)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	switch cmd {
	case "migrate":
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return fmt.Errorf("data_dir: %w", err)
		}
		s, err := store.Open(ctx, cfg.StoreDSN())
		if err != nil {
			return err
		}
		defer s.Close()
		fmt.Fprintln(stdout, "database is up to date")
		return nil
	case "config":
		return config.Print(stdout, cfg)
	default:
		return serve(ctx, cfg, log, nil)
	}
}

// Config is the configuration every command reads (package config).
type Config = config.Config

// dbFile is the SQLite database in data_dir when store.dsn is empty.
const dbFile = config.DBFile

// LoadConfig reads the YAML file at path (none if empty), then the environment, and validates
// the result. Errors name the key at fault.
func LoadConfig(path string, environ []string) (*Config, error) { return config.Load(path, environ) }

// loadFor loads the configuration from file, or from VITALWATCH_CONFIG when file is empty.
func loadFor(file string, environ []string) (*Config, error) {
	if file == "" {
		file = lookupEnv(environ, "VITALWATCH_CONFIG")
	}
	return LoadConfig(file, environ)
}

func lookupEnv(environ []string, key string) string {
	for _, kv := range environ {
		if len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '=' {
			return kv[len(key)+1:]
		}
	}
	return ""
}

func newLogger(c config.LogConfig, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("config: log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// extractConfigFlag takes "--config FILE" (or -config, or =FILE forms) out of args.
func extractConfigFlag(args []string) (string, []string) {
	var file string
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config" || a == "-config":
			if i+1 < len(args) {
				file = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			file = a[strings.Index(a, "=")+1:]
		default:
			rest = append(rest, a)
		}
	}
	return file, rest
}
