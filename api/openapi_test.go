package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// openAPIDoc is the served document, decoded.
type openAPIDoc struct {
	raw   map[string]any
	paths map[string]map[string]any // path -> method (lower case) -> operation
}

// loadOpenAPI fetches the document from an API with no store: it must not need one.
func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	a, err := New(Options{Gatherer: prometheus.NewRegistry(), Auth: registryPrincipals, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/openapi.json", nil)
	req.Header.Set("Authorization", "Bearer docA")
	w := httptest.NewRecorder()
	a.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("GET /api/v1/openapi.json = %d %s", w.Code, w.Body)
	}
	d := &openAPIDoc{paths: map[string]map[string]any{}}
	if err := json.Unmarshal(w.Body.Bytes(), &d.raw); err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	paths, _ := d.raw["paths"].(map[string]any)
	for p, ops := range paths {
		d.paths[p], _ = ops.(map[string]any)
	}
	return d
}

// walkRoutes lists the router's routes as "METHOD /path", without a trailing slash.
func walkRoutes(t *testing.T, a *API) []string {
	t.Helper()
	var out []string
	err := chi.Walk(a.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route != "/" {
			route = strings.TrimSuffix(route, "/")
		}
		out = append(out, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The document lists every /api/v1 route of the router, and no route the router does not have.
// Both are built from the route table (routes.go); a route mounted beside it fails the test.
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadOpenAPI(t)
	f := newRegistryFixture(t)
	server := doc.raw["servers"].([]any)[0].(map[string]any)["url"].(string)
	routed := map[string]bool{}
	for _, r := range walkRoutes(t, f.api) {
		if _, path, _ := strings.Cut(r, " "); strings.HasPrefix(path, "/api/v1/") {
			routed[r] = true
		}
	}
	documented := map[string]bool{}
	for path, ops := range doc.paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+server+path] = true
		}
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
	for r := range documented {
		if !routed[r] {
			t.Errorf("the OpenAPI document has %s, which the router does not", r)
		}
	}
	if len(routed) < 25 {
		t.Errorf("walked only %d /api/v1 routes: %v", len(routed), routed)
	}
}

// The document is well formed: every $ref resolves, every operation has a unique id, its path
// parameters and a success answer, and a JSON body or answer is an object schema.
func TestOpenAPIWellFormed(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.raw["openapi"] != "3.0.3" {
		t.Errorf("openapi = %v; want 3.0.3", doc.raw["openapi"])
	}
	var refs []string
	var collect func(v any)
	collect = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				refs = append(refs, r)
				if len(v) != 1 {
					t.Errorf("$ref %s has siblings %v, which OpenAPI 3.0 ignores", r, v)
				}
			}
			for _, x := range v {
				collect(x)
			}
		case []any:
			for _, x := range v {
				collect(x)
			}
		}
	}
	collect(doc.raw)
	for _, r := range refs {
		if _, err := doc.resolve(map[string]any{"$ref": r}); err != nil {
			t.Error(err)
		}
	}
	ids := map[string]string{}
	param := regexp.MustCompile(`\{([a-zA-Z_]+)\}`)
	for path, ops := range doc.paths {
		for method, o := range ops {
			op := o.(map[string]any)
			where := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] != "" {
				t.Errorf("%s: operationId %q is empty or also that of %s", where, id, ids[id])
			}
			ids[id] = where
			var inPath []string
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				p := p.(map[string]any)
				if p["in"] == "path" {
					inPath = append(inPath, p["name"].(string))
				}
				if p["schema"] == nil || p["name"] == "" {
					t.Errorf("%s: parameter %v has no name or schema", where, p)
				}
			}
			for _, m := range param.FindAllStringSubmatch(path, -1) {
				if !slices.Contains(inPath, m[1]) {
					t.Errorf("%s: path parameter %s is not declared", where, m[1])
				}
			}
			answers, _ := op["responses"].(map[string]any)
			ok := false
			for code := range answers {
				if n, _ := strconv.Atoi(code); n >= 200 && n < 300 {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: no success answer in %v", where, answers)
			}
		}
	}
}

// resolve follows a $ref.
func (d *openAPIDoc) resolve(s map[string]any) (map[string]any, error) {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s, nil
		}
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		schemas := d.raw["components"].(map[string]any)["schemas"].(map[string]any)
		next, found := schemas[name].(map[string]any)
		if !ok || !found {
			return nil, fmt.Errorf("$ref %s does not resolve", ref)
		}
		s = next
	}
}

// checkAnswer checks a JSON answer against the schema the document gives for the operation
// and status.
func (d *openAPIDoc) checkAnswer(method, pattern string, status int, body []byte) error {
	op, ok := d.paths[pattern][strings.ToLower(method)].(map[string]any)
	if !ok {
		return fmt.Errorf("%s %s is not documented", method, pattern)
	}
	a, ok := op["responses"].(map[string]any)[strconv.Itoa(status)].(map[string]any)
	if !ok {
		return fmt.Errorf("status %d is not documented", status)
	}
	schema := a["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return d.check("answer", v, schema)
}

// check validates v against schema: types, required properties, no properties the schema does
// not list (additionalProperties: false), enums.
func (d *openAPIDoc) check(where string, v any, schema map[string]any) error {
	s, err := d.resolve(schema)
	if err != nil {
		return err
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		return fmt.Errorf("%s: null", where)
	}
	if e, ok := s["enum"].([]any); ok && !slices.Contains(e, v) {
		return fmt.Errorf("%s: %v is not one of %v", where, v, e)
	}
	switch s["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %v is not an object", where, v)
		}
		props, _ := s["properties"].(map[string]any)
		if props == nil {
			return nil // free-form
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: required %s is missing", where, r)
			}
		}
		for k, x := range obj {
			ps, ok := props[k].(map[string]any)
			if !ok {
				return fmt.Errorf("%s: %s is not in the schema", where, k)
			}
			if err := d.check(where+"."+k, x, ps); err != nil {
				return err
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %v is not an array", where, v)
		}
		for i, x := range arr {
			if err := d.check(fmt.Sprintf("%s[%d]", where, i), x, s["items"].(map[string]any)); err != nil {
				return err
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %v is not a string", where, v)
		}
	case "integer":
		if n, ok := v.(float64); !ok || n != float64(int64(n)) {
			return fmt.Errorf("%s: %v is not an integer", where, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %v is not a number", where, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %v is not a boolean", where, v)
		}
	}
	return nil
}
