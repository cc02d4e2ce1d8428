package fhir

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// TestCapabilityStatementIsTheRoutes: the CapabilityStatement passes the schema and lists
// exactly the routes: each resource's read, search and operations, and each search's
// parameters (besides the paging and format ones every search takes).
func TestCapabilityStatementIsTheRoutes(t *testing.T) {
	s, err := New(Options{Auth: noAuth{}, Registry: noRegistry{}, Devices: devices.NewView(devices.NewDirectory(-1, nil, nil, nil)),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "http://vitalwatch.test"+Base+"/metadata", nil))
	checkSchema(t, "metadata", w.Body.Bytes())
	var cs CapabilityStatement
	decode(t, w.Body.Bytes(), &cs)
	if cs.FHIRVersion != "4.0.1" || cs.Kind != "instance" || !slices.Equal(cs.Format, []string{"json"}) || cs.Implementation.URL != "http://vitalwatch.test"+Base {
		t.Errorf("CapabilityStatement %+v", cs)
	}
	var listed []string
	for _, r := range cs.Rest[0].Resource {
		for _, i := range r.Interaction {
			switch i.Code {
			case "read":
				listed = append(listed, "/"+r.Type+"/{id}")
			case "search-type":
				var ps []string
				for _, p := range r.SearchParam {
					ps = append(ps, p.Name)
				}
				sort.Strings(ps)
				listed = append(listed, "/"+r.Type+" "+strings.Join(ps, ","))
			default:
				t.Errorf("%s: interaction %s", r.Type, i.Code)
			}
		}
		for _, op := range r.Operation {
			listed = append(listed, "/"+r.Type+"/{id}/$"+op.Name)
		}
	}
	var routes []string
	for _, rt := range s.routes() {
		switch {
		case rt.pattern == "/metadata":
		case strings.HasSuffix(rt.pattern, "}") || strings.Contains(rt.pattern, "$"):
			routes = append(routes, rt.pattern)
		default:
			ps := slices.DeleteFunc(slices.Clone(rt.params), func(p string) bool { return p == "_count" || p == pageParam })
			sort.Strings(ps)
			routes = append(routes, rt.pattern+" "+strings.Join(ps, ","))
		}
	}
	sort.Strings(listed)
	sort.Strings(routes)
	if fmt.Sprint(listed) != fmt.Sprint(routes) {
		t.Errorf("the CapabilityStatement lists\n%v\nthe routes are\n%v", strings.Join(listed, "\n"), strings.Join(routes, "\n"))
	}
}

// noAuth lets nobody in.
type noAuth struct{}

func (noAuth) Authenticate(*http.Request) (*access.Principal, error) { return nil, nil }

// noRegistry has nothing.
type noRegistry struct{}

func (noRegistry) GetPatient(context.Context, string) (devices.Patient, error) {
	return devices.Patient{}, errcode.Errorf(errcode.NotFound, "none")
}
func (noRegistry) GetTeam(context.Context, string) (devices.Team, error) {
	return devices.Team{}, errcode.Errorf(errcode.NotFound, "none")
}
func (noRegistry) GetSite(context.Context, string) (devices.Site, error) {
	return devices.Site{}, errcode.Errorf(errcode.NotFound, "none")
}
func (noRegistry) GetDevice(context.Context, string) (devices.Device, error) {
	return devices.Device{}, errcode.Errorf(errcode.NotFound, "none")
}
func (noRegistry) ListDevices(context.Context, devices.ListOptions) ([]devices.Device, error) {
	return nil, nil
}
func (noRegistry) ListTeams(context.Context, devices.ListOptions) ([]devices.Team, error) {
	return nil, nil
}
func (noRegistry) ListSites(context.Context, devices.ListOptions) ([]devices.Site, error) {
	return nil, nil
}

// decode decodes JSON into v.
func decode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatal(err)
	}
}
