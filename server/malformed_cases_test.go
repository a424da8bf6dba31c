package server

import (
	"encoding/binary"
	"strings"

	"github.com/miekg/dns"
)

// The malformed packets of the hardening issue, built byte by byte so each
// one is exactly the defect its name says. malformed_test.go sends them
// through the handler and a real listener; corpus_test.go writes them as
// the seed corpus of FuzzAnswerPacket.

// wireOutcome is what the server must do with a packet.
type wireOutcome int

const (
	dropped wireOutcome = iota // no reply at all
	formErr
	badVers // BADVERS, with an OPT in the reply (the extended rcode lives there)
	refused
	notImp
	answered // NOERROR with the same answer as the well-formed query
)

func (o wireOutcome) String() string {
	return [...]string{"dropped", "FORMERR", "BADVERS", "REFUSED", "NOTIMP", "answered"}[o]
}

// malformedID is the ID of every test packet, so a reply's ID is checked.
const malformedID = 0x4a7e

// hdr is a DNS header; flags 0x0100 is a plain query with RD.
func rawHdr(flags, qd, an, ns, ar uint16) []byte {
	b := make([]byte, 12)
	for i, v := range []uint16{malformedID, flags, qd, an, ns, ar} {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	return b
}

// wwwA is the question "www.gslb.example.test. IN A".
var wwwA = cat(labels("www", "gslb", "example", "test"), u16(dns.TypeA), u16(dns.ClassINET))

func labels(ls ...string) []byte {
	var b []byte
	for _, l := range ls {
		b = append(append(b, byte(len(l))), l...)
	}
	return append(b, 0)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// opt is an OPT record: root owner, buffer 1232, the given version, and
// options already encoded.
func opt(version byte, options ...[]byte) []byte {
	rdata := cat(options...)
	return cat([]byte{0}, u16(dns.TypeOPT), u16(1232), []byte{0, version, 0, 0}, u16(uint16(len(rdata))), rdata)
}

// ecs is an ECS option with the address octets as given (not checked).
func ecs(family uint16, source, scope byte, addr ...byte) []byte {
	return cat(u16(dns.EDNS0SUBNET), u16(uint16(4+len(addr))), u16(family), []byte{source, scope}, addr)
}

// goodECS is the ECS of a client in 81.2.69.0/24 (GB in the test database).
var goodECS = ecs(1, 24, 0, 81, 2, 69)

type malformedCase struct {
	name   string // also the corpus file name
	packet []byte
	want   wireOutcome
}

func malformedCases() []malformedCase {
	good := cat(rawHdr(0x0100, 1, 0, 0, 1), wwwA, opt(0, goodECS))
	q := func(flags uint16) []byte { return cat(rawHdr(flags, 1, 0, 0, 1), wwwA, opt(0, goodECS)) }
	withECS := func(o []byte) []byte { return cat(rawHdr(0x0100, 1, 0, 0, 1), wwwA, opt(0, o)) }
	nameThen := func(name []byte) []byte {
		return cat(rawHdr(0x0100, 1, 0, 0, 0), name, u16(dns.TypeA), u16(dns.ClassINET))
	}
	a56 := strings.Repeat("a", 56)
	long := labels(a56, a56, a56, a56, a56, "gslb", "example", "test") // 5 x 57 octets: past 255
	return []malformedCase{
		{"good-query-with-ecs", good, answered},
		{"good-query-no-edns", cat(rawHdr(0x0100, 1, 0, 0, 0), wwwA), answered},
		{"zero-length", nil, dropped},
		{"one-byte", []byte{0x4a}, dropped},
		{"eleven-bytes", rawHdr(0x0100, 1, 0, 0, 0)[:11], dropped},
		{"header-only-no-question", rawHdr(0x0100, 0, 0, 0, 0), formErr},
		{"header-claims-question-none-follows", rawHdr(0x0100, 1, 0, 0, 0), formErr},
		{"qr-set-response", q(0x8100), dropped},
		{"qr-set-response-garbage-after-header", append(rawHdr(0x8000, 7, 7, 7, 7), 0xff, 0xff), dropped},
		{"opcode-notify", q(0x0100 | dns.OpcodeNotify<<11), notImp},
		{"opcode-update", q(0x0100 | dns.OpcodeUpdate<<11), notImp},
		{"opcode-status", q(0x0100 | dns.OpcodeStatus<<11), notImp},
		{"opcode-unassigned-3", q(0x0100 | 3<<11), notImp},
		{"qdcount-2-with-1-question", cat(rawHdr(0x0100, 2, 0, 0, 1), wwwA, opt(0, goodECS)), formErr},
		{"qdcount-0-with-1-question", cat(rawHdr(0x0100, 0, 0, 0, 0), wwwA), formErr},
		{"ancount-1-in-query-nothing-there", cat(rawHdr(0x0100, 1, 1, 0, 0), wwwA), formErr},
		{"nscount-1-in-query-nothing-there", cat(rawHdr(0x0100, 1, 0, 1, 0), wwwA), formErr},
		{"arcount-9-lies", cat(rawHdr(0x0100, 1, 0, 0, 9), wwwA, opt(0, goodECS)), formErr},
		{"arcount-2-one-record", cat(rawHdr(0x0100, 1, 0, 0, 2), wwwA, opt(0, goodECS)), formErr},
		{"arcount-0-opt-present", cat(rawHdr(0x0100, 1, 0, 0, 0), wwwA, opt(0, goodECS)), formErr},
		{"compression-pointer-to-itself", nameThen([]byte{0xc0, 12}), formErr},
		{"compression-pointer-past-end", nameThen([]byte{0xc0, 0xff}), formErr},
		{"compression-pointer-into-header", nameThen([]byte{0xc0, 2}), refused}, // the name "\\000." is no name of ours,
		{"compression-pointer-two-loop", nameThen([]byte{0xc0, 14, 0xc0, 12}), formErr},
		{"label-loop-via-pointer", nameThen([]byte{3, 'w', 'w', 'w', 0xc0, 12}), formErr},
		{"label-length-64-reserved-bits", nameThen(cat([]byte{0x40}, make([]byte, 64), []byte{0})), formErr},
		{"label-runs-past-end", cat(rawHdr(0x0100, 1, 0, 0, 0), []byte{50, 'w', 'w'}), formErr},
		{"name-longer-than-255", nameThen(long), formErr},
		{"question-cut-before-class", cat(rawHdr(0x0100, 1, 0, 0, 0), labels("www", "gslb", "example", "test"), u16(dns.TypeA)), formErr},
		{"opt-truncated-in-rdata", withECS(goodECS)[:len(good)-3], formErr},
		{"opt-truncated-in-header", cat(rawHdr(0x0100, 1, 0, 0, 1), wwwA, opt(0)[:6]), formErr},
		{"opt-in-answer-section", cat(rawHdr(0x0100, 1, 1, 0, 0), wwwA, opt(0, goodECS)), formErr},
		{"opt-in-authority-section", cat(rawHdr(0x0100, 1, 0, 1, 0), wwwA, opt(0, goodECS)), formErr},
		{"two-opt-records", cat(rawHdr(0x0100, 1, 0, 0, 2), wwwA, opt(0, goodECS), opt(0)), formErr},
		{"opt-owner-not-root", cat(rawHdr(0x0100, 1, 0, 0, 1), wwwA, labels("x"), opt(0)[1:]), formErr},
		{"edns-version-1", cat(rawHdr(0x0100, 1, 0, 0, 1), wwwA, opt(1)), badVers},
		{"edns-version-255-with-ecs", cat(rawHdr(0x0100, 1, 0, 0, 1), wwwA, opt(255, goodECS)), badVers},
		{"ecs-family-3", withECS(ecs(3, 24, 0, 81, 2, 69)), formErr},
		{"ecs-family-0-with-prefix", withECS(ecs(0, 24, 0, 81, 2, 69)), formErr},
		{"ecs-ipv4-prefix-33", withECS(ecs(1, 33, 0, 81, 2, 69, 0, 0)), formErr},
		{"ecs-ipv6-prefix-129", withECS(ecs(2, 129, 0, make([]byte, 17)...)), formErr},
		{"ecs-address-bits-beyond-prefix", withECS(ecs(1, 24, 0, 81, 2, 69, 1)), formErr},
		{"ecs-address-bits-beyond-prefix-in-last-octet", withECS(ecs(1, 20, 0, 81, 2, 69)), formErr},
		{"ecs-option-shorter-than-header", withECS(cat(u16(dns.EDNS0SUBNET), u16(2), u16(1))), formErr},
		{"ecs-option-length-past-opt-end", withECS(cat(u16(dns.EDNS0SUBNET), u16(40), u16(1), []byte{24, 0, 81, 2, 69})), formErr},
		{"ecs-two-options", withECS(cat(goodECS, goodECS)), formErr},
		// RFC 7871 6: exactly the octets the source prefix needs, alone
		// and beside other options (ecs_test.go runs these on both paths).
		{"ecs-ipv4-24-with-4-octets", withECS(ecs(1, 24, 0, 81, 2, 69, 0)), formErr},
		{"ecs-ipv4-24-with-2-octets", withECS(ecs(1, 24, 0, 81, 2)), formErr},
		{"ecs-ipv4-24-with-5-octets", withECS(ecs(1, 24, 0, 81, 2, 69, 0, 0)), formErr},
		{"ecs-ipv4-0-with-1-octet", withECS(ecs(1, 0, 0, 0)), formErr},
		{"ecs-ipv6-48-with-7-octets", withECS(ecs(2, 48, 0, 0x20, 0x01, 0x02, 0x18, 0, 1, 0)), formErr},
		{"ecs-ipv6-48-with-5-octets", withECS(ecs(2, 48, 0, 0x20, 0x01, 0x02, 0x18, 0)), formErr},
		{"ecs-4-octets-after-unknown-option", withECS(cat(u16(65001), u16(3), []byte{1, 2, 3}, ecs(1, 24, 0, 81, 2, 69, 0))), formErr},
		{"ecs-2-octets-before-unknown-option", withECS(cat(ecs(1, 24, 0, 81, 2), u16(65001), u16(3), []byte{1, 2, 3})), formErr},
		{"ecs-2-octets-beside-padding", withECS(cat(u16(dns.EDNS0PADDING), u16(4), []byte{0, 0, 0, 0}, ecs(1, 24, 0, 81, 2))), formErr},
		{"ecs-scope-nonzero-in-query", withECS(ecs(1, 24, 16, 81, 2, 69)), answered},
		{"ecs-family-0-prefix-0", withECS(ecs(0, 0, 0)), answered},
		{"unknown-edns-option-ignored", withECS(cat(u16(65001), u16(3), []byte{1, 2, 3}, goodECS)), answered},
		{"class-chaos", cat(rawHdr(0x0100, 1, 0, 0, 0), labels("www", "gslb", "example", "test"), u16(dns.TypeA), u16(dns.ClassCHAOS)), refused},
		{"name-outside-our-zones", cat(rawHdr(0x0100, 1, 0, 0, 0), labels("www", "example", "org"), u16(dns.TypeA), u16(dns.ClassINET)), refused},
		{"tc-and-z-bits-set-in-query", q(0x0100 | 1<<9 | 1<<6), answered},
		{"rcode-bits-set-in-query", q(0x0100 | dns.RcodeNameError), answered},
	}
}
