package broker

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vitalwatch/vitalwatch/devices"
)

// PrincipalHash is a Principal as a Mosquitto password file holds it: its password hashed.
type PrincipalHash struct {
	Username, PasswordHash string
	Subscribe, Publish     []string
}

// HashPrincipal hashes p's password in the Mosquitto password-file format.
func HashPrincipal(p Principal) PrincipalHash {
	return PrincipalHash{Username: p.Username, PasswordHash: devices.HashSecret(p.Password),
		Subscribe: p.Subscribe, Publish: p.Publish}
}

// WriteMosquittoFiles writes dir/passwd and dir/acl, for a Mosquitto broker (password_file and
// acl_file in mosquitto.conf(5)) to enforce the rules the embedded broker enforces: every device
// that is not retired and has a secret connects with username = its id and password = its
// secret, publishes under {prefix}/{id}/ and reads {prefix}/{id}/commands; each principal uses
// its filters. devs is the registry's device list (a Directory cannot be listed).
//
// Differences from the embedded broker: Mosquitto grants every SUBSCRIBE and applies read
// rules to each message it delivers instead; it accepts any will and drops one the rules do not
// allow when it would send it; and it does not tie a client id to the username, so a device
// could take over another's session (not its topics) unless mosquitto.conf sets
// use_username_as_clientid true (then each ingest instance needs a username of its own).
//
// Each file is written to a temporary file in dir, 0600, and renamed into place, so a Mosquitto
// reloading (SIGHUP) never reads half a file. Mosquitto reads the files as the user it runs as.
func WriteMosquittoFiles(dir string, devs []devices.Device, prefix string, principals []PrincipalHash) error {
	if prefix == "" {
		prefix = "devices"
	}
	if err := validTopicPrefix(prefix); err != nil {
		return err
	}
	var passwd, acl bytes.Buffer
	seen := make(map[string]bool)
	line := func(user, hash string) error {
		// mosquitto_passwd(1): usernames must not contain ":"; the file is one user per line.
		if user == "" || strings.ContainsAny(user, ":\r\n\x00") || strings.ContainsAny(hash, ":\r\n\x00") {
			return fmt.Errorf("broker: %q cannot be a Mosquitto username, or its hash is malformed", user)
		}
		if seen[user] {
			return fmt.Errorf("broker: %q is listed twice (as a device or principal)", user)
		}
		seen[user] = true
		fmt.Fprintf(&passwd, "%s:%s\n", user, hash)
		return nil
	}
	devs = slices.Clone(devs)
	slices.SortFunc(devs, func(a, b devices.Device) int { return strings.Compare(a.ID, b.ID) })
	for _, d := range devs {
		if d.Status == devices.Retired || d.SecretHash == "" {
			continue
		}
		if err := line(d.ID, d.SecretHash); err != nil {
			return err
		}
	}

	// Device rules: %u is the username, which for a device is its id. Pattern lines apply to
	// every user, principals included; a principal gets at most the topics of a device named
	// like it.
	fmt.Fprintf(&acl, "# Written by vitalwatch; changes are overwritten.\n")
	fmt.Fprintf(&acl, "pattern write %s/%%u/#\n", prefix)
	fmt.Fprintf(&acl, "pattern read %s/%%u/commands\n", prefix)
	for _, p := range principals {
		if p.PasswordHash == "" || strings.ContainsAny(p.Username, " \t") {
			return fmt.Errorf("broker: principal %q needs a password hash and a username without spaces", p.Username)
		}
		if err := line(p.Username, p.PasswordHash); err != nil {
			return err
		}
		fmt.Fprintf(&acl, "\nuser %s\n", p.Username)
		for _, set := range []struct {
			access  string
			filters []string
		}{{"read", receivable(p.Subscribe)}, {"write", p.Publish}} {
			for _, f := range set.filters {
				if f == "" || strings.ContainsAny(f, "\r\n\x00") {
					return fmt.Errorf("broker: principal %q: topic filter %q", p.Username, f)
				}
				fmt.Fprintf(&acl, "topic %s %s\n", set.access, f)
			}
		}
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "passwd"), passwd.Bytes()); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "acl"), acl.Bytes())
}

// receivable adds, for each shared filter $share/{group}/{f}, the plain f: Mosquitto checks the
// subscriber's read access again for every message it delivers, against the message's topic.
// The embedded broker allows the same (see principal.mayReceive).
func receivable(subscribe []string) []string {
	out := slices.Clone(subscribe)
	for _, f := range subscribe {
		if rest, ok := shareRest(f); ok && !slices.Contains(out, rest) {
			out = append(out, rest)
		}
	}
	return out
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("broker: write %s: %w", path, err)
	}
	return nil
}
