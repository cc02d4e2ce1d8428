package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/store"
	deviceusage "github.com/vitalwatch/vitalwatch/usage" // "usage" is the help text in main.go
)

// rebuildQueryTimeout bounds one of a rebuild's queries (one UTC day of points), which can
// take far longer than a write (influx.timeout).
const rebuildQueryTimeout = 10 * time.Minute

// runUsage runs `vitalwatch usage ...`.
func runUsage(ctx context.Context, cfg *Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rebuild" {
		return errors.New("usage: give a subcommand: usage rebuild --from YYYY-MM-DD --to YYYY-MM-DD")
	}
	fs := flag.NewFlagSet("usage rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fromFlag := fs.String("from", "", "first local day to rebuild, YYYY-MM-DD (required)")
	toFlag := fs.String("to", "", "last local day to rebuild, YYYY-MM-DD (required)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("usage rebuild: unexpected argument %q", fs.Arg(0))
	}
	from, err := deviceusage.ParseDay(*fromFlag)
	if err != nil {
		return fmt.Errorf("usage rebuild: --from: %w", err)
	}
	to, err := deviceusage.ParseDay(*toFlag)
	if err != nil {
		return fmt.Errorf("usage rebuild: --to: %w", err)
	}
	if from > to {
		return fmt.Errorf("usage rebuild: --from %s is after --to %s", from, to)
	}
	if u, err := url.Parse(cfg.Influx.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("config: influx.url: must be an http:// or https:// URL, got %q", cfg.Influx.URL)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	st, err := store.Open(ctx, cfg.StoreDSN())
	if err != nil {
		return err
	}
	defer st.Close()
	// Days are counted in each site's time zone, as ingest counts them.
	dir, err := st.LoadDirectory(ctx)
	if err != nil {
		return err
	}
	reader := influx.NewReader(influx.Config{URL: cfg.Influx.URL, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket,
		Token: cfg.Influx.Token, Timeout: rebuildQueryTimeout})
	defer reader.Close()
	done, err := deviceusage.NewRebuilder(st, reader, dir.Location).Rebuild(ctx, from, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "usage of %s to %s rebuilt from InfluxDB %s (%s)\n", from, to, cfg.Influx.URL, cfg.Influx.Bucket)
	fmt.Fprintf(stdout, "replaced: %s\n", summarise(done.Before, -1))
	fmt.Fprintf(stdout, "with:     %s\n", summarise(done.After, done.Keys))
	if done.Untagged > 0 {
		fmt.Fprintf(stdout, "not counted: %d points without a device or site tag (written without the registry)\n", done.Untagged)
	}
	return nil
}

// summarise describes counts: uses, devices and device-days; keys, if not negative.
func summarise(counts []deviceusage.DayCount, keys int) string {
	uses, devs := 0, map[string]bool{}
	for _, c := range counts {
		uses += c.Uses
		devs[c.Device] = true
	}
	s := fmt.Sprintf("%d uses of %d devices on %d device-days", uses, len(devs), len(counts))
	if keys >= 0 {
		s += fmt.Sprintf(", %d use keys", keys)
	}
	return s
}
