package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
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

// Excluded is a device WriteMosquittoFiles left out of the files, and why.
type Excluded struct {
	ID, Reason string
}

// WriteMosquittoFiles writes dir/passwd and dir/acl, for a Mosquitto broker (password_file and
// acl_file in mosquitto.conf(5)) to enforce the rules the embedded broker enforces: every device
// that is not retired and has a secret connects with username = its id and password = its
// secret, publishes under {prefix}/{id}/ and reads {prefix}/{id}/commands; each principal uses
// its filters. devs is the registry's device list (a Directory cannot be listed).
//
// A device the files cannot hold (an id with ':' or another character Mosquitto's files or
// topics cannot take, a malformed hash) or that is named like a principal is left out and
// returned with the reason, and everything else is written: one such device, registered before
// the registry refused such ids, must not keep every other revocation from reaching the broker.
// A principal's problem is an error and nothing is written: it is the operator's configuration,
// and files without the ingest client would stop ingest.
//
// Differences from the embedded broker: Mosquitto grants every SUBSCRIBE and applies read
// rules to each message it delivers instead; it accepts any will and drops one the rules do not
// allow when it would send it; and it does not tie a client id to the username, so a device
// could take over another's session (not its topics) unless mosquitto.conf sets
// use_username_as_clientid true (then each ingest instance needs a username of its own: one
// principal each).
//
// Each file is written to a temporary file in dir, MosquittoFileMode, given to owner (nil: kept
// by the writer), and renamed into place, so a Mosquitto reloading (SIGHUP) never reads half a
// file. Mosquitto reads the files as the user it runs as, so owner should be that user (see
// MosquittoFileOwner). A dir that does not exist is made 0750 and given to owner too; missing
// parents are made 0755, since they hold nothing secret and the broker must pass through them.
func WriteMosquittoFiles(dir string, devs []devices.Device, prefix string, principals []PrincipalHash, owner *FileOwner) ([]Excluded, error) {
	if prefix == "" {
		prefix = "devices"
	}
	if err := validTopicPrefix(prefix); err != nil {
		return nil, err
	}
	var passwd, acl bytes.Buffer
	// Principals first: a device named like one is the one left out.
	isPrincipal := make(map[string]bool, len(principals))
	for _, p := range principals {
		if why := mosquittoUserProblem(p.Username, p.PasswordHash); why != "" {
			return nil, fmt.Errorf("broker: principal %q: %s", p.Username, why)
		}
		if isPrincipal[p.Username] {
			return nil, fmt.Errorf("broker: principal %q is listed twice", p.Username)
		}
		isPrincipal[p.Username] = true
	}

	var excluded []Excluded
	devs = slices.Clone(devs)
	slices.SortFunc(devs, func(a, b devices.Device) int { return strings.Compare(a.ID, b.ID) })
	for i, d := range devs {
		if d.Status == devices.Retired || d.SecretHash == "" {
			continue
		}
		why := devices.BrokerIDProblem(d.ID)
		switch {
		case why != "":
		case isPrincipal[d.ID]:
			why = "it is the username of a platform principal (the ingest client), which keeps it"
		case i > 0 && devs[i-1].ID == d.ID:
			why = "it is listed twice"
		default:
			why = mosquittoUserProblem(d.ID, d.SecretHash)
		}
		if why != "" {
			excluded = append(excluded, Excluded{ID: d.ID, Reason: why})
			continue
		}
		fmt.Fprintf(&passwd, "%s:%s\n", d.ID, d.SecretHash)
	}

	// Device rules: %u is the username, which for a device is its id. Pattern lines apply to
	// every user, principals included; a principal gets at most the topics of a device named
	// like it.
	fmt.Fprintf(&acl, "# Written by vitalwatch; changes are overwritten.\n")
	fmt.Fprintf(&acl, "pattern write %s/%%u/#\n", prefix)
	fmt.Fprintf(&acl, "pattern read %s/%%u/commands\n", prefix)
	for _, p := range principals {
		fmt.Fprintf(&passwd, "%s:%s\n", p.Username, p.PasswordHash)
		fmt.Fprintf(&acl, "\nuser %s\n", p.Username)
		for _, set := range []struct {
			access  string
			filters []string
		}{{"read", receivable(p.Subscribe)}, {"write", p.Publish}} {
			for _, f := range set.filters {
				if f == "" || strings.ContainsAny(f, "\r\n\x00") {
					return nil, fmt.Errorf("broker: principal %q: topic filter %q", p.Username, f)
				}
				fmt.Fprintf(&acl, "topic %s %s\n", set.access, f)
			}
		}
	}

	if err := makeDir(dir, owner); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, "passwd"), passwd.Bytes(), owner); err != nil {
		return nil, err
	}
	return excluded, writeFileAtomic(filepath.Join(dir, "acl"), acl.Bytes(), owner)
}

// makeDir makes dir, if it does not exist, for owner: 0750 and theirs. An existing dir is the
// operator's and is left as it is (see Unreachable).
func makeDir(dir string, owner *FileOwner) error {
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil // exists, or an error that writing the files reports better
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("broker: %w", err)
	}
	if owner != nil {
		if err := os.Chown(dir, owner.UID, owner.GID); err != nil {
			return fmt.Errorf("broker: give %s to %s: %w", dir, owner, err)
		}
	}
	return nil
}

// mosquittoUserProblem says why user and hash cannot be a line of a Mosquitto password file and
// user a username in its ACL file, or returns "". mosquitto_passwd(1): one "user:hash" per
// line, and the username must not contain ':'; the ACL's "user" line takes the rest of the line
// as the username, and a '+' or '#' in a username never matches a pattern's %u.
func mosquittoUserProblem(user, hash string) string {
	switch {
	case user == "":
		return "an empty username"
	case strings.ContainsFunc(user, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune(":+#/", r) }):
		return "a username cannot hold ':', '+', '#', '/', spaces or control characters in Mosquitto's password and ACL files"
	case hash == "" || strings.ContainsFunc(hash, func(r rune) bool { return r <= ' ' || r == 0x7f || r == ':' }):
		return "its password hash is empty or malformed (it holds ':', a space or a control character)"
	}
	return ""
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

func writeFileAtomic(path string, data []byte, owner *FileOwner) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && owner != nil {
		if err = f.Chown(owner.UID, owner.GID); err != nil {
			err = fmt.Errorf("give it to %s: %w", owner, err)
		}
	}
	if err == nil {
		err = f.Chmod(MosquittoFileMode)
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
