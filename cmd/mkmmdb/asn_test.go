package main

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/glb-dns/glb/geo"
)

func TestRangePrefixes(t *testing.T) {
	for _, tc := range []struct {
		start, end string
		want       string
	}{
		{"1.0.0.0", "1.0.0.255", "1.0.0.0/24"},
		{"1.0.4.0", "1.0.7.255", "1.0.4.0/22"},
		{"1.0.0.1", "1.0.0.6", "1.0.0.1/32 1.0.0.2/31 1.0.0.4/31 1.0.0.6/32"},
		{"0.0.0.0", "255.255.255.255", "0.0.0.0/0"},
		{"255.255.255.254", "255.255.255.255", "255.255.255.254/31"},
		{"2001:4:112::", "2001:4:112:ffff:ffff:ffff:ffff:ffff", "2001:4:112::/48"},
	} {
		var got []string
		for _, p := range rangePrefixes(netip.MustParseAddr(tc.start), netip.MustParseAddr(tc.end)) {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s-%s: %v, want %s", tc.start, tc.end, got, tc.want)
		}
	}
}

// TestRunASNCSV builds an ASN database from range CSVs shaped like
// ip-location-db's and reads it back with geo.OpenASN.
func TestRunASNCSV(t *testing.T) {
	dir := t.TempDir()
	v4, v6, out := filepath.Join(dir, "v4.csv"), filepath.Join(dir, "v6.csv"), filepath.Join(dir, "asn.mmdb")
	write := func(path, data string) {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(v4, "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n1.0.4.0,1.0.4.5,38803,Gtelecom Pty Ltd\n1.0.8.0,1.0.8.255,0,\n")
	write(v6, "2001:4:112::,2001:4:112:ffff:ffff:ffff:ffff:ffff,112,DNS-OARC\n2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project\n") // the first inside the Teredo alias: skipped
	if err := run([]string{"-asn-csv", v4 + "," + v6, "-out", out}, io.Discard); err != nil {
		t.Fatal(err)
	}
	d, err := geo.OpenASN(out)
	if err != nil {
		t.Fatal(err)
	}
	tb := d.Table()
	var nets []string
	for _, p := range tb.Networks(38803) {
		nets = append(nets, p.String())
	}
	if !slices.Equal(nets, []string{"1.0.4.0/30", "1.0.4.4/31"}) {
		t.Errorf("AS38803 networks %v", nets)
	}
	if asn, org, _, ok := tb.LookupASN(netip.MustParseAddr("1.0.0.9")); !ok || asn != 13335 || org != "Cloudflare, Inc." {
		t.Errorf("1.0.0.9: %d %q %v", asn, org, ok)
	}
	if asn, _, _, ok := tb.LookupASN(netip.MustParseAddr("2001:200:1b9::1")); !ok || asn != 2500 {
		t.Errorf("2001:200:1b9::1: %d %v", asn, ok)
	}
	if _, _, _, ok := tb.LookupASN(netip.MustParseAddr("1.0.8.1")); ok {
		t.Error("an ASN 0 row was written")
	}
	write(v4, "1.0.0.0,nope,1,x\n")
	if err := run([]string{"-asn-csv", v4, "-out", out}, io.Discard); err == nil || !strings.Contains(err.Error(), "v4.csv:1") {
		t.Errorf("bad row: %v, want an error naming file and line", err)
	}
}
