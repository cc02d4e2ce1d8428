package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// MosquittoFileMode is the mode of the files WriteMosquittoFiles writes: the broker reads them as
// their owner or through their group, and others get nothing, since they hold the secrets' hashes.
const MosquittoFileMode fs.FileMode = 0o640

// MosquittoUser is the user Mosquitto's packages run the broker as: started as root, Mosquitto
// switches to it (mosquitto.conf's user option) before it reads its password and ACL files.
const MosquittoUser = "mosquitto"

// FileOwner is the user and group the Mosquitto files are given to: those the broker runs as.
type FileOwner struct {
	UID, GID int    // -1 keeps the writer's
	Groups   []int  // every group the user is in, when known, to judge what it may open
	Name     string // "user:group" as given or found, for messages
}

func (o *FileOwner) String() string { return o.Name }

// Accounts looks up the system's users and groups; SystemAccounts, or a test's.
type Accounts struct {
	LookupUser    func(name string) (*user.User, error)
	LookupGroup   func(name string) (*user.Group, error)
	LookupGroupID func(gid string) (*user.Group, error)
	GroupIDs      func(u *user.User) ([]string, error)
}

// SystemAccounts are the users and groups of this system (package os/user).
func SystemAccounts() Accounts {
	return Accounts{LookupUser: user.Lookup, LookupGroup: user.LookupGroup, LookupGroupID: user.LookupGroupId,
		GroupIDs: (*user.User).GroupIds}
}

// MosquittoFileOwner chooses who the files of WriteMosquittoFiles belong to. spec is "USER",
// "USER:GROUP" or ":GROUP", names or numeric ids; USER alone brings its primary group (a numeric
// USER that the system does not know keeps the writer's group). Without spec, a writer that is
// root gives them to the user mosquitto and its primary group when the system has that user:
// Mosquitto reads them as that user, and since 2.0.16 it warns, saying future versions will
// refuse the file, when a password or ACL file's owner or group is not the one it runs as.
// Otherwise it returns nil and the files stay the writer's: only root may give files away, and a
// broker that some other user runs is that user's arrangement.
func MosquittoFileOwner(spec string, asRoot bool, acc Accounts) (*FileOwner, error) {
	if spec == "" {
		if !asRoot {
			return nil, nil
		}
		u, err := acc.LookupUser(MosquittoUser)
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("broker: look up the user %s: %w", MosquittoUser, err)
		}
		return ownerOf(u, "", acc)
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	if strings.Contains(group, ":") || (name == "" && group == "") || (hasGroup && group == "") {
		return nil, fmt.Errorf("broker: owner %q: want USER, USER:GROUP or :GROUP", spec)
	}
	o := &FileOwner{UID: -1, GID: -1, Name: spec}
	if name != "" {
		u, err := acc.LookupUser(name)
		switch id, nerr := strconv.Atoi(name); {
		case err == nil:
			return ownerOf(u, group, acc) // a name first, as chown(1) does
		case nerr == nil && id >= 0:
			o.UID = id // an id this system does not know, such as a container's
		default:
			return nil, fmt.Errorf("broker: owner %q: %w", spec, err)
		}
	}
	if group != "" {
		gid, err := lookupGroup(group, acc)
		if err != nil {
			return nil, fmt.Errorf("broker: owner %q: %w", spec, err)
		}
		o.GID, o.Groups = gid, []int{gid}
	}
	return o, nil
}

// ownerOf is u with its primary group, or group if given, and every group u is in.
func ownerOf(u *user.User, group string, acc Accounts) (*FileOwner, error) {
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("broker: user %s has ids %q and %q, not numbers", u.Username, u.Uid, u.Gid)
	}
	o := &FileOwner{UID: uid, GID: gid, Name: u.Username + ":"}
	if g, err := acc.LookupGroupID(u.Gid); err == nil {
		o.Name += g.Name
	} else {
		o.Name += u.Gid
	}
	if ids, err := acc.GroupIDs(u); err == nil {
		for _, s := range ids {
			if id, err := strconv.Atoi(s); err == nil {
				o.Groups = append(o.Groups, id)
			}
		}
	}
	if !slices.Contains(o.Groups, gid) {
		o.Groups = append(o.Groups, gid)
	}
	if group != "" {
		if o.GID, err1 = lookupGroup(group, acc); err1 != nil {
			return nil, fmt.Errorf("broker: owner %s:%s: %w", u.Username, group, err1)
		}
		o.Name = u.Username + ":" + group
	}
	return o, nil
}

func lookupGroup(group string, acc Accounts) (int, error) {
	if g, err := acc.LookupGroup(group); err == nil {
		return strconv.Atoi(g.Gid)
	} else if id, nerr := strconv.Atoi(group); nerr == nil && id >= 0 {
		return id, nil
	} else {
		return 0, err
	}
}

// Unreachable returns the first directory on the way to dir, dir included, that the broker may
// not pass through, judged by its mode, owner and group; or "" when the broker can reach the
// files (or owner is nil). The broker is owner's user, or a member of owner's group when that
// user is root or not given. Mosquitto exits at start when it cannot open its files, so the
// operator should hear of it when the files are written.
func Unreachable(dir string, owner *FileOwner) string {
	if owner == nil || (owner.UID == 0 && owner.GID <= 0) {
		return ""
	}
	uid, groups := owner.UID, owner.Groups
	if uid <= 0 {
		uid, groups = -1, []int{owner.GID}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	var path []string
	for p := abs; ; p = filepath.Dir(p) {
		path = append(path, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	slices.Reverse(path)
	for _, p := range path {
		fi, err := os.Stat(p)
		if err != nil {
			return p
		}
		fuid, fgid, ok := fileIDs(fi)
		if !ok {
			return ""
		}
		var bit fs.FileMode
		switch {
		case fuid == uid:
			bit = 0o100
		case slices.Contains(groups, fgid):
			bit = 0o010
		default:
			bit = 0o001
		}
		if fi.Mode().Perm()&bit == 0 {
			return p
		}
	}
	return ""
}
