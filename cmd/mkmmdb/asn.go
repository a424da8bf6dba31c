package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/glb-dns/glb/geo/geotest"
)

// buildFromASNCSV writes an ASN database (GeoLite2-ASN layout:
// autonomous_system_number, autonomous_system_organization) from range
// CSVs, comma-separated in paths: rows of start,end,asn,org, as
// ip-location-db publishes them on npm (@ip-location-db/asn). A range
// becomes the fewest CIDRs that cover it exactly. Rows with ASN 0 (no
// AS) are left out, and so are ranges mmdbwriter refuses (reserved
// networks, the IPv4 aliases), which real databases leave out too.
func buildFromASNCSV(paths string, w io.Writer, stderr io.Writer) error {
	tree, err := geotest.Options{
		DatabaseType: "GLB-Converted-ASN",
		Description:  "glb ASN database converted by cmd/mkmmdb -asn-csv",
	}.NewASNTree()
	if err != nil {
		return err
	}
	var kept, skipped int
	for _, path := range strings.Split(paths, ",") {
		k, s, err := insertASNCSV(tree, path)
		if err != nil {
			return err
		}
		kept, skipped = kept+k, skipped+s
	}
	fmt.Fprintf(stderr, "mkmmdb: %d networks written, %d skipped (no AS, reserved or aliased)\n", kept, skipped)
	return tree.Write(w)
}

// insertASNCSV inserts the ranges of one CSV file.
func insertASNCSV(tree *geotest.ASNTree, path string) (kept, skipped int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("open asn csv: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 4
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return kept, skipped, nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("read %q: %w", path, err)
		}
		start, err1 := netip.ParseAddr(rec[0])
		end, err2 := netip.ParseAddr(rec[1])
		asn, err3 := strconv.ParseUint(rec[2], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil || start.Is4() != end.Is4() || end.Less(start) {
			return 0, 0, fmt.Errorf("%s:%d: want start,end,asn,org with start <= end of one family: %q", path, line, rec)
		}
		if asn == 0 {
			skipped++
			continue
		}
		for _, p := range rangePrefixes(start, end) {
			if err := tree.Insert(geotest.ASNRow{Network: p, ASN: uint32(asn), Org: rec[3]}); err != nil {
				skipped++
				continue
			}
			kept++
		}
	}
}

// rangePrefixes returns the fewest CIDRs that cover start..end exactly:
// from start, each time the widest prefix that starts there and ends
// inside the range.
func rangePrefixes(start, end netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for {
		bits := start.BitLen()
		// Widen while start is the first address of the wider prefix
		// and its last address is still inside the range.
		for bits > 0 {
			p := netip.PrefixFrom(start, bits-1).Masked()
			if p.Addr() != start || end.Less(lastAddr(p)) {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(start, bits)
		out = append(out, p)
		last := lastAddr(p)
		if last == end {
			return out
		}
		start = last.Next()
	}
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
