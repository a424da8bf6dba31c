package plan

import (
	"testing"

	"github.com/miekg/dns"
)

// TestBelowCut: records at or below a name with NS records (other than
// the apex) are a delegation's, whatever lies between; the apex's own NS
// make no cut.
func TestBelowCut(t *testing.T) {
	ns := func(owner string) *Node {
		return &Node{RRsets: map[uint16][]dns.RR{dns.TypeNS: {&dns.NS{Hdr: RRHeader(owner, dns.TypeNS, 60), Ns: "ns.example.net."}}}}
	}
	z := &Zone{Name: "gslb.example.test.", Nodes: map[string]*Node{
		"gslb.example.test.":         ns("gslb.example.test."),
		"ns1.gslb.example.test.":     {RRsets: map[uint16][]dns.RR{}},
		"sub.gslb.example.test.":     ns("sub.gslb.example.test."),
		"ns.sub.gslb.example.test.":  {RRsets: map[uint16][]dns.RR{}},
		"a.b.sub.gslb.example.test.": {RRsets: map[uint16][]dns.RR{}},
	}}
	for _, c := range []struct {
		name string
		want bool
	}{
		{"gslb.example.test.", false},
		{"ns1.gslb.example.test.", false},
		{"www.gslb.example.test.", false},
		{"sub.gslb.example.test.", true},
		{"ns.sub.gslb.example.test.", true},
		{"a.b.sub.gslb.example.test.", true},
	} {
		if got := z.BelowCut(c.name); got != c.want {
			t.Errorf("BelowCut(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}
