package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// fakeHash stands for an argon2id hash: the store checks only its form, and a real one takes
// tens of milliseconds to make.
const fakeHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"

var (
	drWang = access.User{ID: "usr_wang", Username: "dr.wang", Role: access.Doctor, Teams: []string{"t1", "t2"}, PasswordHash: fakeHash}
	fleet  = access.User{ID: "usr_fleet", Username: "fleet-north", Role: access.FleetManager, Sites: []string{"s1"}, PasswordHash: fakeHash}
	root   = access.User{ID: "usr_root", Username: "root", Role: access.Admin, PasswordHash: fakeHash}
)

// clock is a settable clock for the store under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withClock makes s keep time by a clock the test moves, starting at t0.
func withClock(s *Store) *clock {
	c := &clock{t: t0}
	s.now = c.now
	return c
}

func mustCreateUser(t *testing.T, s *Store, u access.User) access.User {
	t.Helper()
	got, err := s.CreateUser(asAdmin, u)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", u.Username, err)
	}
	return got
}

func testUsers(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	mustCreateUser(t, s, drWang)
	if got, err := s.GetUser(ctx, "usr_wang"); err != nil || !reflect.DeepEqual(got, drWang) {
		t.Errorf("GetUser(usr_wang) = %+v, %v; want %+v", got, err, drWang)
	}
	if got, err := s.GetUserByUsername(ctx, "dr.wang"); err != nil || !reflect.DeepEqual(got, drWang) {
		t.Errorf("GetUserByUsername(dr.wang) = %+v, %v; want %+v", got, err, drWang)
	}
	_, err := s.GetUser(ctx, "usr_nobody")
	wantCode(t, "GetUser(usr_nobody)", err, errcode.NotFound)
	_, err = s.GetUserByUsername(ctx, "nobody")
	wantCode(t, "GetUserByUsername(nobody)", err, errcode.NotFound)

	// A user without an id gets one.
	integration := mustCreateUser(t, s, access.User{Username: "hospital-sync", Role: access.Admin})
	if !strings.HasPrefix(integration.ID, "usr_") || integration.PasswordHash != "" {
		t.Errorf("CreateUser without id = %+v; want a new usr_ id and no password", integration)
	}

	for _, tt := range []struct {
		name string
		u    access.User
		code string
	}{
		{"same id", access.User{ID: "usr_wang", Username: "other", Role: access.Admin}, errcode.Conflict},
		{"same username", access.User{Username: "dr.wang", Role: access.Admin}, errcode.Conflict},
		{"capital letters", access.User{Username: "Dr.Wang", Role: access.Admin}, errcode.Invalid},
		{"empty username", access.User{Role: access.Admin}, errcode.Invalid},
		{"long username", access.User{Username: strings.Repeat("a", 65), Role: access.Admin}, errcode.Invalid},
		{"unknown role", access.User{Username: "x", Role: "nurse"}, errcode.Invalid},
		{"doctor without team", access.User{Username: "x", Role: access.Doctor}, errcode.Invalid},
		{"fleet manager without site", access.User{Username: "x", Role: access.FleetManager}, errcode.Invalid},
		{"doctor with a site", access.User{Username: "x", Role: access.Doctor, Teams: []string{"t1"}, Sites: []string{"s1"}}, errcode.Invalid},
		{"team that does not exist", access.User{Username: "x", Role: access.Doctor, Teams: []string{"t1", "t9"}}, errcode.Invalid},
		{"site that does not exist", access.User{Username: "x", Role: access.FleetManager, Sites: []string{"s9"}}, errcode.Invalid},
		{"team twice", access.User{Username: "x", Role: access.Doctor, Teams: []string{"t1", "t1"}}, errcode.Invalid},
		{"plain password", access.User{Username: "x", Role: access.Admin, PasswordHash: "hunter2hunter2"}, errcode.Invalid},
	} {
		_, err := s.CreateUser(asAdmin, tt.u)
		wantCode(t, "CreateUser("+tt.name+")", err, tt.code)
	}
	if _, err := s.GetUserByUsername(ctx, "x"); err == nil {
		t.Error("a refused CreateUser left a user behind")
	}

	// UpdateUser replaces everything but the password hash.
	moved := drWang
	moved.Username, moved.Teams, moved.PasswordHash = "wang.li", []string{"t2"}, "$argon2id$not-this-one"
	must(t, "UpdateUser", s.UpdateUser(asAdmin, moved))
	got, _ := s.GetUser(ctx, "usr_wang")
	if got.Username != "wang.li" || !reflect.DeepEqual(got.Teams, []string{"t2"}) || got.PasswordHash != fakeHash {
		t.Errorf("after UpdateUser, GetUser = %+v; want the new username and teams and the old hash", got)
	}
	asFleet := got
	asFleet.Role, asFleet.Teams, asFleet.Sites = access.FleetManager, nil, []string{"s1", "s2"}
	must(t, "UpdateUser(to fleet manager)", s.UpdateUser(asAdmin, asFleet))
	if got, _ := s.GetUser(ctx, "usr_wang"); got.Role != access.FleetManager || got.Teams != nil || !reflect.DeepEqual(got.Sites, []string{"s1", "s2"}) {
		t.Errorf("after the change of role, GetUser = %+v; want a fleet manager of s1, s2 and no teams", got)
	}
	wantCode(t, "UpdateUser(usr_nobody)", s.UpdateUser(asAdmin, access.User{ID: "usr_nobody", Username: "n", Role: access.Admin}), errcode.NotFound)
	taken := asFleet
	taken.Username = "hospital-sync"
	wantCode(t, "UpdateUser(to a taken username)", s.UpdateUser(asAdmin, taken), errcode.Conflict)

	// SetUserPassword changes only the hash, and only to a hash.
	must(t, "SetUserPassword", s.SetUserPassword(asAdmin, "usr_wang", fakeHash+"x"))
	if got, _ := s.GetUser(ctx, "usr_wang"); got.PasswordHash != fakeHash+"x" || got.Username != "wang.li" {
		t.Errorf("after SetUserPassword, GetUser = %+v; want the new hash", got)
	}
	wantCode(t, "SetUserPassword(plain text)", s.SetUserPassword(asAdmin, "usr_wang", "correct horse battery"), errcode.Invalid)
	wantCode(t, "SetUserPassword(usr_nobody)", s.SetUserPassword(asAdmin, "usr_nobody", fakeHash), errcode.NotFound)
}

// The last enabled admin cannot lock everyone out.
func testLastAdminStays(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	seed(t, s)
	mustCreateUser(t, s, root)
	disabled := root
	disabled.Disabled = true
	wantCode(t, "disabling the only admin", s.UpdateUser(asAdmin, disabled), errcode.Invalid)
	doctor := root
	doctor.Role, doctor.Teams = access.Doctor, []string{"t1"}
	wantCode(t, "demoting the only admin", s.UpdateUser(asAdmin, doctor), errcode.Invalid)
	mustCreateUser(t, s, access.User{ID: "usr_second", Username: "second", Role: access.Admin})
	must(t, "disabling an admin when another is left", s.UpdateUser(asAdmin, disabled))
	wantCode(t, "disabling the last enabled admin", s.UpdateUser(asAdmin, access.User{ID: "usr_second", Username: "second", Role: access.Admin, Disabled: true}), errcode.Invalid)
}

func testListUsers(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	for _, u := range []access.User{drWang, fleet, root,
		{ID: "usr_a", Username: "a", Role: access.Doctor, Teams: []string{"t2"}},
		{ID: "usr_z", Username: "z", Role: access.FleetManager, Sites: []string{"s2", "s1"}},
	} {
		mustCreateUser(t, s, u)
	}
	userID := func(u access.User) string { return u.ID }
	for _, tt := range []struct {
		f    access.UserFilter
		want string
	}{
		{access.UserFilter{}, "[usr_a usr_fleet usr_root usr_wang usr_z]"},
		{access.UserFilter{Role: access.Doctor}, "[usr_a usr_wang]"},
		{access.UserFilter{Team: "t2"}, "[usr_a usr_wang]"},
		{access.UserFilter{Team: "t1"}, "[usr_wang]"},
		{access.UserFilter{Site: "s1"}, "[usr_fleet usr_z]"},
		{access.UserFilter{Site: "s2", Role: access.FleetManager}, "[usr_z]"},
		{access.UserFilter{Limit: 2}, "[usr_a usr_fleet]"},
		{access.UserFilter{After: "usr_fleet", Limit: 2}, "[usr_root usr_wang]"},
	} {
		got, err := s.ListUsers(ctx, tt.f)
		if err != nil || fmt.Sprint(ids(got, userID)) != tt.want {
			t.Errorf("ListUsers(%+v) = %v, %v; want %s", tt.f, ids(got, userID), err, tt.want)
		}
	}
	// A page carries each user's memberships, including those of users next to it in id order
	// that the filter left out.
	page, _ := s.ListUsers(ctx, access.UserFilter{Site: "s1"})
	if len(page) != 2 || !reflect.DeepEqual(page[0].Sites, []string{"s1"}) || !reflect.DeepEqual(page[1].Sites, []string{"s1", "s2"}) || page[1].Teams != nil {
		t.Errorf("ListUsers(site s1) = %+v; want fleet-north with s1 and z with s1, s2", page)
	}
	all, _ := s.ListUsers(ctx, access.UserFilter{})
	if !reflect.DeepEqual(all[3], drWang) {
		t.Errorf("ListUsers()[3] = %+v; want %+v", all[3], drWang)
	}
	_, err := s.ListUsers(ctx, access.UserFilter{Role: "nurse"})
	wantCode(t, "ListUsers(role nurse)", err, errcode.Invalid)
}

func testTokens(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk := withClock(s)
	seed(t, s)
	mustCreateUser(t, s, drWang)
	mustCreateUser(t, s, root)
	token, id, err := s.CreateToken(asAdmin, "usr_wang", "hospital-sync")
	must(t, "CreateToken", err)
	if !strings.HasPrefix(token, "vwt_") || len(token) != len("vwt_")+43 || !strings.HasPrefix(id, "tok_") {
		t.Fatalf("CreateToken = %q, %q; want vwt_ and 43 base64url characters, and a tok_ id", token, id)
	}

	// Only the token's SHA-256 is in the database.
	var stored string
	must(t, "read the stored hash", s.db.QueryRow(`SELECT hash FROM api_tokens WHERE id = $1`, id).Scan(&stored))
	if stored != access.HashToken(token) || strings.Contains(stored, token[4:]) {
		t.Errorf("stored %q; want only the SHA-256 of the token", stored)
	}

	u, err := s.UserByToken(ctx, token)
	if err != nil || u.ID != "usr_wang" || !reflect.DeepEqual(u.Teams, drWang.Teams) {
		t.Fatalf("UserByToken = %+v, %v; want dr.wang with teams", u, err)
	}
	for _, bad := range []string{"", "vwt_", token + "x", "vwt_" + strings.Repeat("A", 43), token[4:]} {
		_, err := s.UserByToken(ctx, bad)
		wantCode(t, fmt.Sprintf("UserByToken(%q)", bad), err, errcode.Unauthorized)
	}

	// Use is noted at most once a minute.
	used := func() time.Time {
		tok, err := s.GetToken(ctx, id)
		must(t, "GetToken", err)
		return tok.LastUsed
	}
	if got := used(); !got.Equal(t0) {
		t.Errorf("LastUsed = %v; want %v", got, t0)
	}
	clk.advance(30 * time.Second)
	s.UserByToken(ctx, token)
	if got := used(); !got.Equal(t0) {
		t.Errorf("LastUsed after a use 30s later = %v; want still %v", got, t0)
	}
	clk.advance(time.Minute)
	s.UserByToken(ctx, token)
	if got := used(); !got.Equal(t0.Add(90 * time.Second)) {
		t.Errorf("LastUsed after a use 90s later = %v; want %v", got, t0.Add(90*time.Second))
	}

	// A second token, listed without any secret.
	token2, id2, err := s.CreateToken(asAdmin, "usr_wang", "lab results")
	must(t, "CreateToken", err)
	list, err := s.ListTokens(ctx, "usr_wang")
	if err != nil || len(list) != 2 || list[0].ID != id || list[1].ID != id2 || list[1].Name != "lab results" || !list[1].Created.Equal(clk.now()) {
		t.Errorf("ListTokens(usr_wang) = %+v, %v; want the two tokens, oldest first", list, err)
	}
	if strings.Contains(fmt.Sprintf("%+v", list), token2[4:]) {
		t.Error("ListTokens shows a token")
	}
	_, err = s.ListTokens(ctx, "usr_nobody")
	wantCode(t, "ListTokens(usr_nobody)", err, errcode.NotFound)

	// A revoked token is refused at once; the other goes on working.
	must(t, "RevokeToken", s.RevokeToken(asAdmin, id))
	_, err = s.UserByToken(ctx, token)
	wantCode(t, "UserByToken(revoked)", err, errcode.Unauthorized)
	if _, err := s.UserByToken(ctx, token2); err != nil {
		t.Errorf("UserByToken(the other token) = %v; want it still valid", err)
	}
	if tok, _ := s.GetToken(ctx, id); !tok.Revoked.Equal(clk.now()) {
		t.Errorf("revoked token = %+v; want Revoked now", tok)
	}
	wantCode(t, "RevokeToken(again)", s.RevokeToken(asAdmin, id), errcode.Conflict)
	wantCode(t, "RevokeToken(tok_nothing)", s.RevokeToken(asAdmin, "tok_nothing"), errcode.NotFound)

	// A disabled user's tokens are refused, and come back when the user is enabled again.
	off := drWang
	off.Disabled = true
	must(t, "UpdateUser(disable)", s.UpdateUser(asAdmin, off))
	_, err = s.UserByToken(ctx, token2)
	wantCode(t, "UserByToken(of a disabled user)", err, errcode.Unauthorized)
	_, _, err = s.CreateToken(asAdmin, "usr_wang", "more")
	wantCode(t, "CreateToken(for a disabled user)", err, errcode.Invalid)
	must(t, "UpdateUser(enable)", s.UpdateUser(asAdmin, drWang))
	if _, err := s.UserByToken(ctx, token2); err != nil {
		t.Errorf("UserByToken after enabling = %v; want valid", err)
	}

	_, _, err = s.CreateToken(asAdmin, "usr_nobody", "x")
	wantCode(t, "CreateToken(usr_nobody)", err, errcode.NotFound)
	for _, name := range []string{"", " ", strings.Repeat("n", 101), "tab\there"} {
		_, _, err := s.CreateToken(asAdmin, "usr_wang", name)
		wantCode(t, fmt.Sprintf("CreateToken(name %q)", name), err, errcode.Invalid)
	}
	_, _, err = s.CreateToken(ctx, "usr_wang", "no actor")
	wantCode(t, "CreateToken without an actor", err, errcode.Invalid)
}

func testSessions(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk := withClock(s)
	seed(t, s)
	mustCreateUser(t, s, drWang)
	mustCreateUser(t, s, root)
	version, _ := s.RegistryVersion(ctx)
	audited, _ := s.AuditLog(ctx, audit.Filter{})

	id, expires, err := s.CreateSession(ctx, "usr_wang")
	must(t, "CreateSession", err)
	if len(id) != 43 || !expires.Equal(t0.Add(12*time.Hour)) {
		t.Errorf("CreateSession = %q, %v; want 32 bytes in base64url, ending in 12 h", id, expires)
	}
	var stored int
	s.db.QueryRow(`SELECT count(*) FROM sessions WHERE hash = $1`, access.HashToken(id)).Scan(&stored)
	if stored != 1 {
		t.Errorf("sessions with the id's hash = %d; want 1", stored)
	}
	if u, err := s.UserBySession(ctx, id); err != nil || u.ID != "usr_wang" || !reflect.DeepEqual(u.Teams, drWang.Teams) {
		t.Fatalf("UserBySession = %+v, %v; want dr.wang", u, err)
	}
	_, err = s.UserBySession(ctx, "nonsense")
	wantCode(t, "UserBySession(unknown id)", err, errcode.Unauthorized)

	// Idle expiry: 30 minutes after the last use, renewed by each use.
	seen := func() time.Time {
		var ms int64
		s.db.QueryRow(`SELECT seen_ms FROM sessions WHERE hash = $1`, access.HashToken(id)).Scan(&ms)
		return time.UnixMilli(ms).UTC()
	}
	clk.advance(20 * time.Minute)
	must(t, "use after 20 min", errOf(s.UserBySession(ctx, id)))
	if got := seen(); !got.Equal(t0.Add(20 * time.Minute)) {
		t.Errorf("last use = %v; want the use at +20 min", got)
	}
	clk.advance(30 * time.Second)
	must(t, "use after 20.5 min", errOf(s.UserBySession(ctx, id)))
	if got := seen(); !got.Equal(t0.Add(20 * time.Minute)) {
		t.Errorf("last use = %v; want it kept at +20 min: renewals are at most once a minute", got)
	}
	clk.advance(29 * time.Minute) // 29.5 min after the last use written
	must(t, "use after 49.5 min", errOf(s.UserBySession(ctx, id)))
	clk.advance(31 * time.Minute)
	_, err = s.UserBySession(ctx, id)
	wantCode(t, "UserBySession(idle for 31 min)", err, errcode.Unauthorized)
	_, err = s.UserBySession(ctx, id)
	wantCode(t, "UserBySession(idle, again)", err, errcode.Unauthorized)
	s.db.QueryRow(`SELECT count(*) FROM sessions WHERE hash = $1`, access.HashToken(id)).Scan(&stored)
	if stored != 0 {
		t.Error("an expired session was kept after it was refused")
	}

	// Absolute expiry: 12 hours after sign-in, however active.
	id, _, err = s.CreateSession(ctx, "usr_wang")
	must(t, "CreateSession", err)
	for range 12*4 - 1 {
		clk.advance(15 * time.Minute)
		must(t, "use every 15 min", errOf(s.UserBySession(ctx, id)))
	}
	clk.advance(15 * time.Minute)
	_, err = s.UserBySession(ctx, id)
	wantCode(t, "UserBySession(12 h after sign-in)", err, errcode.Unauthorized)

	// Sign-out.
	id, _, _ = s.CreateSession(ctx, "usr_wang")
	must(t, "DeleteSession", s.DeleteSession(ctx, id))
	_, err = s.UserBySession(ctx, id)
	wantCode(t, "UserBySession(after sign-out)", err, errcode.Unauthorized)
	must(t, "DeleteSession(again)", s.DeleteSession(ctx, id))

	// Disabling a user ends their sessions and refuses new ones; so does a new password.
	id, _, _ = s.CreateSession(ctx, "usr_wang")
	off := drWang
	off.Disabled = true
	must(t, "UpdateUser(disable)", s.UpdateUser(asAdmin, off))
	_, err = s.UserBySession(ctx, id)
	wantCode(t, "UserBySession(disabled user)", err, errcode.Unauthorized)
	_, _, err = s.CreateSession(ctx, "usr_wang")
	wantCode(t, "CreateSession(disabled user)", err, errcode.Unauthorized)
	must(t, "UpdateUser(enable)", s.UpdateUser(asAdmin, drWang))
	id, _, _ = s.CreateSession(ctx, "usr_wang")
	other, _, _ := s.CreateSession(ctx, "usr_root")
	must(t, "SetUserPassword", s.SetUserPassword(asAdmin, "usr_wang", fakeHash))
	_, err = s.UserBySession(ctx, id)
	wantCode(t, "UserBySession(after a new password)", err, errcode.Unauthorized)
	if _, err := s.UserBySession(ctx, other); err != nil {
		t.Errorf("another user's session = %v; want it untouched", err)
	}

	// Expired sessions are pruned.
	clk.advance(time.Hour)
	s.CreateSession(ctx, "usr_root") // prunes the others, which have been idle for an hour
	var left int
	s.db.QueryRow(`SELECT count(*) FROM sessions`).Scan(&left)
	if left != 1 {
		t.Errorf("%d sessions left after a sign-in an hour later; want only the new one", left)
	}

	// Sessions are not registry changes: only the user changes above moved the version.
	v, _ := s.RegistryVersion(ctx)
	entries, _ := s.AuditLog(ctx, audit.Filter{})
	if v-version != 3 || len(entries)-len(audited) != 3 {
		t.Errorf("sessions moved the registry version by %d and audited %d rows; want 3 and 3 (two updates, one password)",
			v-version, len(entries)-len(audited))
	}
}

func errOf(_ access.User, err error) error { return err }

// Every change to users and tokens is audited, without password hashes, tokens or their hashes.
func testAccessAudit(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	boss := audit.WithActor(ctx, "user:usr_root")
	if _, err := s.CreateUser(boss, drWang); err != nil {
		t.Fatal(err)
	}
	moved := drWang
	moved.Teams = []string{"t1"}
	must(t, "UpdateUser", s.UpdateUser(boss, moved))
	newHash := fakeHash + "new"
	must(t, "SetUserPassword", s.SetUserPassword(boss, "usr_wang", newHash))
	token, id, err := s.CreateToken(boss, "usr_wang", "sync")
	must(t, "CreateToken", err)
	must(t, "RevokeToken", s.RevokeToken(boss, id))
	s.CreateSession(ctx, "usr_wang")

	entries, err := s.AuditLog(ctx, audit.Filter{Subject: "user/usr_wang"})
	must(t, "AuditLog", err)
	type row struct{ actor, action, detail string }
	want := []row{
		{"user:usr_root", "user.token_revoke", `{"token":"` + id + `","name":"sync"}`},
		{"user:usr_root", "user.token_create", `{"token":"` + id + `","name":"sync"}`},
		{"user:usr_root", "user.password_set", `{}`},
		{"user:usr_root", "user.update", `{"username":"dr.wang","role":"doctor","teams":["t1"],"disabled":false,"has_password":true}`},
		{"user:usr_root", "user.create", `{"username":"dr.wang","role":"doctor","teams":["t1","t2"],"disabled":false,"has_password":true}`},
	}
	var got []row
	for _, e := range entries {
		got = append(got, row{e.Actor, e.Action, e.Detail})
		for _, secret := range []string{fakeHash, newHash, "argon2", token, token[4:], access.HashToken(token)} {
			if strings.Contains(e.Detail, secret) {
				t.Errorf("audit entry %s %s holds %q; hashes and tokens must never be audited", e.Action, e.Detail, secret)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AuditLog(user/usr_wang) =\n%q\nwant\n%q", got, want)
	}
}
