package server

import (
	"net"
	"net/netip"
	"strings"
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
	return h.answerFrom(dst, pkt, remote, tcp, nil, h.now())
}

// answerFrom answers pkt, received at now, then rate-limits a UDP reply;
// r is the UDP reader whose batch pkt is in (batch.go), nil for a packet
// answered alone.
func (h *Handler) answerFrom(dst, pkt []byte, remote netip.AddrPort, tcp bool, r *reader, now time.Time) ([]byte, bool) {
	// Fields set one by one: a composite literal of this size is built in a
	// temporary and copied over, twice the stores.
	var q query
	q.transport, q.zone, q.reader = "udp", "none", r
	q.remote, q.remotePort, q.observe = remote.Addr().Unmap(), remote.Port(), h.observes()
	if tcp {
		q.transport, q.tcp = "tcp", true
	}
	reply, ok := h.answerPacket(dst, pkt, &q, now, tcp)
	if ok && !tcp && h.rrl != nil {
		return h.rrl.Limit(dst, reply, q.remote, q.zone, q.cookie.Valid, now)
	}
	return reply, ok
}

func (h *Handler) answerPacket(dst, pkt []byte, q *query, start time.Time, tcp bool) (reply []byte, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			crash.Record(h.log, h.metrics.panics, "panic answering query", v)
			reply, ok = dnswire.ServFail(dst, pkt)
		}
	}()
	if out, handled := h.fastAnswer(dst, pkt, q, start); handled {
		if fastHook != nil {
			fastHook()
		}
		h.finish(q, start, q.fastRcode)
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

// answer builds q.m, the reply to q.req.
func (h *Handler) answer(q *query) {
	r := q.req
	q.m = new(dns.Msg)
	m := q.m
	m.SetReply(r)
	m.Compress = true
	q.udpSize = dns.MinMsgSize
	q.reason = ReasonInvalid

	if r.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return
	}
	opt, ok := findOPT(r)
	if !ok || len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return
	}
	if opt != nil {
		q.udpSize = max(dns.MinMsgSize, min(int(opt.UDPSize()), h.maxUDP))
		m.SetEdns0(dnswire.UDPSize, opt.Do())
		cookieOK := h.readCookieOpt(q, opt)
		defer h.replyCookie(q) // on every reply from here on, after ECS
		if opt.Version() != 0 {
			m.Rcode = dns.RcodeBadVers
			h.setZone(q) // counted under the zone asked about, when it is ours
			return
		}
		if !cookieOK {
			m.Rcode = dns.RcodeFormatError
			return
		}
		var err error
		if q.ecs, err = dnswire.ECSOf(q.pkt); err != nil {
			m.Rcode = dns.RcodeFormatError
			return
		}
	}

	question := r.Question[0]
	q.qtype = question.Qtype
	if q.snap == nil { // Explain's what-if passes its own snapshot
		q.snap = h.snap.Load()
	}
	q.reason = ReasonRefused
	switch {
	case q.snap == nil:
		m.Rcode = dns.RcodeServerFailure // not configured yet: let resolvers try another server
		return
	case question.Qclass != dns.ClassINET:
		m.Rcode = dns.RcodeRefused
		return
	}
	qname := strings.ToLower(question.Name)
	z := q.snap.Match(qname)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		return
	}
	q.zone = z.Label
	if q.qtype == dns.TypeAXFR || q.qtype == dns.TypeIXFR {
		m.Rcode = dns.RcodeRefused // no zone transfers: every instance reads etcd itself
		return
	}
	m.Authoritative = true

	q.client = q.remote
	if q.ecs.Usable() {
		q.client = q.ecs.Addr
	}
	if !h.answerKeyTypes(q, z, qname) {
		h.resolve(q, z, qname)
	}
	if opt != nil && opt.Do() {
		h.signReply(q, opt) // dnssecanswer.go
	}
	if q.ecs.Present {
		o := m.IsEdns0()
		o.Option = append(o.Option, q.ecs.ReplyOption(q.ecs.ScopeFor(q.scope)))
	}
}

// setZone sets q.zone to the label of the zone of q's question, when it
// is one of ours.
func (h *Handler) setZone(q *query) {
	snap := q.snap
	if snap == nil {
		snap = h.snap.Load()
	}
	if snap == nil || len(q.req.Question) != 1 {
		return
	}
	if z := snap.Match(strings.ToLower(q.req.Question[0].Name)); z != nil {
		q.zone = z.Label
	}
}

// findOPT returns the query's OPT record. ok is false when the query is
// malformed in a way RFC 6891 6.1.1 answers with FORMERR: an OPT outside the
// additional section, more than one, or one not owned by the root.
func findOPT(r *dns.Msg) (opt *dns.OPT, ok bool) {
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				return nil, false
			}
		}
	}
	for _, rr := range r.Extra {
		if o, isOPT := rr.(*dns.OPT); isOPT {
			if opt != nil || o.Hdr.Name != "." { // RFC 6891 6.1.1: one OPT, owned by the root
				return nil, false
			}
			opt = o
		}
	}
	return opt, true
}

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

// finish counts an answered query and hands it to the observer.
func (h *Handler) finish(q *query, start time.Time, rcode int) {
	qtype := q.qtype
	if qtype == 0 && q.req != nil && len(q.req.Question) > 0 {
		qtype = q.req.Question[0].Qtype
	}
	h.countQuery(q, qtype, rcode)
	switch {
	case q.reader != nil && q.ecs.Present:
		q.reader.tally.ecsPresent++
	case q.reader != nil:
		q.reader.tally.ecsAbsent++
	case q.ecs.Present:
		h.metrics.ecsPresent.Inc()
	default:
		h.metrics.ecsAbsent.Inc()
	}
	if q.reader != nil && !q.observe {
		return // Answered counts the batch's time
	}
	took := h.now().Sub(start)
	if q.reader == nil {
		h.metrics.duration.Observe(took.Seconds())
	}
	if q.observe && q.m != nil {
		ev := &QueryEvent{
			Time: start, Duration: took, Transport: q.transport, Remote: q.remote, RemotePort: q.remotePort, Client: q.client,
			ECS: q.ecs.Prefix(), Zone: q.zone, Region: q.region, Reason: q.reason, Req: q.req, Resp: q.m,
		}
		if h.sampler != nil {
			h.sampler.Record(ev) // drawn already
		} else {
			h.observer.Observe(ev)
		}
	}
}

// observes reports whether the observer wants the query about to be
// answered.
func (h *Handler) observes() bool {
	if h.sampler != nil {
		return h.sampler.Sample()
	}
	return h.observer != nil
}

// fastHook, when set (by tests, before any query), is called for every
// query the fast path answers.
var fastHook func()

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
