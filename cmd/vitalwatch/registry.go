package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/broker"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/csvimport"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/internal/app"
	"github.com/vitalwatch/vitalwatch/store"
)

// registryFiles are the files `vitalwatch registry import DIR` reads, in the order that lets
// each refer to the ones before. maintenance.csv holds the devices' past repairs, an import of
// their history (see store.Registry.RecordPastMaintenance).
var registryFiles = []string{"sites.csv", "teams.csv", "patients.csv", "devices.csv", "assignments.csv", "maintenance.csv"}

// cliActor names the operator in the audit log.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}

// runRegistry runs `vitalwatch registry ...` and `vitalwatch devices ...`.
func runRegistry(ctx context.Context, cfg *Config, group string, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s: no subcommand given; see vitalwatch help", group)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	st, err := store.Open(ctx, cfg.StoreDSN())
	if err != nil {
		return err
	}
	defer st.Close()
	ctx = audit.WithActor(ctx, cliActor())
	if group == "broker-config" {
		return writeBrokerConfig(ctx, cfg, st, args, stdout, stderr)
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet(group+" "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch group + " " + sub {
	case "registry import":
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return errors.New("registry import: give one directory holding " + fmt.Sprint(registryFiles))
		}
		return importDir(ctx, st, fs.Arg(0), stdout, stderr)
	case "devices import":
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return errors.New("devices import: give one CSV file")
		}
		return importFiles(ctx, st, map[string]string{"devices.csv": fs.Arg(0)}, stdout, stderr)
	case "devices add":
		var d devices.Device
		var kind, mode string
		fs.StringVar(&d.ID, "id", "", "device id (required)")
		fs.StringVar(&kind, "kind", "", fmt.Sprintf("one of %v (required)", devices.Kinds))
		fs.StringVar(&d.SiteID, "site", "", "site id (required)")
		fs.StringVar(&mode, "mode", "home", "home or station")
		fs.IntVar(&d.RatedUsesPerDay, "rated", 0, "rated uses per day (station devices)")
		fs.StringVar(&d.Model, "model", "", "model")
		fs.StringVar(&d.Serial, "serial", "", "serial number")
		if err := fs.Parse(args); err != nil {
			return err
		}
		d.Kind, d.Mode, d.Status = devices.Kind(kind), devices.Mode(mode), devices.Active
		secret := devices.NewSecret()
		d.SecretHash = devices.HashSecret(secret)
		if err := st.CreateDevice(ctx, d); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "device %s created. Its MQTT password (shown once, only its hash is kept):\n%s\n", d.ID, secret)
		return nil
	case "devices rotate-secret":
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return errors.New("devices rotate-secret: give one device id")
		}
		secret := devices.NewSecret()
		if err := st.SetDeviceSecret(ctx, fs.Arg(0), devices.HashSecret(secret)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new MQTT password of %s (shown once; the old one no longer works):\n%s\n", fs.Arg(0), secret)
		return nil
	case "devices retire", "devices activate", "devices maintenance":
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return fmt.Errorf("devices %s: give one device id", sub)
		}
		d, err := st.GetDevice(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		d.Status = map[string]devices.Status{"retire": devices.Retired, "activate": devices.Active, "maintenance": devices.Maintenance}[sub]
		if err := st.UpdateDevice(ctx, d); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "device %s is %s\n", d.ID, d.Status)
		return nil
	case "devices assign":
		from := fs.String("from", "", "RFC 3339 time the loan starts (default now)")
		if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
			return errors.New("devices assign: give a device id and a patient id")
		}
		at, err := parseWhen(*from)
		if err != nil {
			return fmt.Errorf("devices assign: --from: %w", err)
		}
		if err := st.AssignDevice(ctx, fs.Arg(0), fs.Arg(1), at); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "device %s lent to patient %s from %s\n", fs.Arg(0), fs.Arg(1), at.Format(time.RFC3339))
		return nil
	case "devices return":
		when := fs.String("at", "", "RFC 3339 time it came back (default now)")
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return errors.New("devices return: give one device id")
		}
		at, err := parseWhen(*when)
		if err != nil {
			return fmt.Errorf("devices return: --at: %w", err)
		}
		if err := st.ReturnDevice(ctx, fs.Arg(0), at); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "device %s returned at %s\n", fs.Arg(0), at.Format(time.RFC3339))
		return nil
	case "devices list":
		site := fs.String("site", "", "only this site")
		if err := fs.Parse(args); err != nil {
			return err
		}
		w := csv.NewWriter(stdout)
		w.Write([]string{"id", "kind", "site", "mode", "status", "rated_uses_per_day"})
		after := ""
		for {
			page, err := st.ListDevices(ctx, devices.ListOptions{Site: *site, After: after, Limit: 1000})
			if err != nil {
				return err
			}
			for _, d := range page {
				w.Write([]string{d.ID, string(d.Kind), d.SiteID, string(d.Mode), string(d.Status), strconv.Itoa(d.RatedUsesPerDay)})
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].ID
		}
		w.Flush()
		return w.Error()
	}
	return fmt.Errorf("unknown command %q; see vitalwatch help", group+" "+sub)
}

func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC().Truncate(time.Millisecond), nil
	}
	return time.Parse(time.RFC3339, s)
}

// importDir imports the registry files present in dir.
func importDir(ctx context.Context, st *store.Store, dir string, stdout, stderr io.Writer) error {
	files := map[string]string{}
	for _, name := range registryFiles {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			files[name] = p
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("registry import: %s holds none of %v", dir, registryFiles)
	}
	return importFiles(ctx, st, files, stdout, stderr)
}

// importFiles reads every file (name -> path), stores the good rows and reports each bad one
// with its file and line, whether it could not be read or the store refused it (a duplicate id,
// a site that does not exist). New devices without a secret in the file get one, printed once
// as CSV "device,secret".
func importFiles(ctx context.Context, st *store.Store, files map[string]string, stdout, stderr io.Writer) error {
	type step struct {
		name  string
		store func() (int, []csvimport.RowError)
	}
	var steps []step
	var bad int
	report := func(name string, errs []csvimport.RowError) {
		for _, e := range errs {
			fmt.Fprintf(stderr, "%s:%d: %s\n", name, e.Line, e.Reason)
		}
		bad += len(errs)
	}
	var secrets [][2]string
	for _, name := range registryFiles {
		path, ok := files[name]
		if !ok {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		var errs []csvimport.RowError
		switch name {
		case "sites.csv":
			rows, rerrs, err := csvimport.Sites(f)
			errs = rerrs
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			steps = append(steps, step{name, func() (int, []csvimport.RowError) {
				return storeRows(rows, func(s devices.Site) error { return st.CreateSite(ctx, s) })
			}})
		case "teams.csv":
			rows, rerrs, err := csvimport.Teams(f)
			errs = rerrs
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			steps = append(steps, step{name, func() (int, []csvimport.RowError) {
				return storeRows(rows, func(t devices.Team) error { return st.CreateTeam(ctx, t) })
			}})
		case "patients.csv":
			rows, rerrs, err := csvimport.Patients(f)
			errs = rerrs
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			steps = append(steps, step{name, func() (int, []csvimport.RowError) {
				return storeRows(rows, func(p devices.Patient) error { return st.CreatePatient(ctx, p) })
			}})
		case "devices.csv":
			rows, rerrs, err := csvimport.Devices(f)
			errs = rerrs
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			steps = append(steps, step{name, func() (int, []csvimport.RowError) {
				return storeRows(rows, func(d csvimport.Device) error {
					secret := d.Secret
					if secret == "" {
						secret = devices.NewSecret()
					}
					d.SecretHash = devices.HashSecret(secret)
					if err := st.CreateDevice(ctx, d.Device); err != nil {
						return err
					}
					if d.Secret == "" {
						secrets = append(secrets, [2]string{d.ID, secret})
					}
					return nil
				})
			}})
		case "assignments.csv":
			rows, rerrs, err := csvimport.Assignments(f)
			errs = rerrs
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			steps = append(steps, step{name, func() (int, []csvimport.RowError) {
				return storeRows(rows, func(a devices.Assignment) error { return st.AssignDevice(ctx, a.DeviceID, a.PatientID, a.From) })
			}})
		case "maintenance.csv":
			rows, rerrs, err := csvimport.Repairs(f)
			errs = rerrs
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			steps = append(steps, step{name, func() (int, []csvimport.RowError) {
				return storeRows(rows, func(r csvimport.Repair) error { return st.RecordPastMaintenance(ctx, r.DeviceID, r.From, r.Until) })
			}})
		}
		report(name, errs)
	}
	for _, s := range steps {
		n, errs := s.store()
		report(s.name, errs)
		fmt.Fprintf(stderr, "%s: %d rows imported\n", s.name, n)
	}
	if len(secrets) > 0 {
		w := csv.NewWriter(stdout)
		w.Write([]string{"device", "secret"})
		for _, s := range secrets {
			w.Write(s[:])
		}
		w.Flush()
	}
	if bad > 0 {
		return fmt.Errorf("%d bad rows were not imported (listed above)", bad)
	}
	return nil
}

// storeRows stores good rows one by one; a row the store refuses (a duplicate, a missing site)
// is reported with its line like a row that could not be read.
func storeRows[T any](rows []csvimport.Row[T], put func(T) error) (int, []csvimport.RowError) {
	var n int
	var errs []csvimport.RowError
	for _, r := range rows {
		if err := put(r.Value); err != nil {
			reason := err.Error()
			var de *errcode.Error
			if errors.As(err, &de) {
				reason = de.Message
			}
			errs = append(errs, csvimport.RowError{Line: r.Line, Reason: reason})
			continue
		}
		n++
	}
	return n, errs
}

// writeBrokerConfig writes a Mosquitto password file and ACL file for an external broker: every
// device that is not retired with its secret hash, and the ingest users allowed to read device
// topics: broker.username with broker.password, and each user of the --ingest-users file.
//
// Mosquitto, told use_username_as_clientid, names each session by its username, which keeps a
// device from taking over another's session; so each ingest instance needs a user of its own,
// or two instances take each other's session over and over. The file holds one per instance,
// in mosquitto_passwd's format, so that each has its own password and the plain passwords
// never pass through this command.
//
// A device the files cannot hold is left out and reported on stderr, and the rest is written:
// refusing the whole export would keep every revocation from reaching the broker. The command
// still succeeds, so that a script that rewrites the files and reloads Mosquitto keeps working.
//
// Mosquitto's packages start it as root and it switches to the user mosquitto before it reads
// the files, so, run as root, the command gives them to that user (or to --owner USER[:GROUP])
// with mode 0640, and warns when a directory on the way keeps that user out.
func writeBrokerConfig(ctx context.Context, cfg *Config, st *store.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("broker-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	usersFile := fs.String("ingest-users", "", "a Mosquitto password file (made with mosquitto_passwd) of one ingest user per instance")
	ownerSpec := fs.String("owner", "", "USER[:GROUP] (or :GROUP) Mosquitto runs as, to give the files to; default as root: mosquitto, if that user exists")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return errors.New("broker-config: give the directory to write passwd and acl to, after any --ingest-users FILE and --owner USER[:GROUP]")
	}
	dir := fs.Arg(0)
	owner, err := broker.MosquittoFileOwner(*ownerSpec, os.Geteuid() == 0, broker.SystemAccounts())
	if err != nil {
		return fmt.Errorf("broker-config: --owner: %w", err)
	}
	prefix := cfg.Ingest.TopicPrefix
	var principals []broker.PrincipalHash
	if cfg.Broker.Username != "" || cfg.Broker.Password != "" {
		if cfg.Broker.Username == "" || cfg.Broker.Password == "" {
			return errors.New("config: broker.username and broker.password: set both (the ingest client's credentials on the external broker) or neither")
		}
		principals = append(principals, broker.HashPrincipal(app.IngestPrincipal(cfg.Broker.Username, cfg.Broker.Password, prefix)))
	}
	if *usersFile != "" {
		users, err := readIngestUsers(*usersFile)
		if err != nil {
			return err
		}
		for _, u := range users {
			// The file is the list of instances: its line for broker.username, if any, wins.
			principals = slices.DeleteFunc(principals, func(p broker.PrincipalHash) bool { return p.Username == u[0] })
			p := app.IngestPrincipal(u[0], "", prefix)
			principals = append(principals, broker.PrincipalHash{Username: u[0], PasswordHash: u[1], Subscribe: p.Subscribe, Publish: p.Publish})
		}
	}
	if len(principals) == 0 {
		return errors.New("config: broker.username and broker.password: set them to the ingest client's credentials on the external broker, or give --ingest-users FILE")
	}
	var names []string
	for _, p := range principals {
		names = append(names, p.Username)
		if !devices.ReservedID(p.Username) {
			fmt.Fprintf(stderr, "broker-config: ingest user %q does not start with %s, which no device may; a device registered under that name will be left out\n",
				p.Username, devices.ReservedIDPrefix)
		}
	}

	var all []devices.Device
	after := ""
	for {
		page, err := st.ListDevices(ctx, devices.ListOptions{After: after, Limit: 1000})
		if err != nil {
			return err
		}
		all = append(all, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	excluded, err := broker.WriteMosquittoFiles(dir, all, prefix, principals, owner)
	if err != nil {
		return err
	}
	exported := -len(excluded)
	for _, d := range all {
		if d.Status != devices.Retired && d.SecretHash != "" {
			exported++
		}
	}
	for _, e := range excluded {
		fmt.Fprintf(stderr, "broker-config: device %q left out: %s\n", e.ID, e.Reason)
	}
	fmt.Fprintf(stdout, "wrote %[1]s/passwd and %[1]s/acl: %[2]d devices, ingest users %[3]s.\n", dir, exported, strings.Join(names, ", "))
	if len(excluded) > 0 {
		fmt.Fprintf(stdout, "%d devices left out (listed on stderr): they cannot connect to Mosquitto; retire them and register them again under ids it can take.\n", len(excluded))
	}
	if owner != nil {
		fmt.Fprintf(stdout, "The files are %04o and belong to %s, for Mosquitto to read.\n", broker.MosquittoFileMode, owner)
		if p := broker.Unreachable(dir, owner); p != "" {
			fmt.Fprintf(stderr, "broker-config: %s cannot pass through %s, so Mosquitto will not start: let it in (chgrp or chmod) or write the files elsewhere\n", owner, p)
		}
	} else {
		fmt.Fprintf(stdout, "The files are %04o and yours: Mosquitto must run as you or in your group. Run as root, broker-config gives them to the user mosquitto, or to --owner USER[:GROUP].\n",
			broker.MosquittoFileMode)
	}
	fmt.Fprintf(stdout, `In mosquitto.conf:
  allow_anonymous false
  password_file %[1]s/passwd
  acl_file %[1]s/acl
  use_username_as_clientid true
  max_queued_messages 1000000
Mosquitto names each session by its username: give every running instance an ingest user of its
own (broker.username, and the same name as ingest.client_id). A standby that takes over a dead
instance uses that instance's user, and must not run while the instance does.
Rewrite and send mosquitto SIGHUP after devices are added, retired or given new secrets.
`, dir)
	return nil
}

// readIngestUsers reads a Mosquitto password file: "user:hash" lines, blank lines and "#"
// comments, each field trimmed as Mosquitto trims it. It returns user and hash pairs in order.
func readIngestUsers(path string) ([][2]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("broker-config: --ingest-users: %w", err)
	}
	var users [][2]string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		user, hash = strings.TrimSpace(user), strings.TrimSpace(hash)
		if !ok || user == "" || hash == "" {
			return nil, fmt.Errorf("broker-config: %s:%d: want user:hash, as mosquitto_passwd writes", path, i+1)
		}
		users = append(users, [2]string{user, hash})
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("broker-config: %s holds no users; add one per instance with mosquitto_passwd", path)
	}
	return users, nil
}
