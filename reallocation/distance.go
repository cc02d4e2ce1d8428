package reallocation

import "math"

// EarthRadiusKm is the mean Earth radius (IUGG), the usual sphere for great-circle distances.
const EarthRadiusKm = 6371.0088

// Centre is a community health centre's position.
type Centre struct {
	ID       string
	Lat, Lon float64 // degrees
}

// DistanceKm is the great-circle distance between two points in degrees, by the haversine
// formula, which stays accurate for short distances.
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ, dλ := (lat2-lat1)*rad, (lon2-lon1)*rad
	s := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * EarthRadiusKm * math.Asin(math.Sqrt(min(s, 1)))
}

// Distance is the great-circle distance between two centres in km.
func (c Centre) Distance(o Centre) float64 { return DistanceKm(c.Lat, c.Lon, o.Lat, o.Lon) }
