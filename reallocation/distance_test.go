package reallocation

import (
	"math"
	"testing"
)

func TestDistanceKm(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want                   float64
	}{
		{"same point", 31.23, 121.47, 31.23, 121.47, 0},
		{"one degree of longitude on the equator", 0, 0, 0, 1, EarthRadiusKm * math.Pi / 180},
		{"quarter meridian", 0, 0, 90, 0, EarthRadiusKm * math.Pi / 2},
		{"antipodes", 10, 20, -10, -160, EarthRadiusKm * math.Pi},
		{"Beijing to Shanghai", 39.9042, 116.4074, 31.2304, 121.4737, 1067}, // published ~1,067 km
		{"London to Paris", 51.5074, -0.1278, 48.8566, 2.3522, 343.5},       // published ~343.5 km
		{"across the date line", 0, 179.5, 0, -179.5, EarthRadiusKm * math.Pi / 180},
	}
	for _, tt := range tests {
		got := DistanceKm(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
		if math.Abs(got-tt.want) > 0.005*tt.want+1e-9 {
			t.Errorf("%s: DistanceKm(%v, %v, %v, %v) = %.2f; want %.2f within 0.5%%", tt.name, tt.lat1, tt.lon1, tt.lat2, tt.lon2, got, tt.want)
		}
	}
}
