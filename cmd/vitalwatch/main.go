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
	"path/filepath"
	"syscall"

	"github.com/vitalwatch/vitalwatch/store"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vitalwatch:", err)
		os.Exit(1)
	}
}

const usage = `usage: vitalwatch <command> [--config FILE]

commands:
  serve     run the broker, ingest and the HTTP API until interrupted
  migrate   create or upgrade the database in data_dir, then exit
  config    print the effective configuration (secrets hidden), then exit
  version   print the version
`

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
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
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := *configFile
	if path == "" {
		path = lookupEnv(environ, "VITALWATCH_CONFIG")
	}
	cfg, err := LoadConfig(path, environ)
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
		s, err := store.Open(ctx, filepath.Join(cfg.DataDir, dbFile))
		if err != nil {
			return err
		}
		defer s.Close()
		fmt.Fprintln(stdout, "database is up to date:", filepath.Join(cfg.DataDir, dbFile))
		return nil
	case "config":
		return printConfig(stdout, cfg)
	default:
		return serve(ctx, cfg, log, nil)
	}
}

func lookupEnv(environ []string, key string) string {
	for _, kv := range environ {
		if len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '=' {
			return kv[len(key)+1:]
		}
	}
	return ""
}

func newLogger(c LogConfig, w io.Writer) (*slog.Logger, error) {
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
