package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestAnswers runs named query cases through the handler: client address or
// ECS, qname and qtype in; rcode, sections and ECS scope out.
func TestAnswers(t *testing.T) {
	drainEUWest := map[string]any{"regions/eu-west/weight": "0"}
	drainAPI := map[string]any{"regions/eu-west/weight": "0", "regions/us-east/weight": "0"}
	withENT := map[string]any{"zones/gslb.example.test/records/a.deep/TXT": map[string]any{"values": []string{"hi"}}}
	// SERIAL is replaced by each case's serial, which its edits move.
	soa := func(ttl int) string {
		return fmt.Sprintf("gslb.example.test. %d IN SOA ns1.gslb.example.test. hostmaster.example.test. SERIAL 3600 600 86400 30", ttl)
	}
	twoQuestions := mkQuery("www."+testZone, dns.TypeA, "")
	twoQuestions.Question = append(twoQuestions.Question, twoQuestions.Question[0])
	twoOPT := mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24")
	twoOPT.Extra = append(twoOPT.Extra, twoOPT.Extra[0])
	badVers := mkQuery("www."+testZone, dns.TypeA, "")
	badVers.SetEdns0(1232, false)
	badVers.IsEdns0().SetVersion(1)
	notify := mkQuery(testZone, dns.TypeSOA, "")
	notify.Opcode = dns.OpcodeNotify
	update := mkQuery(testZone, dns.TypeSOA, "")
	update.Opcode = dns.OpcodeUpdate
	chaos := mkQuery("version.bind.", dns.TypeTXT, "")
	chaos.Question[0].Qclass = dns.ClassCHAOS
	ecsZero := mkQuery("www."+testZone, dns.TypeA, "0.0.0.0/0")

	cases := []struct {
		name   string
		edits  map[string]any
		remote string
		q      *dns.Msg
		rcode  int
		answer []string
		ns     []string
		extra  []string
		scope  int // -1: no ECS option in the reply
	}{
		{name: "london gets eu-west", q: mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24"), scope: 24,
			answer: []string{"www.gslb.example.test. 30 IN A 198.51.100.10", "www.gslb.example.test. 30 IN A 198.51.100.11"}},
		{name: "frankfurt gets eu-central", q: mkQuery("www."+testZone, dns.TypeA, "91.198.174.0/24"), scope: 24,
			answer: []string{"www.gslb.example.test. 30 IN A 198.51.100.20"}},
		{name: "milton WA gets us-west", q: mkQuery("www."+testZone, dns.TypeA, "216.160.83.0/24"), scope: 24,
			answer: []string{"www.gslb.example.test. 30 IN A 192.0.2.20"}},
		{name: "ashburn gets us-east", q: mkQuery("www."+testZone, dns.TypeA, "67.43.156.0/24"), scope: 24,
			answer: []string{"www.gslb.example.test. 30 IN A 192.0.2.10", "www.gslb.example.test. 30 IN A 192.0.2.11"}},
		{name: "tokyo /16 network caps scope at 16", q: mkQuery("www."+testZone, dns.TypeA, "133.242.1.0/24"), scope: 16,
			answer: []string{"www.gslb.example.test. 30 IN A 203.0.113.10"}},
		{name: "singapore gets ap-southeast", q: mkQuery("www."+testZone, dns.TypeA, "202.196.224.0/24"), scope: 24,
			answer: []string{"www.gslb.example.test. 30 IN A 203.0.113.20"}},
		{name: "sao paulo gets sa-east", q: mkQuery("www."+testZone, dns.TypeA, "200.160.0.0/24"), scope: 20,
			answer: []string{"www.gslb.example.test. 30 IN A 192.0.2.30"}},
		{name: "sao paulo AAAA skips IPv4-only sa-east", q: mkQuery("www."+testZone, dns.TypeAAAA, "200.160.0.0/24"), scope: 20,
			answer: []string{"www.gslb.example.test. 30 IN AAAA 2001:db8:1::10", "www.gslb.example.test. 30 IN AAAA 2001:db8:1::11"}},
		{name: "frankfurt IPv6 AAAA", q: mkQuery("www."+testZone, dns.TypeAAAA, "2a02:cf40:1::/48"), scope: 29,
			answer: []string{"www.gslb.example.test. 30 IN AAAA 2001:db8:4::20"}},
		{name: "source prefix caps scope", q: mkQuery("www."+testZone, dns.TypeAAAA, "2a02:cf40::/28"), scope: 28,
			answer: []string{"www.gslb.example.test. 30 IN AAAA 2001:db8:4::20"}},
		{name: "tokyo IPv6", q: mkQuery("www."+testZone, dns.TypeAAAA, "2001:218:1::/48"), scope: 32,
			answer: []string{"www.gslb.example.test. 30 IN AAAA 2001:db8:5::10"}},
		// 203.0.0.0/8 holds no located network in the test database, so the
		// whole /8 gets the same fallback plan: the scope is the merged /8,
		// wider than the database's own /24 record.
		{name: "unknown ECS network falls back to weighted", q: mkQuery("www."+testZone, dns.TypeA, "203.0.113.0/24"), scope: 8,
			answer: []string{"www.gslb.example.test. 30 IN A 192.0.2.10", "www.gslb.example.test. 30 IN A 192.0.2.11"}},
		{name: "loopback without ECS falls back", remote: "127.0.0.1", q: mkQuery("www."+testZone, dns.TypeA, ""), scope: -1,
			answer: []string{"www.gslb.example.test. 30 IN A 192.0.2.10", "www.gslb.example.test. 30 IN A 192.0.2.11"}},
		{name: "source address without ECS", remote: "81.2.69.160", q: mkQuery("www."+testZone, dns.TypeA, ""), scope: -1,
			answer: []string{"www.gslb.example.test. 30 IN A 198.51.100.10", "www.gslb.example.test. 30 IN A 198.51.100.11"}},
		{name: "ECS source 0 uses the source address, scope 0", remote: "81.2.69.160", q: ecsZero, scope: 0,
			answer: []string{"www.gslb.example.test. 30 IN A 198.51.100.10", "www.gslb.example.test. 30 IN A 198.51.100.11"}},
		{name: "answers and ttl from the name", q: mkQuery("api."+testZone, dns.TypeA, "81.2.69.0/24"), scope: 24,
			answer: []string{"api.gslb.example.test. 20 IN A 198.51.100.10"}},
		{name: "drained region is skipped", edits: drainEUWest, q: mkQuery("www."+testZone, dns.TypeA, "81.2.69.0/24"), scope: 24,
			answer: []string{"www.gslb.example.test. 30 IN A 198.51.100.20"}},
		{name: "one candidate left: answer holds for everyone", edits: map[string]any{"regions/eu-west/weight": "0"},
			q: mkQuery("api."+testZone, dns.TypeA, "81.2.69.0/24"), scope: 0,
			answer: []string{"api.gslb.example.test. 20 IN A 192.0.2.10"}},
		{name: "all drained is NODATA", edits: drainAPI, q: mkQuery("api."+testZone, dns.TypeA, "81.2.69.0/24"), scope: 0,
			ns: []string{soa(30)}},
		{name: "apex SOA", q: mkQuery(testZone, dns.TypeSOA, ""), scope: -1, answer: []string{soa(3600)}},
		{name: "apex NS with glue", q: mkQuery(testZone, dns.TypeNS, ""), scope: -1,
			answer: []string{"gslb.example.test. 3600 IN NS ns1.gslb.example.test.", "gslb.example.test. 3600 IN NS ns2.example.net."},
			extra:  []string{"ns1.gslb.example.test. 3600 IN A 192.0.2.53", "ns1.gslb.example.test. 3600 IN AAAA 2001:db8::53"}},
		{name: "glue name answers A", q: mkQuery("ns1."+testZone, dns.TypeA, ""), scope: -1,
			answer: []string{"ns1.gslb.example.test. 3600 IN A 192.0.2.53"}},
		{name: "apex TXT", q: mkQuery(testZone, dns.TypeTXT, ""), scope: -1,
			answer: []string{`gslb.example.test. 300 IN TXT "v=spf1 -all"`}},
		{name: "apex MX", q: mkQuery(testZone, dns.TypeMX, ""), scope: -1,
			answer: []string{"gslb.example.test. 300 IN MX 10 mail.gslb.example.test."}},
		{name: "CAA with a semicolon in its value", edits: map[string]any{
			"zones/gslb.example.test/records/@/CAA": map[string]any{"values": []string{`0 issue "ca.example.net; account=1"`}}},
			q: mkQuery(testZone, dns.TypeCAA, ""), scope: -1,
			answer: []string{`gslb.example.test. 300 IN CAA 0 issue "ca.example.net; account=1"`}},
		{name: "static A", q: mkQuery("mail."+testZone, dns.TypeA, ""), scope: -1,
			answer: []string{"mail.gslb.example.test. 300 IN A 192.0.2.25"}},
		{name: "NXDOMAIN with SOA", q: mkQuery("nope."+testZone, dns.TypeA, ""), rcode: dns.RcodeNameError, scope: -1,
			ns: []string{soa(30)}},
		{name: "NODATA at a GSLB name", q: mkQuery("www."+testZone, dns.TypeTXT, ""), scope: -1, ns: []string{soa(30)}},
		{name: "empty non-terminal is NODATA", edits: withENT, q: mkQuery("deep."+testZone, dns.TypeA, ""), scope: -1,
			ns: []string{soa(30)}},
		{name: "CNAME into a GSLB name", q: mkQuery("docs."+testZone, dns.TypeA, "81.2.69.0/24"), scope: 24,
			answer: []string{"docs.gslb.example.test. 300 IN CNAME www.gslb.example.test.",
				"www.gslb.example.test. 30 IN A 198.51.100.10", "www.gslb.example.test. 30 IN A 198.51.100.11"}},
		{name: "CNAME out of our zones", q: mkQuery("status."+testZone, dns.TypeAAAA, ""), scope: -1,
			answer: []string{"status.gslb.example.test. 300 IN CNAME status.example.net."}},
		{name: "CNAME asked for itself", q: mkQuery("docs."+testZone, dns.TypeCNAME, ""), scope: -1,
			answer: []string{"docs.gslb.example.test. 300 IN CNAME www.gslb.example.test."}},
		// The fast path points the answers' owner at the question, so they
		// keep the case the resolver asked in (DNS 0x20 checks it).
		{name: "names are case-insensitive", q: mkQuery("WwW.GSLB.Example.TEST", dns.TypeA, "81.2.69.0/24"), scope: 24,
			answer: []string{"WwW.GSLB.Example.TEST. 30 IN A 198.51.100.10", "WwW.GSLB.Example.TEST. 30 IN A 198.51.100.11"}},
		{name: "ANY gets the RFC 8482 answer", q: mkQuery("www."+testZone, dns.TypeANY, ""), scope: -1,
			answer: []string{`www.gslb.example.test. 30 IN HINFO "RFC8482" ""`}},
		{name: "other zone is REFUSED", q: mkQuery("www.example.com", dns.TypeA, ""), rcode: dns.RcodeRefused, scope: -1},
		{name: "zone transfer is REFUSED", q: mkQuery(testZone, dns.TypeAXFR, ""), rcode: dns.RcodeRefused, scope: -1},
		{name: "CHAOS class is REFUSED", q: chaos, rcode: dns.RcodeRefused, scope: -1},
		{name: "NOTIFY is NOTIMP", q: notify, rcode: dns.RcodeNotImplemented, scope: -1},
		{name: "UPDATE is NOTIMP", q: update, rcode: dns.RcodeNotImplemented, scope: -1},
		{name: "two questions are FORMERR", q: twoQuestions, rcode: dns.RcodeFormatError, scope: -1},
		{name: "two OPT records are FORMERR", q: twoOPT, rcode: dns.RcodeFormatError, scope: -1},
		{name: "EDNS version 1 is BADVERS", q: badVers, rcode: dns.RcodeBadVers, scope: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestHandler(t, tc.edits)
			remote := tc.remote
			if remote == "" {
				remote = "127.0.0.1"
			}
			m := ask(t, h, remote, tc.q)
			if m.Rcode != tc.rcode {
				t.Fatalf("rcode = %s, want %s\n%s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode], m)
			}
			if m.Id != tc.q.Id || !m.Response {
				t.Errorf("reply id %d response %v, want id %d and QR set", m.Id, m.Response, tc.q.Id)
			}
			ours := tc.rcode == dns.RcodeSuccess || tc.rcode == dns.RcodeNameError
			if m.Authoritative != ours {
				t.Errorf("AA = %v, want %v", m.Authoritative, ours)
			}
			for _, sec := range []struct {
				what      string
				got, want []string
			}{{"answer", rrText(m.Answer), tc.answer}, {"authority", rrText(m.Ns), tc.ns}, {"additional", rrText(m.Extra), tc.extra}} {
				serial := fmt.Sprint(devState(t, tc.edits).Zones["gslb.example.test"].Serial)
				var want []string
				for _, w := range sec.want {
					want = append(want, strings.ReplaceAll(w, "SERIAL", serial))
				}
				slices.Sort(want)
				if !slices.Equal(sec.got, want) && (len(sec.got) > 0 || len(want) > 0) {
					t.Errorf("%s section:\n got %q\nwant %q", sec.what, sec.got, want)
				}
			}
			if got := replyScope(m); got != tc.scope {
				t.Errorf("ECS scope = %d, want %d", got, tc.scope)
			}
		})
	}
}
