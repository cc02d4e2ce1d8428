package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/store"
)

func TestUsersCLI(t *testing.T) {
	dataDir := t.TempDir()
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir}
	ctx := context.Background()
	cli := func(stdin string, args ...string) (string, error) {
		t.Helper()
		var out, errOut strings.Builder
		err := runInput(ctx, args, env, strings.NewReader(stdin), &out, &errOut)
		return out.String() + errOut.String(), err
	}

	// Before the server has ever run: the first admin, with a password made and printed once.
	out, err := cli("", "users", "add", "--username", "root", "--role", "admin")
	if err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	password := lines[len(lines)-1]

	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	root, err := st.GetUserByUsername(ctx, "root")
	if err != nil || root.Role != access.Admin || !access.CheckPassword(root.PasswordHash, password) {
		t.Fatalf("after users add, root = %+v, %v; want an admin whose hash checks the printed password %q", root, err, password)
	}

	admin := audit.WithActor(ctx, "test")
	if err := st.CreateSite(admin, devices.Site{ID: "s1", Name: "Riverside"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTeam(admin, devices.Team{ID: "t1", SiteID: "s1", Name: "Team one"}); err != nil {
		t.Fatal(err)
	}
	out, err = cli("doctor's password 1\n", "users", "add", "--username", "dr.wang", "--role", "doctor", "--teams", "t1", "--password-stdin")
	if err != nil || strings.Contains(out, "doctor's password") {
		t.Fatalf("users add --password-stdin = %v\n%s; want no password printed", err, out)
	}
	wang, _ := st.GetUserByUsername(ctx, "dr.wang")
	if !access.CheckPassword(wang.PasswordHash, "doctor's password 1") || strings.Join(wang.Teams, ",") != "t1" {
		t.Errorf("dr.wang = %+v; want the password from stdin and team t1", wang)
	}
	for _, tt := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"users", "add", "--username", "x", "--role", "doctor", "--teams", "t9"}, "team t9 does not exist"},
		{"", []string{"users", "add", "--username", "root", "--role", "admin"}, "taken"},
		{"short\n", []string{"users", "add", "--username", "x", "--role", "admin", "--password-stdin"}, "at least 12"},
		{"", []string{"users", "add", "--username", "x", "--role", "nurse"}, "role"},
		{"", []string{"users", "frobnicate"}, "unknown command"},
		{"", []string{"tokens", "create", "--user", "nobody", "--name", "x"}, "not found"},
	} {
		if out, err := cli(tt.stdin, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v = %v\n%s; want an error naming %q", tt.args, err, out, tt.want)
		}
	}

	out, err = cli("", "users", "list")
	want := "id,username,role,teams,sites,disabled,has_password\n" +
		wang.ID + ",dr.wang,doctor,t1,,false,true\n" + root.ID + ",root,admin,,,false,true\n"
	if wang.ID > root.ID {
		want = "id,username,role,teams,sites,disabled,has_password\n" +
			root.ID + ",root,admin,,,false,true\n" + wang.ID + ",dr.wang,doctor,t1,,false,true\n"
	}
	if err != nil || out != want {
		t.Errorf("users list = %v\n%s\nwant\n%s", err, out, want)
	}

	// Tokens: printed once, listed without the secret, revoked at once.
	out, err = cli("", "tokens", "create", "--user", "dr.wang", "--name", "hospital sync")
	if err != nil {
		t.Fatalf("tokens create: %v\n%s", err, out)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	if u, err := st.UserByToken(ctx, token); err != nil || u.ID != wang.ID {
		t.Fatalf("UserByToken(printed token %q) = %+v, %v; want dr.wang", token, u, err)
	}
	tokens, _ := st.ListTokens(ctx, wang.ID)
	out, err = cli("", "tokens", "list", "--user", "dr.wang")
	if err != nil || !strings.Contains(out, tokens[0].ID+",hospital sync,") || strings.Contains(out, token[4:]) {
		t.Errorf("tokens list = %v\n%s; want the token's id and name, never the token", err, out)
	}
	if out, err := cli("", "tokens", "revoke", tokens[0].ID); err != nil {
		t.Fatalf("tokens revoke: %v\n%s", err, out)
	}
	if _, err := st.UserByToken(ctx, token); err == nil {
		t.Error("a revoked token still works")
	}

	// A new password; disabling and enabling.
	if out, err := cli("another password 2", "users", "passwd", "--password-stdin", "dr.wang"); err != nil {
		t.Fatalf("users passwd: %v\n%s", err, out)
	}
	wang, _ = st.GetUserByUsername(ctx, "dr.wang")
	if !access.CheckPassword(wang.PasswordHash, "another password 2") {
		t.Error("users passwd did not set the password from stdin")
	}
	if out, err := cli("", "users", "disable", "dr.wang"); err != nil {
		t.Fatalf("users disable: %v\n%s", err, out)
	}
	if u, _ := st.GetUserByUsername(ctx, "dr.wang"); !u.Disabled {
		t.Error("users disable left the user enabled")
	}
	if _, err := cli("", "users", "disable", "root"); err == nil || !strings.Contains(err.Error(), "last enabled admin") {
		t.Errorf("disabling the only admin = %v; want it refused", err)
	}

	// The audit log names the operator.
	entries, _ := st.AuditLog(ctx, audit.Filter{Subject: "user/" + wang.ID})
	if len(entries) != 5 || !strings.HasPrefix(entries[0].Actor, "cli") {
		t.Errorf("audit of dr.wang = %+v; want 5 entries (create, token, revoke, password, disable) by cli:<user>", entries)
	}
	for _, e := range entries {
		if strings.Contains(e.Detail, "argon2") || strings.Contains(e.Detail, token[4:]) {
			t.Errorf("audit entry %s holds a hash or token: %s", e.Action, e.Detail)
		}
	}

	var help strings.Builder
	run(ctx, []string{"help"}, nil, &help, &help)
	for _, cmd := range []string{"users add", "users list", "tokens create", "tokens revoke"} {
		if !strings.Contains(help.String(), cmd) {
			t.Errorf("help lacks %q", cmd)
		}
	}
}
