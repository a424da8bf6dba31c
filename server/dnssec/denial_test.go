package dnssec

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// TestDenial checks the compact denial records on the wire: owner the
// query name, next name its immediate successor, and a bitmap that tells
// a missing name (NXNAME) from a missing type (the types the name has).
func TestDenial(t *testing.T) {
	tests := []struct {
		name     string
		nsec     *dns.NSEC
		wantType []uint16
	}{
		{"missing name", DenyName("nope.gslb.example.com.", 60), []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME}},
		{"missing type at a GSLB name", DenyType("www.gslb.example.com.", 60, []uint16{dns.TypeAAAA, dns.TypeA}),
			[]uint16{dns.TypeA, dns.TypeAAAA, dns.TypeRRSIG, dns.TypeNSEC}},
		{"empty non-terminal", DenyType("b.gslb.example.com.", 60, nil), []uint16{dns.TypeRRSIG, dns.TypeNSEC}},
		{"apex", DenyType("gslb.example.com.", 60, []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY, dns.TypeNS}),
			[]uint16{dns.TypeNS, dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.Ns = []dns.RR{tc.nsec}
			b, err := m.Pack()
			must(t, err)
			must(t, m.Unpack(b))
			got := m.Ns[0].(*dns.NSEC)
			owner := tc.nsec.Hdr.Name
			if got.Hdr.Name != owner || got.NextDomain != "\\000."+owner || got.Hdr.Ttl != 60 {
				t.Errorf("NSEC %s; want owner %s, next \\000.%s, TTL 60", got, owner, owner)
			}
			if !slices.Equal(got.TypeBitMap, tc.wantType) {
				t.Errorf("bitmap %v, want %v", got.TypeBitMap, tc.wantType)
			}
		})
	}
}

// TestNameTypes checks the bitmap's truth about GSLB names.
func TestNameTypes(t *testing.T) {
	v4up := RegionFamilies{V4: true, Up: true}
	v6up := RegionFamilies{V6: true, Up: true}
	v6down := RegionFamilies{V6: true}
	both := RegionFamilies{V4: true, V6: true}
	tests := []struct {
		name    string
		regions []RegionFamilies
		static  []uint16
		want    []uint16
	}{
		{"v4 and v6 regions up", []RegionFamilies{v4up, v6up}, nil, []uint16{dns.TypeA, dns.TypeAAAA}},
		{"the v6 region down: no AAAA answered", []RegionFamilies{v4up, v6down}, nil, []uint16{dns.TypeA}},
		{"all down: fail open to all", []RegionFamilies{v6down, both}, nil, []uint16{dns.TypeA, dns.TypeAAAA}},
		{"static records too", []RegionFamilies{v4up}, []uint16{dns.TypeTXT, dns.TypeMX, dns.TypeTXT}, []uint16{dns.TypeA, dns.TypeMX, dns.TypeTXT}},
		{"static only", nil, []uint16{dns.TypeCNAME}, []uint16{dns.TypeCNAME}},
	}
	for _, tc := range tests {
		if got := NameTypes(tc.regions, tc.static...); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDenialRcodes checks the CO flag and the NXNAME query.
func TestDenialRcodes(t *testing.T) {
	plain := new(dns.Msg).SetEdns0(1232, true).IsEdns0()
	co := new(dns.Msg).SetEdns0(1232, true).IsEdns0()
	co.SetCo(true)
	for _, tc := range []struct {
		name   string
		opt    *dns.OPT
		rcode  int
		wantCo bool
	}{
		{"no EDNS", nil, dns.RcodeSuccess, false},
		{"DO without CO", plain, dns.RcodeSuccess, false},
		{"CO set", co, dns.RcodeNameError, true},
	} {
		if rc, c := DenialRcode(tc.opt); rc != tc.rcode || c != tc.wantCo {
			t.Errorf("%s: rcode %d co %v, want %d %v", tc.name, rc, c, tc.rcode, tc.wantCo)
		}
	}
	if rc, ok := QueryRcode(dns.TypeNXNAME); ok || rc != dns.RcodeFormatError {
		t.Errorf("NXNAME query: rcode %d ok %v, want FORMERR", rc, ok)
	}
	if _, ok := QueryRcode(dns.TypeA); !ok {
		t.Error("A query refused")
	}
}
