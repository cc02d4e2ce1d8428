package access

import (
	"strings"
	"testing"
	"time"
)

func TestUserValidate(t *testing.T) {
	tests := []struct {
		name string
		u    User
		want string // part of the error; empty: valid
	}{
		{"doctor", User{ID: "usr_1", Username: "dr.wang", Role: Doctor, Teams: []string{"t1", "t2"}}, ""},
		{"fleet manager", User{ID: "usr_1", Username: "fleet_north-2", Role: FleetManager, Sites: []string{"s1"}}, ""},
		{"admin", User{ID: "usr_1", Username: "root", Role: Admin}, ""},
		{"no id", User{Username: "root", Role: Admin}, "user id"},
		{"capitals", User{ID: "usr_1", Username: "Root", Role: Admin}, "username"},
		{"space", User{ID: "usr_1", Username: "dr wang", Role: Admin}, "username"},
		{"too long", User{ID: "usr_1", Username: strings.Repeat("a", 65), Role: Admin}, "username"},
		{"64 is fine", User{ID: "usr_1", Username: strings.Repeat("a", 64), Role: Admin}, ""},
		{"no role", User{ID: "usr_1", Username: "x"}, "role"},
		{"doctor without team", User{ID: "usr_1", Username: "x", Role: Doctor}, "at least one team"},
		{"fleet manager without site", User{ID: "usr_1", Username: "x", Role: FleetManager}, "at least one site"},
		{"admin with a team", User{ID: "usr_1", Username: "x", Role: Admin, Teams: []string{"t1"}}, "only doctors"},
		{"doctor with a site", User{ID: "usr_1", Username: "x", Role: Doctor, Teams: []string{"t1"}, Sites: []string{"s1"}}, "only fleet managers"},
		{"bad team id", User{ID: "usr_1", Username: "x", Role: Doctor, Teams: []string{"t 1"}}, "team"},
		{"team twice", User{ID: "usr_1", Username: "x", Role: Doctor, Teams: []string{"t1", "t1"}}, "twice"},
	}
	for _, tt := range tests {
		err := tt.u.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate() = %v; want %q", tt.name, err, tt.want)
		}
	}
}

func TestPrincipalOfUser(t *testing.T) {
	u := User{ID: "usr_1", Username: "dr.wang", Role: Doctor, Teams: []string{"t1"}}
	p := u.Principal()
	if !p.CanTeam("t1") || p.CanTeam("t2") || p.CanSite("s1") || p.IsAdmin() {
		t.Errorf("Principal() = %+v; want a doctor of t1 only", p)
	}
	p.Teams[0] = "t9"
	if u.Teams[0] != "t1" {
		t.Error("changing the principal changed the user")
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID("usr"), NewID("usr")
	if a == b || len(a) != len("usr_")+16 || !strings.HasPrefix(a, "usr_") || strings.Trim(a[4:], "abcdefghijklmnopqrstuvwxyz234567") != "" {
		t.Errorf("NewID(usr) = %q, %q; want two different usr_ and 16 base32 characters", a, b)
	}
}

func TestPassword(t *testing.T) {
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("HashPassword = %q; want the PHC form with OWASP's parameters", hash)
	}
	if again, _ := HashPassword("correct horse battery"); again == hash {
		t.Error("two hashes of one password are equal; want a new salt each time")
	}
	if !CheckPassword(hash, "correct horse battery") {
		t.Error("CheckPassword(the password) = false")
	}
	for _, wrong := range []string{"correct horse batterY", "correct horse battery ", ""} {
		if CheckPassword(hash, wrong) {
			t.Errorf("CheckPassword(%q) = true", wrong)
		}
	}
	parts := strings.Split(hash, "$")
	for _, bad := range []string{
		"", "x", "$argon2i$v=19$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=18$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4194304,t=2,p=1$" + parts[4] + "$" + parts[5], // 4 GiB
		"$argon2id$v=19$m=19456,t=2,p=1x$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=19456,t=2,p=1$!!$" + parts[5],
	} {
		if CheckPassword(bad, "correct horse battery") {
			t.Errorf("CheckPassword(%q) = true; want a malformed hash to match nothing", bad)
		}
	}
	if _, err := HashPassword("short pass1"); err == nil || !strings.Contains(err.Error(), "12") {
		t.Errorf("HashPassword(11 characters) = %v; want an error naming the minimum of 12", err)
	}
	if _, err := HashPassword("äöüäöüäöüäöü"); err != nil {
		t.Errorf("HashPassword(12 non-ASCII characters) = %v; want them counted as characters", err)
	}
	if _, err := HashPassword(strings.Repeat("p", MaxPasswordLength+1)); err == nil {
		t.Error("HashPassword(too long) = nil")
	}
	if p := NewPassword(); len(p) != 24 || CheckPasswordRules(p) != nil {
		t.Errorf("NewPassword() = %q; want 24 characters that pass the rules", p)
	}
}

// An unknown user costs as much as a wrong password.
func TestCheckPasswordTakesAsLongWithoutAHash(t *testing.T) {
	hash, _ := HashPassword("correct horse battery")
	timeOf := func(hash string) time.Duration {
		start := time.Now()
		for range 3 {
			CheckPassword(hash, "wrong password!")
		}
		return time.Since(start)
	}
	withHash, without := timeOf(hash), timeOf("")
	if without < withHash/3 {
		t.Errorf("CheckPassword without a hash took %v, with one %v; want about the same", without, withHash)
	}
}

func TestTokens(t *testing.T) {
	tok := NewToken()
	if !strings.HasPrefix(tok, "vwt_") || len(tok) != 4+43 || tok == NewToken() {
		t.Errorf("NewToken() = %q; want vwt_ and 32 random bytes in base64url", tok)
	}
	if h := HashToken("abc"); h != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashToken(abc) = %s; want its SHA-256 in hex", h)
	}
	if id := NewSessionID(); len(id) != 43 || id == NewSessionID() {
		t.Errorf("NewSessionID() = %q; want 32 random bytes in base64url", id)
	}
	for name, ok := range map[string]bool{"hospital-sync": true, "Lab results (2026)": true, "": false, "  ": false,
		"a\nb": false, strings.Repeat("n", 100): true, strings.Repeat("n", 101): false} {
		if err := CheckTokenName(name); (err == nil) != ok {
			t.Errorf("CheckTokenName(%q) = %v; want ok %v", name, err, ok)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		seen, now time.Duration // after sign-in
		active    bool
		renew     bool
	}{
		{"just signed in", 0, 0, true, false},
		{"59 s later", 0, 59 * time.Second, true, false},
		{"a minute later", 0, time.Minute, true, true},
		{"idle 29 min", 0, 29 * time.Minute, true, true},
		{"idle 30 min", 0, 30 * time.Minute, false, true},
		{"used recently, 11 h 59 min in", 11*time.Hour + 50*time.Minute, 11*time.Hour + 59*time.Minute, true, true},
		{"used recently, 12 h in", 11*time.Hour + 50*time.Minute, 12 * time.Hour, false, true},
	}
	for _, tt := range tests {
		s := Session{Created: t0, Seen: t0.Add(tt.seen)}
		now := t0.Add(tt.now)
		if s.Active(now) != tt.active || s.NeedsRenewal(now) != tt.renew {
			t.Errorf("%s: Active = %v, NeedsRenewal = %v; want %v, %v", tt.name, s.Active(now), s.NeedsRenewal(now), tt.active, tt.renew)
		}
	}
}

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	l := NewLimiter(5, 15*time.Minute, 3)
	for i := range 5 {
		if _, ok := l.Take("dr.wang", t0.Add(time.Duration(i)*time.Minute)); !ok {
			t.Fatalf("attempt %d refused; want 5 allowed", i+1)
		}
	}
	retry, ok := l.Take("dr.wang", t0.Add(5*time.Minute))
	if ok || retry != 10*time.Minute {
		t.Errorf("6th attempt = %v, %v; want refused, retry in 10 min (when the first is 15 min old)", retry, ok)
	}
	if _, ok := l.Take("dr.li", t0.Add(5*time.Minute)); !ok {
		t.Error("another key was refused")
	}
	if _, ok := l.Take("dr.wang", t0.Add(15*time.Minute+time.Second)); !ok {
		t.Error("an attempt after the oldest left the window was refused")
	}
	if _, ok := l.Take("dr.wang", t0.Add(15*time.Minute+2*time.Second)); ok {
		t.Error("a second attempt in the same window was allowed")
	}
	l.Forgive("dr.wang")
	if _, ok := l.Take("dr.wang", t0.Add(15*time.Minute+3*time.Second)); !ok {
		t.Error("Forgive did not take back an attempt")
	}
	l.Reset("dr.wang")
	if _, ok := l.Take("dr.wang", t0.Add(15*time.Minute+4*time.Second)); !ok {
		t.Error("Reset did not clear the key")
	}

	// Bounded: a full limiter forgets stale keys first, then the one that failed longest ago.
	l = NewLimiter(1, time.Minute, 3)
	l.Take("a", t0)
	l.Take("b", t0.Add(50*time.Second))
	l.Take("c", t0.Add(55*time.Second))
	l.Take("d", t0.Add(70*time.Second)) // "a" is stale
	if l.Len() != 3 {
		t.Errorf("Len() = %d; want 3", l.Len())
	}
	if _, ok := l.Take("b", t0.Add(71*time.Second)); ok {
		t.Error("b was forgotten; want only the stale a")
	}
	l.Take("e", t0.Add(72*time.Second)) // none stale: b, the oldest, goes
	if _, ok := l.Take("c", t0.Add(73*time.Second)); ok || l.Len() != 3 {
		t.Errorf("c was forgotten or the limiter grew to %d; want b forgotten", l.Len())
	}
}
