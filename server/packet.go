package server

import (
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/internal/crash"

	"github.com/glb-dns/glb/server/dnswire"
)

// AnswerPacket answers the DNS message in pkt, received from remote over UDP
// (tcp false) or TCP, and appends the reply to dst. ok is false when the
// packet gets no reply: too short for a header, or itself a response.
//
// The common query — one question for a GSLB name, A or AAAA, at most an
// OPT record with ECS — is parsed and answered straight from bytes, without
// building a dns.Msg (fast.go). Everything else goes through the DNS
// library and the general path (answer), which gives identical answers;
// a differential test holds the two together.
//
// UDP answers then pass response rate limiting (limit.RRL), when it is on.
func (h *Handler) AnswerPacket(dst, pkt []byte, remote netip.AddrPort, tcp bool) ([]byte, bool) {
	start := h.now()
	q := query{transport: "udp", zone: "none", remote: remote.Addr().Unmap(), remotePort: remote.Port(), observe: h.observes()}
	if tcp {
		q.transport = "tcp"
	}
	reply, ok := h.answerPacket(dst, pkt, &q, start, tcp)
	if ok && !tcp && h.rrl != nil {
		return h.rrl.Limit(dst, reply, q.remote, q.zone, q.cookie.Valid, start)
	}
	return reply, ok
}

// ServeDNS makes Handler a dns.Handler, for a miekg/dns server or mux: a
// thin adapter that packs r and answers through AnswerPacket, the one
// entry point. glbd's own listeners (Server) call AnswerPacket directly.
func (h *Handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	pkt, err := r.Pack()
	if err != nil {
		return
	}
	var remote netip.AddrPort
	tcp := false
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		remote = a.AddrPort()
	case *net.TCPAddr:
		remote, tcp = a.AddrPort(), true
	}
	if out, ok := h.AnswerPacket(nil, pkt, remote, tcp); ok {
		_, _ = w.Write(out) // an error means the client went away
	}
}

func (h *Handler) answerPacket(dst, pkt []byte, q *query, start time.Time, tcp bool) (reply []byte, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			crash.Record(h.log, h.metrics.panics, "panic answering query", v)
			reply, ok = dnswire.ServFail(dst, pkt)
		}
	}()
	if out, handled := h.fastAnswer(dst, pkt, q); handled {
		if fastHook != nil {
			fastHook()
		}
		h.finish(q, start, dns.RcodeSuccess)
		return out, true
	}

	// The general path, with the DNS library's own rules for what to drop
	// or refuse before a handler sees the message (server.go's serveDNS).
	dh, ok := dnswire.HeaderOf(pkt)
	if !ok || dh.Flags&dnswire.FlagQR != 0 {
		return dst, false
	}
	req := new(dns.Msg)
	q.req, q.pkt = req, pkt
	switch dns.DefaultMsgAcceptFunc(dns.Header{Id: dh.ID, Bits: dh.Flags, Qdcount: dh.QD, Ancount: dh.AN, Nscount: dh.NS, Arcount: dh.AR}) {
	case dns.MsgIgnore:
		return dst, false
	case dns.MsgReject:
		return h.reject(dst, pkt, q, dns.RcodeFormatError)
	case dns.MsgRejectNotImplemented:
		return h.reject(dst, pkt, q, dns.RcodeNotImplemented)
	}
	// The library forgives counts that lie, records cut short and bytes
	// after the last record; an authoritative server should not guess what
	// such a message meant.
	if err := req.Unpack(pkt); err != nil || !dnswire.ExactSections(pkt, dh) {
		return h.reject(dst, pkt, q, dns.RcodeFormatError)
	}
	h.answer(q)
	if !tcp {
		q.m.Truncate(q.udpSize)
	}
	out, err := q.m.PackBuffer(dst[len(dst):cap(dst)])
	if err != nil {
		return dnswire.ServFail(dst, pkt)
	}
	h.finish(q, start, q.m.Rcode)
	return append(dst, out...), true
}

// fastHook, when set (by tests, before any query), is called for every
// query the fast path answers.
var fastHook func()

// reject answers a message the library would not hand to a handler: the
// header echoed with the rcode, and no sections.
func (h *Handler) reject(dst, pkt []byte, q *query, rcode int) ([]byte, bool) {
	dh, _ := dnswire.HeaderOf(pkt)
	m := new(dns.Msg)
	m.Id, m.Opcode, m.RecursionDesired = dh.ID, int(dh.Flags>>11&0xf), dh.Flags&dnswire.FlagRD != 0
	m.Response, m.Rcode = true, rcode
	if rcode == dns.RcodeNotImplemented { // a well-formed question is echoed
		if r := new(dns.Msg); r.Unpack(pkt) == nil && len(r.Question) == 1 && dnswire.ExactSections(pkt, dh) {
			m.Question = r.Question
		}
	}
	q.m = m
	out, err := m.PackBuffer(dst[len(dst):cap(dst)])
	if err != nil {
		return dst, false
	}
	h.metrics.queries.WithLabelValues(q.zone, "other", rcodeLabel(rcode), q.transport).Inc()
	return append(dst, out...), true
}
