package broker

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeAccounts is a system with the users mosquitto (as Debian's package makes it), root and
// alice, who is also in the group mosquitto.
func fakeAccounts(withMosquitto bool) Accounts {
	users := map[string]*user.User{
		"root":  {Username: "root", Uid: "0", Gid: "0"},
		"alice": {Username: "alice", Uid: "1000", Gid: "1000"},
	}
	groups := map[string]*user.Group{"root": {Name: "root", Gid: "0"}, "alice": {Name: "alice", Gid: "1000"}}
	member := map[string][]string{"root": {"0"}, "alice": {"1000"}}
	if withMosquitto {
		users["mosquitto"] = &user.User{Username: "mosquitto", Uid: "102", Gid: "105"}
		groups["mosquitto"] = &user.Group{Name: "mosquitto", Gid: "105"}
		member["mosquitto"] = []string{"105"}
		member["alice"] = append(member["alice"], "105")
	}
	return Accounts{
		LookupUser: func(name string) (*user.User, error) {
			if u, ok := users[name]; ok {
				return u, nil
			}
			return nil, user.UnknownUserError(name)
		},
		LookupGroup: func(name string) (*user.Group, error) {
			if g, ok := groups[name]; ok {
				return g, nil
			}
			return nil, user.UnknownGroupError(name)
		},
		LookupGroupID: func(gid string) (*user.Group, error) {
			for _, g := range groups {
				if g.Gid == gid {
					return g, nil
				}
			}
			return nil, user.UnknownGroupIdError(gid)
		},
		GroupIDs: func(u *user.User) ([]string, error) { return member[u.Username], nil },
	}
}

// TestMosquittoFileOwner: who broker-config gives Mosquitto's files to. Run as root with no
// --owner, they go to the user mosquitto, which Mosquitto switches to before it reads them;
// --owner names another user or group; without root, they stay the writer's.
func TestMosquittoFileOwner(t *testing.T) {
	tests := []struct {
		name, spec string
		asRoot     bool
		mosquitto  bool // the system has the user mosquitto
		want       string
		uid, gid   int
		groups     []int
		wantErr    string
	}{
		{name: "root, mosquitto installed", asRoot: true, mosquitto: true, want: "mosquitto:mosquitto", uid: 102, gid: 105, groups: []int{105}},
		{name: "root, no user mosquitto", asRoot: true, want: "the writer's"},
		{name: "not root", mosquitto: true, want: "the writer's"},
		{name: "root with its group", spec: "root:mosquitto", asRoot: true, mosquitto: true, want: "root:mosquitto", uid: 0, gid: 105, groups: []int{0}},
		{name: "a group only", spec: ":mosquitto", mosquitto: true, want: ":mosquitto", uid: -1, gid: 105, groups: []int{105}},
		{name: "a user with its groups", spec: "alice", mosquitto: true, want: "alice:alice", uid: 1000, gid: 1000, groups: []int{1000, 105}},
		{name: "a container's ids", spec: "1883:1883", asRoot: true, want: "1883:1883", uid: 1883, gid: 1883, groups: []int{1883}},
		{name: "a container's user id", spec: "1883", asRoot: true, want: "1883", uid: 1883, gid: -1},
		{name: "unknown user", spec: "nosuch", asRoot: true, wantErr: `"nosuch"`},
		{name: "unknown group", spec: "alice:nosuch", asRoot: true, wantErr: "nosuch"},
		{name: "empty group", spec: "alice:", wantErr: "want USER, USER:GROUP or :GROUP"},
		{name: "nothing", spec: ":", wantErr: "want USER, USER:GROUP or :GROUP"},
		{name: "three parts", spec: "a:b:c", wantErr: "want USER, USER:GROUP or :GROUP"},
	}
	for _, tt := range tests {
		o, err := MosquittoFileOwner(tt.spec, tt.asRoot, fakeAccounts(tt.mosquitto))
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: MosquittoFileOwner(%q) = %v, %v; want an error saying %s", tt.name, tt.spec, o, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%s: MosquittoFileOwner(%q): %v", tt.name, tt.spec, err)
		case tt.want == "the writer's":
			if o != nil {
				t.Errorf("%s: MosquittoFileOwner(%q) = %+v; want nil: the files stay the writer's", tt.name, tt.spec, o)
			}
		case o == nil:
			t.Errorf("%s: MosquittoFileOwner(%q) = nil; want %s", tt.name, tt.spec, tt.want)
		case o.Name != tt.want || o.UID != tt.uid || o.GID != tt.gid || !slices.Equal(o.Groups, tt.groups):
			t.Errorf("%s: MosquittoFileOwner(%q) = %+v; want %s, uid %d, gid %d, groups %v", tt.name, tt.spec, o, tt.want, tt.uid, tt.gid, tt.groups)
		}
	}
}

// TestWriteMosquittoFilesGivesThemToTheBroker: the files are 0640 and the owner's; a directory
// that did not exist is made 0750 and the owner's, its missing parents 0755, so the broker can
// reach the files. Without root the owner is the test's own user (the one chown that needs no
// root); as root, the user mosquitto when the system has it.
func TestWriteMosquittoFilesGivesThemToTheBroker(t *testing.T) {
	owner := &FileOwner{UID: os.Getuid(), GID: os.Getgid(), Name: "the test's user"}
	if os.Geteuid() == 0 {
		if o, err := MosquittoFileOwner("", true, SystemAccounts()); err != nil {
			t.Fatal(err)
		} else if o != nil {
			owner = o
		}
	}
	f := newFleet()
	base := t.TempDir()
	dir := filepath.Join(base, "etc", "vitalwatch")
	if _, err := WriteMosquittoFiles(dir, f.devs, "devices", []PrincipalHash{HashPrincipal(ingest)}, owner); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}{
		{filepath.Join(base, "etc"), 0o755, os.Getuid(), os.Getgid()},
		{dir, 0o750, owner.UID, owner.GID},
		{filepath.Join(dir, "passwd"), 0o640, owner.UID, owner.GID},
		{filepath.Join(dir, "acl"), 0o640, owner.UID, owner.GID},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		uid, gid, _ := fileIDs(fi)
		if fi.Mode().Perm() != c.mode || uid != c.uid || gid != c.gid {
			t.Errorf("%s: mode %v, owner %d:%d; want %v, %d:%d (%s)", c.path, fi.Mode().Perm(), uid, gid, c.mode, c.uid, c.gid, owner)
		}
	}

	// A directory that exists is the operator's: it is left as it is.
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteMosquittoFiles(dir, f.devs, "devices", []PrincipalHash{HashPrincipal(ingest)}, owner); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("an existing dir after a rewrite: %v, %v; want its mode 0700 kept", fi.Mode().Perm(), err)
	}

	// Not root, the files cannot be given to root: an error, not files the broker cannot read.
	if os.Geteuid() != 0 {
		_, err := WriteMosquittoFiles(t.TempDir(), f.devs, "devices", []PrincipalHash{HashPrincipal(ingest)}, &FileOwner{UID: 0, GID: 0, Name: "root:root"})
		if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "root:root") {
			t.Errorf("giving the files to root without being root: %v; want a permission error naming root:root", err)
		}
	}
}

// TestUnreachable: a directory on the way to the files that the broker's user may not pass is
// named, judged as its owner, its group or others, as the kernel judges it.
func TestUnreachable(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stranger := &FileOwner{UID: 54321, GID: 54321, Groups: []int{54321}, Name: "stranger"}
	if p := Unreachable(base, stranger); p != "" {
		t.Skipf("the temporary directory is not reachable by other users (%s); set TMPDIR to a directory such as /tmp", p)
	}
	dir := filepath.Join(base, "vitalwatch")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o750) // whatever the umask
	if os.Geteuid() == 0 {
		// Root's own directory would be judged for root's group: give it to a plain user.
		if err := os.Chown(dir, 4242, 4243); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	me, mine, _ := fileIDs(fi)
	for _, tt := range []struct {
		name  string
		owner *FileOwner
		want  string
	}{
		{"no owner: the writer's files", nil, ""},
		{"another user, in no group of the dir", stranger, dir},
		{"its owner", &FileOwner{UID: me, GID: 54321, Groups: []int{54321}}, ""},
		{"a member of its group", &FileOwner{UID: 54321, GID: 54321, Groups: []int{54321, mine}}, ""},
		{"root:GROUP, read through the group", &FileOwner{UID: 0, GID: mine}, ""},
		{"root:GROUP, another group", &FileOwner{UID: 0, GID: 54321}, dir},
		{":GROUP, another group", &FileOwner{UID: -1, GID: 54321}, dir},
		{"a directory under it", stranger, dir},
	} {
		target := dir
		if tt.name == "a directory under it" {
			target = filepath.Join(dir, "sub")
		}
		if got := Unreachable(target, tt.owner); got != tt.want {
			t.Errorf("%s: Unreachable(%s) = %q; want %q", tt.name, target, got, tt.want)
		}
	}
}
