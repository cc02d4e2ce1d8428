package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/store"
)

// accountsAPI is the API over a real SQLite store holding a site, a team, an admin and a doctor.
type accountsAPI struct {
	t      *testing.T
	api    *API
	st     *store.Store
	bodies []string // every response body, to check that no hash ever leaves
}

const (
	adminPassword  = "admin password 1"
	doctorPassword = "doctor password 1"
)

func newAccountsAPI(t *testing.T) *accountsAPI {
	t.Helper()
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "vw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateSite(ctx, devices.Site{ID: "s1", Name: "Riverside"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTeam(ctx, devices.Team{ID: "t1", SiteID: "s1", Name: "Dr Wang's team"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		access.User
		password string
	}{
		{access.User{ID: "usr_admin", Username: "admin", Role: access.Admin}, adminPassword},
		{access.User{ID: "usr_wang", Username: "dr.wang", Role: access.Doctor, Teams: []string{"t1"}}, doctorPassword},
	} {
		u.PasswordHash, err = access.HashPassword(u.password)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateUser(ctx, u.User); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: st, Auth: NewUserAuth(st, log), Users: st, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return &accountsAPI{t: t, api: a, st: st}
}

// request is one call: credentials (a cookie value or a bearer token) and the client's address.
type request struct {
	method, path, body string
	cookie, bearer     string
	remote             string
}

func (c *accountsAPI) do(r request) *httptest.ResponseRecorder {
	c.t.Helper()
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: r.cookie})
	}
	if r.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	req.RemoteAddr = "192.0.2.1:40000"
	if r.remote != "" {
		req.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	c.api.ServeHTTP(w, req)
	c.bodies = append(c.bodies, w.Body.String())
	return w
}

// want fails the test unless w has the status, and decodes its body into v (if not nil).
func (c *accountsAPI) want(what string, w *httptest.ResponseRecorder, status int, v any) {
	c.t.Helper()
	if w.Code != status {
		c.t.Fatalf("%s = %d %s; want %d", what, w.Code, w.Body, status)
	}
	if v != nil {
		if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
			c.t.Fatalf("%s: %v\n%s", what, err, w.Body)
		}
	}
}

func (c *accountsAPI) login(username, password, remote string) *httptest.ResponseRecorder {
	c.t.Helper()
	body, _ := json.Marshal(loginJSON{Username: username, Password: password})
	return c.do(request{method: "POST", path: "/api/v1/login", body: string(body), remote: remote})
}

// sessionOf returns the session cookie that w sets.
func sessionOf(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", SessionCookie, w.Header()["Set-Cookie"])
	return nil
}

// noHashes fails the test if any response carried a password hash.
func (c *accountsAPI) noHashes() {
	c.t.Helper()
	users, _ := c.st.ListUsers(context.Background(), access.UserFilter{})
	for _, body := range c.bodies {
		for _, u := range users {
			if strings.Contains(body, "argon2") || u.PasswordHash != "" && strings.Contains(body, u.PasswordHash[30:]) {
				c.t.Errorf("a response holds a password hash: %s", body)
			}
		}
	}
}

func TestLoginSessionLogout(t *testing.T) {
	c := newAccountsAPI(t)
	w := c.login("dr.wang", doctorPassword, "")
	var me userJSON
	c.want("login", w, http.StatusOK, &me)
	if me.ID != "usr_wang" || me.Role != access.Doctor || strings.Join(me.Teams, ",") != "t1" || !me.HasPassword {
		t.Errorf("login answered %+v; want dr.wang, a doctor of t1", me)
	}
	cookie := sessionOf(t, w)
	setCookie := w.Header().Get("Set-Cookie")
	for _, flag := range []string{"HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Expires="} {
		if !strings.Contains(setCookie, flag) {
			t.Errorf("Set-Cookie: %s lacks %s", setCookie, flag)
		}
	}
	if len(cookie.Value) != 43 {
		t.Errorf("session id %q; want 32 random bytes in base64url", cookie.Value)
	}

	c.want("GET /me with the cookie", c.do(request{method: "GET", path: "/api/v1/me", cookie: cookie.Value}), http.StatusOK, &me)
	if me.Username != "dr.wang" {
		t.Errorf("/me = %+v; want dr.wang", me)
	}

	w = c.do(request{method: "POST", path: "/api/v1/logout", cookie: cookie.Value})
	c.want("logout", w, http.StatusNoContent, nil)
	if gone := sessionOf(t, w); gone.Value != "" || gone.MaxAge >= 0 {
		t.Errorf("logout set %v; want the cookie removed", gone)
	}
	w = c.do(request{method: "GET", path: "/api/v1/me", cookie: cookie.Value})
	c.want("GET /me after logout", w, http.StatusUnauthorized, nil)
	c.want("GET /me without credentials", c.do(request{method: "GET", path: "/api/v1/me"}), http.StatusUnauthorized, nil)
	c.want("GET /me with a made-up cookie", c.do(request{method: "GET", path: "/api/v1/me", cookie: access.NewSessionID()}), http.StatusUnauthorized, nil)

	// Signing in again ends the session the browser still held.
	first := sessionOf(t, c.login("dr.wang", doctorPassword, ""))
	w = c.do(request{method: "POST", path: "/api/v1/login", cookie: first.Value,
		body: `{"username": "dr.wang", "password": "` + doctorPassword + `"}`})
	c.want("second login", w, http.StatusOK, nil)
	c.want("GET /me with the first session", c.do(request{method: "GET", path: "/api/v1/me", cookie: first.Value}), http.StatusUnauthorized, nil)
	c.want("GET /me with the second", c.do(request{method: "GET", path: "/api/v1/me", cookie: sessionOf(t, w).Value}), http.StatusOK, nil)
	c.noHashes()
}

func TestLoginRefusals(t *testing.T) {
	c := newAccountsAPI(t)
	var wrong, unknown struct{ Error errorJSON }
	c.want("wrong password", c.login("dr.wang", "not the password", ""), http.StatusUnauthorized, &wrong)
	c.want("unknown user", c.login("dr.nobody", doctorPassword, ""), http.StatusUnauthorized, &unknown)
	if wrong != unknown || wrong.Error.Message != "wrong username or password" {
		t.Errorf("wrong password = %+v, unknown user = %+v; want the same answer", wrong, unknown)
	}
	for _, body := range []string{`{"username": "dr.wang"}`, `{"password": "x"}`, `{"username": "dr.wang", "password": "x", "remember": true}`, `[1]`} {
		w := c.do(request{method: "POST", path: "/api/v1/login", body: body})
		c.want("login "+body, w, http.StatusBadRequest, nil)
	}
	if w := c.login("dr.wang", doctorPassword, ""); w.Header().Get("Set-Cookie") == "" {
		t.Error("the right password after a wrong one set no cookie")
	}
	// A disabled user cannot sign in, and their session and token stop working.
	ctx := audit.WithActor(context.Background(), "test")
	cookie := sessionOf(t, c.login("dr.wang", doctorPassword, ""))
	token, _, err := c.st.CreateToken(ctx, "usr_wang", "sync")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := c.st.GetUser(ctx, "usr_wang")
	u.Disabled = true
	if err := c.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	c.want("login of a disabled user", c.login("dr.wang", doctorPassword, ""), http.StatusUnauthorized, nil)
	c.want("session of a disabled user", c.do(request{method: "GET", path: "/api/v1/me", cookie: cookie.Value}), http.StatusUnauthorized, nil)
	c.want("token of a disabled user", c.do(request{method: "GET", path: "/api/v1/me", bearer: token}), http.StatusUnauthorized, nil)
	c.noHashes()
}

func TestLoginRateLimit(t *testing.T) {
	c := newAccountsAPI(t)
	for i := range 5 {
		c.want("failure "+strconv.Itoa(i+1), c.login("dr.wang", "guess number "+strconv.Itoa(i), ""), http.StatusUnauthorized, nil)
	}
	w := c.login("dr.wang", doctorPassword, "")
	c.want("6th attempt, with the right password", w, http.StatusTooManyRequests, nil)
	if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 890 || s > 900 {
		t.Errorf("Retry-After: %q; want about 900 seconds", w.Header().Get("Retry-After"))
	}
	c.want("6th attempt from elsewhere", c.login("dr.wang", doctorPassword, "198.51.100.7:1"), http.StatusTooManyRequests, nil)
	// Other users are not locked out.
	c.want("admin, meanwhile", c.login("admin", adminPassword, ""), http.StatusOK, nil)

	// 20 failures from one address, whatever the usernames, lock the address.
	const addr = "203.0.113.5:2000"
	for i := range 20 {
		c.want("failure from one address", c.login("user"+strconv.Itoa(i), "wrong password", addr), http.StatusUnauthorized, nil)
	}
	c.want("21st attempt from the address", c.login("admin", adminPassword, addr), http.StatusTooManyRequests, nil)
	// The addresses of one IPv6 /64 count as one.
	for i := range 20 {
		c.want("failure from the /64", c.login("v6user"+strconv.Itoa(i), "wrong password", "[2001:db8:1:2::"+strconv.Itoa(i+1)+"]:443"), http.StatusUnauthorized, nil)
	}
	c.want("21st attempt from the /64", c.login("admin", adminPassword, "[2001:db8:1:2:ffff::1]:443"), http.StatusTooManyRequests, nil)
	c.want("admin from another /64", c.login("admin", adminPassword, "[2001:db8:1:3::1]:443"), http.StatusOK, nil)
}

func TestBearerToken(t *testing.T) {
	c := newAccountsAPI(t)
	ctx := audit.WithActor(context.Background(), "test")
	token, id, err := c.st.CreateToken(ctx, "usr_wang", "sync")
	if err != nil {
		t.Fatal(err)
	}
	var me userJSON
	c.want("GET /me with the token", c.do(request{method: "GET", path: "/api/v1/me", bearer: token}), http.StatusOK, &me)
	if me.ID != "usr_wang" {
		t.Errorf("/me = %+v; want dr.wang", me)
	}
	for _, bad := range []string{"vwt_guess", token[4:], token + "x"} {
		c.want("GET /me with "+bad, c.do(request{method: "GET", path: "/api/v1/me", bearer: bad}), http.StatusUnauthorized, nil)
	}
	req := httptest.NewRequest("GET", "/api/v1/me", nil)
	req.Header.Set("Authorization", "Basic "+token)
	w := httptest.NewRecorder()
	c.api.ServeHTTP(w, req)
	c.want("Authorization: Basic", w, http.StatusUnauthorized, nil)

	if err := c.st.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	w = c.do(request{method: "GET", path: "/api/v1/me", bearer: token})
	c.want("GET /me with a revoked token", w, http.StatusUnauthorized, nil)
	if !strings.Contains(w.Body.String(), "revoked") {
		t.Errorf("revoked token answered %s; want it to say revoked", w.Body)
	}
}

func TestUserManagement(t *testing.T) {
	c := newAccountsAPI(t)
	admin := sessionOf(t, c.login("admin", adminPassword, "")).Value
	doctor := sessionOf(t, c.login("dr.wang", doctorPassword, "")).Value
	as := func(cookie, method, path, body string) *httptest.ResponseRecorder {
		return c.do(request{method: method, path: path, body: body, cookie: cookie})
	}

	// Only admins manage users.
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/v1/users", ""},
		{"POST", "/api/v1/users", `{"username": "x", "role": "admin"}`},
		{"GET", "/api/v1/users/usr_wang", ""},
		{"PATCH", "/api/v1/users/usr_wang", `{"role": "admin"}`},
		{"GET", "/api/v1/users/usr_wang/tokens", ""},
		{"POST", "/api/v1/users/usr_wang/tokens", `{"name": "mine"}`},
		{"DELETE", "/api/v1/users/usr_wang/tokens/tok_x", ""},
	} {
		c.want("doctor: "+r.method+" "+r.path, as(doctor, r.method, r.path, r.body), http.StatusForbidden, nil)
	}
	if u, _ := c.st.GetUser(context.Background(), "usr_wang"); u.Role != access.Doctor {
		t.Fatal("a doctor made themselves admin")
	}

	var created userJSON
	w := as(admin, "POST", "/api/v1/users", `{"username": "fleet.north", "role": "fleet_manager", "sites": ["s1"], "password": "fleet password 1"}`)
	c.want("create a fleet manager", w, http.StatusCreated, &created)
	if !strings.HasPrefix(created.ID, "usr_") || created.Role != access.FleetManager || !created.HasPassword ||
		w.Header().Get("Location") != "/api/v1/users/"+created.ID {
		t.Errorf("created %+v at %s; want a new fleet manager with a password", created, w.Header().Get("Location"))
	}
	c.want("the new user signs in", c.login("fleet.north", "fleet password 1", ""), http.StatusOK, nil)
	for _, tt := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"username": "fleet.north", "role": "admin"}`, http.StatusConflict, "taken"},
		{`{"username": "x", "role": "admin", "password": "short"}`, http.StatusBadRequest, "12"},
		{`{"username": "x", "role": "admin", "password_hash": "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$a2V5"}`, http.StatusBadRequest, "password_hash"},
		{`{"username": "x", "role": "doctor", "teams": ["t9"]}`, http.StatusBadRequest, "team t9 does not exist"},
		{`{"username": "x", "role": "doctor"}`, http.StatusBadRequest, "team"},
		{`{"username": "X Y", "role": "admin"}`, http.StatusBadRequest, "username"},
		{`{"role": "admin"}`, http.StatusBadRequest, "username"},
	} {
		w := as(admin, "POST", "/api/v1/users", tt.body)
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.msg) {
			t.Errorf("POST /users %s = %d %s; want %d naming %s", tt.body, w.Code, w.Body, tt.status, tt.msg)
		}
	}

	var page struct {
		Items []userJSON
		Next  string
	}
	c.want("list users", as(admin, "GET", "/api/v1/users?limit=2", ""), http.StatusOK, &page)
	if len(page.Items) != 2 || page.Next != page.Items[1].ID {
		t.Errorf("GET /users?limit=2 = %+v; want 2 and a cursor", page)
	}
	page.Items, page.Next = nil, ""
	c.want("list doctors of t1", as(admin, "GET", "/api/v1/users?role=doctor&team=t1", ""), http.StatusOK, &page)
	if len(page.Items) != 1 || page.Items[0].ID != "usr_wang" || page.Next != "" {
		t.Errorf("GET /users?role=doctor&team=t1 = %+v; want dr.wang only", page)
	}
	c.want("list with a bad parameter", as(admin, "GET", "/api/v1/users?colour=red", ""), http.StatusBadRequest, nil)
	c.want("get a user", as(admin, "GET", "/api/v1/users/usr_wang", ""), http.StatusOK, nil)
	c.want("get no user", as(admin, "GET", "/api/v1/users/usr_nobody", ""), http.StatusNotFound, nil)

	// PATCH: the fields given; a new role drops the memberships it has no use for.
	var patched userJSON
	c.want("make the fleet manager an admin", as(admin, "PATCH", "/api/v1/users/"+created.ID, `{"role": "admin"}`), http.StatusOK, &patched)
	if patched.Role != access.Admin || len(patched.Sites) != 0 || patched.Username != "fleet.north" {
		t.Errorf("after PATCH role admin: %+v; want an admin without sites, same username", patched)
	}
	c.want("new password", as(admin, "PATCH", "/api/v1/users/"+created.ID, `{"password": "a new password 2"}`), http.StatusOK, nil)
	c.want("old password", c.login("fleet.north", "fleet password 1", ""), http.StatusUnauthorized, nil)
	c.want("new password signs in", c.login("fleet.north", "a new password 2", ""), http.StatusOK, nil)
	c.want("short new password", as(admin, "PATCH", "/api/v1/users/"+created.ID, `{"password": "short", "disabled": true}`), http.StatusBadRequest, nil)
	if u, _ := c.st.GetUser(context.Background(), created.ID); u.Disabled {
		t.Error("a PATCH refused for its password disabled the user anyway")
	}
	c.want("PATCH an id", as(admin, "PATCH", "/api/v1/users/"+created.ID, `{"id": "usr_other"}`), http.StatusBadRequest, nil)
	c.want("disable the last admin but one", as(admin, "PATCH", "/api/v1/users/"+created.ID, `{"disabled": true}`), http.StatusOK, nil)
	c.want("disable the last admin", as(admin, "PATCH", "/api/v1/users/usr_admin", `{"disabled": true}`), http.StatusBadRequest, nil)

	// Tokens: shown once, listed without the secret, revoked at once.
	var tok tokenJSON
	w = as(admin, "POST", "/api/v1/users/usr_wang/tokens", `{"name": "hospital sync"}`)
	c.want("create a token", w, http.StatusCreated, &tok)
	if !strings.HasPrefix(tok.Token, "vwt_") || tok.User != "usr_wang" || tok.Name != "hospital sync" || tok.Created.IsZero() {
		t.Errorf("created token %+v; want the token once with its id and name", tok)
	}
	c.want("GET /me with it", c.do(request{method: "GET", path: "/api/v1/me", bearer: tok.Token}), http.StatusOK, nil)
	w = as(admin, "GET", "/api/v1/users/usr_wang/tokens", "")
	c.want("list tokens", w, http.StatusOK, nil)
	if strings.Contains(w.Body.String(), tok.Token[4:]) || !strings.Contains(w.Body.String(), tok.ID) || !strings.Contains(w.Body.String(), "last_used") {
		t.Errorf("token list %s; want the token's id and use, never the token", w.Body)
	}
	c.want("revoke it as another user's", as(admin, "DELETE", "/api/v1/users/usr_admin/tokens/"+tok.ID, ""), http.StatusNotFound, nil)
	c.want("revoke it", as(admin, "DELETE", "/api/v1/users/usr_wang/tokens/"+tok.ID, ""), http.StatusNoContent, nil)
	c.want("revoke it again", as(admin, "DELETE", "/api/v1/users/usr_wang/tokens/"+tok.ID, ""), http.StatusConflict, nil)
	c.want("GET /me with the revoked token", c.do(request{method: "GET", path: "/api/v1/me", bearer: tok.Token}), http.StatusUnauthorized, nil)
	c.want("token for no user", as(admin, "POST", "/api/v1/users/usr_nobody/tokens", `{"name": "x"}`), http.StatusNotFound, nil)
	c.want("token without a name", as(admin, "POST", "/api/v1/users/usr_wang/tokens", `{}`), http.StatusBadRequest, nil)

	// Every change is in the audit log, as the admin.
	entries, _ := c.st.AuditLog(context.Background(), audit.Filter{Actor: "user:usr_admin"})
	if len(entries) != 6 {
		t.Errorf("audit entries by user:usr_admin = %d; want 6 (create, 2 updates, password, token, revoke)", len(entries))
	}
	c.noHashes()
}

// Signing in and the account routes refuse a query parameter they do not take, as every other
// route does.
func TestAccountRoutesRefuseUnknownParameters(t *testing.T) {
	c := newAccountsAPI(t)
	admin := sessionOf(t, c.login("admin", adminPassword, "")).Value
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/v1/login?colour=red", `{"username": "admin", "password": "` + adminPassword + `"}`},
		{"GET", "/api/v1/me?colour=red", ""},
		{"POST", "/api/v1/logout?colour=red", ""},
		{"GET", "/api/v1/users?colour=red", ""},
		{"POST", "/api/v1/users?colour=red", `{"username": "x.y", "role": "admin"}`},
		{"GET", "/api/v1/users/usr_wang?colour=red", ""},
		{"PATCH", "/api/v1/users/usr_wang?colour=red", `{"role": "admin"}`},
		{"GET", "/api/v1/users/usr_wang/tokens?colour=red", ""},
		{"POST", "/api/v1/users/usr_wang/tokens?colour=red", `{"name": "mine"}`},
		{"DELETE", "/api/v1/users/usr_wang/tokens/tok_x?colour=red", ""},
	} {
		w := c.do(request{method: r.method, path: r.path, body: r.body, cookie: admin})
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `unknown parameter \"colour\"`) {
			t.Errorf("%s %s = %d %s; want 400 naming colour", r.method, r.path, w.Code, w.Body)
		}
	}
	if u, _ := c.st.GetUser(t.Context(), "usr_wang"); u.Role != access.Doctor {
		t.Errorf("a refused PATCH made usr_wang %s", u.Role)
	}
	c.want("the session still works", c.do(request{method: "GET", path: "/api/v1/me", cookie: admin}), http.StatusOK, nil)
}

// The answers of signing in and of the account routes fit the OpenAPI document.
func TestAccountAnswersFitTheDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	c := newAccountsAPI(t)
	w := c.login("admin", adminPassword, "")
	admin := sessionOf(t, w).Value
	var tok tokenJSON
	for _, r := range []struct {
		method, pattern, path, body string
		status                      int
		into                        any
	}{
		{"POST", "/login", "", "", 200, nil},
		{"GET", "/me", "/me", "", 200, nil},
		{"GET", "/users", "/users?limit=1", "", 200, nil},
		{"POST", "/users", "/users", `{"username": "fleet.north", "role": "fleet_manager", "sites": ["s1"]}`, 201, nil},
		{"GET", "/users/{id}", "/users/usr_wang", "", 200, nil},
		{"PATCH", "/users/{id}", "/users/usr_wang", `{"teams": ["t1"]}`, 200, nil},
		{"POST", "/users/{id}/tokens", "/users/usr_wang/tokens", `{"name": "sync"}`, 201, &tok},
		{"GET", "/users/{id}/tokens", "/users/usr_wang/tokens", "", 200, nil},
	} {
		if r.path != "" {
			w = c.do(request{method: r.method, path: "/api/v1" + r.path, body: r.body, cookie: admin})
		}
		c.want(r.method+" "+r.pattern, w, r.status, r.into)
		if err := doc.checkAnswer(r.method, r.pattern, w.Code, w.Body.Bytes()); err != nil {
			t.Errorf("%s %s: answer %d does not fit the OpenAPI document: %v\n%s", r.method, r.pattern, w.Code, err, w.Body)
		}
	}
	if tok.Token == "" {
		t.Error("the new token's answer holds no token")
	}
}
