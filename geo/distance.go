package geo

import "math"

// earthRadiusKm is the IUGG mean Earth radius. The spherical model is off by
// up to ~0.5 % against the ellipsoid, far below what ranking regions needs.
const earthRadiusKm = 6371.0088

// Distance returns the great-circle distance in kilometres between two
// points given in degrees, using the haversine formula, which stays accurate
// for the short distances where the law of cosines loses precision.
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	phi1, phi2 := lat1*rad, lat2*rad
	dPhi := (lat2 - lat1) * rad
	dLambda := (lon2 - lon1) * rad
	h := math.Sin(dPhi/2)*math.Sin(dPhi/2) + math.Cos(phi1)*math.Cos(phi2)*math.Sin(dLambda/2)*math.Sin(dLambda/2)
	// Rounding can push h a hair above 1 for antipodal points, and Asin
	// would return NaN.
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(min(h, 1)))
}
