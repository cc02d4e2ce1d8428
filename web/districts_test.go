package web

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/simulators"
)

// demoDistricts is the demo's own district outlines, which make run serves.
const demoDistricts = "../scripts/demo-districts.geojson"

// With web.districts_geojson set, the shell tells the app where the outlines are and the
// handler serves them as GeoJSON, revalidated by their ETag; without it, neither.
func TestDistrictsServed(t *testing.T) {
	h, err := New(Options{Districts: demoDistricts})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(demoDistricts)
	w := get(h, DistrictsPath)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/geo+json" || w.Body.String() != string(want) {
		t.Fatalf("GET %s = %d %s, %d bytes; want 200 application/geo+json, the file", DistrictsPath, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
	}
	if again := get(h, DistrictsPath, "If-None-Match", w.Header().Get("ETag")); again.Code != http.StatusNotModified {
		t.Errorf("with its ETag: %d; want 304", again.Code)
	}
	if w.Header().Get("Content-Security-Policy") != CSP {
		t.Errorf("no CSP on the outlines")
	}
	if b := bootOf(t, get(h, "/app/map").Body.String()); b.Districts != DistrictsPath {
		t.Errorf("boot districts = %q; want %q", b.Districts, DistrictsPath)
	}
	if !Owns(DistrictsPath) {
		t.Errorf("Owns(%s) = false", DistrictsPath)
	}

	none := newHandler(t)
	if w := get(none, DistrictsPath); w.Code != 404 {
		t.Errorf("without outlines: GET %s = %d; want 404", DistrictsPath, w.Code)
	}
	if b := bootOf(t, get(none, "/app/map").Body.String()); b.Districts != "" {
		t.Errorf("without outlines, boot districts = %q", b.Districts)
	}
}

// A file that is not a FeatureCollection of polygons stops New, naming the key.
func TestDistrictsRefused(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":    `{"type":`,
		"a feature":   `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[]}}`,
		"points":      `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[104,30]}}]}`,
		"no geometry": `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{}}]}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".geojson")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := New(Options{Districts: p}); err == nil || !strings.Contains(err.Error(), "web.districts_geojson") {
			t.Errorf("%s: New = %v; want an error naming web.districts_geojson", name, err)
		}
	}
	if _, err := New(Options{Districts: filepath.Join(dir, "missing.geojson")}); err == nil {
		t.Error("a missing file: New succeeded")
	}
}

// Each centre of the demo lies inside the outline of its own district, and of no other.
func TestDemoDistrictsHoldTheirCentres(t *testing.T) {
	b, err := readDistricts(demoDistricts)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Features []struct {
			Properties struct{ Name string }
			Geometry   struct{ Coordinates [][][2]float64 }
		}
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	fleet := simulators.NewScenarioFleet(600, 1, simulators.Mix{}, simulators.Reallocation())
	sites := fleet.Registry(time.Now()).Sites
	if len(sites) < 6 {
		t.Fatalf("the demo fleet has %d centres; want 6", len(sites))
	}
	for _, s := range sites {
		var in []string
		for _, f := range fc.Features {
			if insideRing(s.Lon, s.Lat, f.Geometry.Coordinates[0]) {
				in = append(in, f.Properties.Name)
			}
		}
		if len(in) != 1 || in[0] != s.District {
			t.Errorf("%s (%s district) at %v,%v lies in %v", s.ID, s.District, s.Lat, s.Lon, in)
		}
	}
}

// insideRing reports whether (x, y) is inside the closed ring, by ray casting.
func insideRing(x, y float64, ring [][2]float64) bool {
	in := false
	for i := 0; i+1 < len(ring); i++ {
		x1, y1, x2, y2 := ring[i][0], ring[i][1], ring[i+1][0], ring[i+1][1]
		if (y1 > y) != (y2 > y) && x < (x2-x1)*(y-y1)/(y2-y1)+x1 {
			in = !in
		}
	}
	return in
}
