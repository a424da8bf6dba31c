package geo

import (
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestASNMeasure loads a real ASN database (GLB_ASN_DB=path, e.g. one
// built by mkmmdb -asn-csv from ip-location-db's CSVs) and reports what
// a load costs: time, networks, ASNs and the heap the table keeps. Skipped
// without the variable: the data is never checked in.
func TestASNMeasure(t *testing.T) {
	path := os.Getenv("GLB_ASN_DB")
	if path == "" {
		t.Skip("GLB_ASN_DB not set")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	d, err := OpenASN(path)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	tb := d.Table()
	t.Logf("%s: loaded in %s, %d networks, %d ASNs, heap kept %.1f MB", path, took.Round(time.Millisecond), tb.Len(), tb.ASNs(),
		float64(after.HeapAlloc-before.HeapAlloc)/1e6)
	for _, ip := range []string{"1.1.1.1", "8.8.8.8", "81.2.69.160"} {
		asn, org, network, ok := tb.LookupASN(netip.MustParseAddr(ip))
		t.Logf("%s: AS%d %q %s %v; the AS has %d networks", ip, asn, org, network, ok, len(tb.Networks(asn)))
	}
	runtime.KeepAlive(d)
}
