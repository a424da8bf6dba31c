package geo

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/glb-dns/glb/geo/geotest"
)

// asnRows is a small ASN database: AS64500 holds two IPv4 networks apart
// and one IPv6 network, AS64501 one network between them.
var asnRows = []geotest.ASNRow{
	{Network: netip.MustParsePrefix("81.2.69.0/24"), ASN: 64500, Org: "Example Corp"},
	{Network: netip.MustParsePrefix("81.2.70.0/23"), ASN: 64501, Org: "Other Net"},
	{Network: netip.MustParsePrefix("89.160.20.0/22"), ASN: 64500, Org: "Example Corp"},
	{Network: netip.MustParsePrefix("2a02:ec80::/29"), ASN: 64500, Org: "Example Corp"},
}

func writeASN(t *testing.T, rows []geotest.ASNRow, epoch int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	if err := (geotest.Options{BuildEpoch: epoch}).WriteASNFile(path, rows); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestASNIndex(t *testing.T) {
	d, err := OpenASN(writeASN(t, asnRows, 0))
	if err != nil {
		t.Fatal(err)
	}
	tb := d.Table()
	for _, tc := range []struct {
		asn  uint32
		want []string
	}{
		{64500, []string{"81.2.69.0/24", "89.160.20.0/22", "2a02:ec80::/29"}},
		{64501, []string{"81.2.70.0/23"}},
		{64502, nil},
	} {
		var got []string
		for _, p := range tb.Networks(tc.asn) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Networks(%d) = %v, want %v", tc.asn, got, tc.want)
		}
	}
	for _, tc := range []struct {
		ip      string
		asn     uint32
		org     string
		network string
	}{
		{"81.2.69.7", 64500, "Example Corp", "81.2.69.0/24"},
		{"::ffff:81.2.71.1", 64501, "Other Net", "81.2.70.0/23"},
		{"2a02:ec80::1", 64500, "Example Corp", "2a02:ec80::/29"},
		{"9.9.9.9", 0, "", ""},
	} {
		asn, org, network, ok := tb.LookupASN(netip.MustParseAddr(tc.ip))
		if asn != tc.asn || org != tc.org || ok != (tc.asn != 0) || (ok && network.String() != tc.network) {
			t.Errorf("LookupASN(%s) = %d %q %s %v, want %d %q %s", tc.ip, asn, org, network, ok, tc.asn, tc.org, tc.network)
		}
	}
	var none *ASNDB
	if none.Table() != nil || none.Table().Networks(64500) != nil {
		t.Error("a nil ASNDB has a table")
	}
}

func TestOpenASNErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenASN(fixturePath); !errors.Is(err, ErrNotASN) {
		t.Errorf("OpenASN(City database) = %v, want ErrNotASN", err)
	}
	for _, path := range []string{garbage, filepath.Join(dir, "missing.mmdb")} {
		if _, err := OpenASN(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("OpenASN(%s) = %v, want an error naming the path", path, err)
		}
	}
}

// TestASNReloader: the ASN database follows its file like the City one:
// a bad file is rejected (metric, the table in use stays), a good one is
// taken and OnReload runs, with glb_geoip_asn_* metrics.
func TestASNReloader(t *testing.T) {
	path := writeASN(t, asnRows, 0)
	d, err := OpenASN(path)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reloaded := make(chan struct{}, 10)
	r := NewReloader(d, ReloaderConfig{Interval: time.Millisecond, Metrics: NewASNMetrics(reg), Component: "geoip_asn",
		OnReload: func() { reloaded <- struct{}{} }})
	errc := make(chan error, 1)
	go func() { errc <- r.Run(context.Background()) }()
	defer func() { r.Close(); <-errc }()

	replaceFile(t, path, []byte("garbage"))
	waitUntil(t, "garbage rejected", func() bool { return testutil.ToFloat64(r.m.reloads.WithLabelValues("error")) == 1 })
	if got := len(d.Table().Networks(64500)); got != 3 {
		t.Errorf("after a rejected file: AS64500 has %d networks, want the old 3", got)
	}
	moved := append(slices.Clone(asnRows[:3]), geotest.ASNRow{Network: netip.MustParsePrefix("2a02:ec80::/29"), ASN: 64501})
	epoch := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	if err := (geotest.Options{BuildEpoch: epoch.Unix()}).WriteASNFile(path, moved); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloaded:
	case <-time.After(5 * time.Second):
		t.Fatal("good file not taken")
	}
	if got := len(d.Table().Networks(64501)); got != 2 {
		t.Errorf("after the reload: AS64501 has %d networks, want 2", got)
	}
	if n, err := testutil.GatherAndCount(reg, "glb_geoip_asn_build_timestamp_seconds"); err != nil || n != 1 {
		t.Errorf("glb_geoip_asn_build_timestamp_seconds: %d series, %v", n, err)
	}
	if got := testutil.ToFloat64(r.m.buildTime); got != float64(epoch.Unix()) {
		t.Errorf("build time %v, want %d", got, epoch.Unix())
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}
