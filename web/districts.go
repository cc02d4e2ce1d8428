package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

// DistrictsPath is where the web app serves the deployment's district outlines
// (web.districts_geojson), which the map page draws under the centres. Outlines are geography,
// not patient data: they are served without a session, like the app's own files.
const DistrictsPath = "/geo/districts.geojson"

// maxDistrictsBytes bounds the district file: outlines for a map page, not a survey.
const maxDistrictsBytes = 8 << 20

// readDistricts reads a GeoJSON FeatureCollection of district outlines and checks it: a JSON
// object of type FeatureCollection whose features are Polygons or MultiPolygons, so that a
// wrong file stops start-up rather than leaving an empty map.
func readDistricts(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("web.districts_geojson: %w", err)
	}
	if len(b) > maxDistrictsBytes {
		return nil, fmt.Errorf("web.districts_geojson: %s is %d bytes; at most %d", path, len(b), maxDistrictsBytes)
	}
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type     string `json:"type"`
			Geometry *struct {
				Type string `json:"type"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		return nil, fmt.Errorf("web.districts_geojson: %s is not JSON: %w", path, err)
	}
	if fc.Type != "FeatureCollection" {
		return nil, fmt.Errorf("web.districts_geojson: %s is a %s; want a GeoJSON FeatureCollection", path, strconv.Quote(fc.Type))
	}
	for i, f := range fc.Features {
		if f.Type != "Feature" || f.Geometry == nil || (f.Geometry.Type != "Polygon" && f.Geometry.Type != "MultiPolygon") {
			return nil, fmt.Errorf("web.districts_geojson: %s: feature %d is not a Feature with a Polygon or MultiPolygon geometry", path, i)
		}
	}
	return b, nil
}

// districtsPath is DistrictsPath when there are outlines to serve, else "".
func (h *Handler) districtsPath() string {
	if h.districts == nil {
		return ""
	}
	return DistrictsPath
}

// serveDistricts answers the district outlines, revalidated on every use like the static files.
func (h *Handler) serveDistricts(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "application/geo+json")
	hd.Set("Cache-Control", "no-cache")
	sum := sha256.Sum256(h.districts)
	hd.Set("ETag", `"`+hex.EncodeToString(sum[:12])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.districts))
}
