package geo

import "testing"

func TestDistance(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tolerance        float64 // km
	}{
		{"london to frankfurt", 51.5142, -0.0931, 50.1109, 8.6821, 637, 637 * 0.01},
		{"same point", 51.5142, -0.0931, 51.5142, -0.0931, 0, 0},
		{"antipodes", 0, 0, 0, 180, 20015.1, 1},
		{"pole to pole", 90, 0, -90, 0, 20015.1, 1},
		{"antimeridian is short", 0, 179.5, 0, -179.5, 111.2, 0.5},
		{"symmetric", 50.1109, 8.6821, 51.5142, -0.0931, 637, 637 * 0.01},
		{"sydney to sao paulo", -33.8688, 151.2093, -23.5475, -46.6361, 13360, 13360 * 0.01},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Distance(tc.lat1, tc.lon1, tc.lat2, tc.lon2)
			if !approx(got, tc.want, tc.tolerance) {
				t.Errorf("Distance = %.3f km, want %.1f ± %.1f", got, tc.want, tc.tolerance)
			}
		})
	}
}
