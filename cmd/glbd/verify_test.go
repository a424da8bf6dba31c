package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestBackgroundVerification: glbd answers before its GeoIP database is
// fully verified, verifies it in the background, and says so on /readyz
// and glb_geoip_verified. A database that fails the full verification
// (here a city name that is not UTF-8, which the quick check at start-up
// does not read) keeps answering but makes /readyz 503 with the reason.
func TestBackgroundVerification(t *testing.T) {
	good, err := os.ReadFile(testDB)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(good)
	copy(bad[bytes.Index(bad, []byte("London")):], "\xff\xfe")
	srv := seededEtcd(t)
	for _, tc := range []struct {
		name     string
		file     []byte
		code     int
		verified string
		gauge    float64
	}{
		{"good", good, http.StatusOK, "yes", 1},
		{"fails verification", bad, http.StatusServiceUnavailable, "failed", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "city.mmdb")
			if err := os.WriteFile(path, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			a := startApp(t, Config{Etcd: srv.Endpoints(), GeoIP: path})
			waitFor(t, 10*time.Second, "verification done", func() bool { _, rz := readyz(t, a); return rz.GeoIP.Verified != "pending" })
			code, rz := readyz(t, a)
			if code != tc.code || rz.GeoIP.Verified != tc.verified {
				t.Errorf("/readyz %d %+v; want %d, verified %q", code, rz, tc.code, tc.verified)
			}
			if failed := tc.verified == "failed"; failed != slices.ContainsFunc(rz.Reasons, func(r string) bool { return strings.Contains(r, "verification") }) {
				t.Errorf("/readyz reasons %q; want one about the verification: %v", rz.Reasons, failed)
			}
			if got := metricValue(t, a, "glb_geoip_verified"); got != tc.gauge {
				t.Errorf("glb_geoip_verified = %v, want %v", got, tc.gauge)
			}
			// Either way it answers from the database, London from eu-west.
			if got := addrs(ask(t, "udp", a.dnsAddr(), "www."+zone, dns.TypeA, londonECS)); got != londonEU {
				t.Errorf("London got %q, want %q", got, londonEU)
			}
		})
	}
}
