package server

import (
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/store/schema"

	"github.com/glb-dns/glb/server/dnswire"

	"github.com/glb-dns/glb/server/limit"
)

// query is one query being answered: what came in, the reply being built,
// and what was decided, for metrics and query logs. It lives on the stack
// of ServeDNS.
type query struct {
	observe    bool     // the observer wants this query (Handler.observes)
	pkt        []byte   // the query in wire form
	req        *dns.Msg // pkt parsed (general path only)
	m          *dns.Msg
	snap       *Snapshot
	qtype      uint16
	remote     netip.Addr // the packet's source
	remotePort uint16
	client     netip.Addr // the address located: ECS if usable, else remote
	ecs        dnswire.ClientSubnet
	cookie     limit.Cookie // the COOKIE option (cookies.go)
	transport  string
	udpSize    int

	zone   string // metric label: the zone, or "none"
	region string // the region answered with, "" if none
	reason string // the rule that decided, see the Reason constants
	scope  int    // width of the network the decision holds for, before the ECS cap

	// counted is the query counter already resolved by the fast path.
	counted prometheus.Counter

	// The fast path builds no dns.Msg: answers go here instead.
	fastAns  [schema.MaxAnswers]dns.RR
	nFastAns int

	// The decision, noted by recordOutcome and recordAnswer and counted by
	// countDecision when the reply is sent (Explain sends none).
	gslb     *gslbName // the GSLB name answered, nil for others
	outcome  outcome
	drawn    uint8 // index in gslb.regions of the region answered with
	answered bool  // addresses were drawn
}

// Reasons recorded for query logs and the explain endpoint.
const (
	ReasonGeo      = "geo"
	ReasonLatency  = "latency"
	ReasonFailOpen = "fail_open"
	ReasonDrained  = "all_drained"
	ReasonStatic   = "static"
	ReasonNoData   = "nodata"
	ReasonNXDomain = "nxdomain"
	ReasonRefused  = "refused"
	ReasonInvalid  = "invalid"
)

// QueryEvent is what a QueryObserver learns about each answered query.
// Req and Resp are the messages as parsed and as sent; observers must not
// modify them.
type QueryEvent struct {
	Time       time.Time
	Duration   time.Duration
	Transport  string     // "udp" or "tcp"
	Remote     netip.Addr // the packet's source address
	RemotePort uint16     // and port
	Client     netip.Addr // the address the answer was decided for
	ECS        netip.Prefix
	Zone       string
	Region     string
	Reason     string
	Req, Resp  *dns.Msg
}

// QueryObserver receives every answered query (query logs, dnstap). It is
// called on the query path after the reply is written, so it must be cheap
// and must not block; nil means no observer and costs nothing.
type QueryObserver interface {
	Observe(ev *QueryEvent)
}

// A SamplingObserver wants only a share of the queries. The handler draws
// (Sample) before answering, so a query not drawn is answered as with no
// observer, on the fast path, and only a drawn one is built as messages and
// passed to Record. Observe, for other callers, draws and records.
type SamplingObserver interface {
	QueryObserver
	Sample() bool
	Record(ev *QueryEvent)
}

// observes reports whether the observer wants the query about to be
// answered.
func (h *Handler) observes() bool {
	if h.sampler != nil {
		return h.sampler.Sample()
	}
	return h.observer != nil
}

// finish counts an answered query and hands it to the observer.
func (h *Handler) finish(q *query, start time.Time, rcode int) {
	qtype := q.qtype
	if qtype == 0 && q.req != nil && len(q.req.Question) > 0 {
		qtype = q.req.Question[0].Qtype
	}
	h.countDecision(q)
	if q.counted != nil {
		q.counted.Inc()
	} else {
		h.metrics.queries.WithLabelValues(q.zone, qtypeLabel(qtype), rcodeLabel(rcode), q.transport).Inc()
	}
	if q.ecs.Present {
		h.metrics.ecsPresent.Inc()
	} else {
		h.metrics.ecsAbsent.Inc()
	}
	took := h.now().Sub(start)
	h.metrics.duration.Observe(took.Seconds())
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

// addAnswer adds an answer record to the reply being built.
func (q *query) addAnswer(rr dns.RR) {
	if q.m != nil {
		q.m.Answer = append(q.m.Answer, rr)
		return
	}
	if q.nFastAns < len(q.fastAns) {
		q.fastAns[q.nFastAns] = rr
		q.nFastAns++
	}
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
	z := q.snap.match(qname)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		return
	}
	q.zone = z.label
	if q.qtype == dns.TypeAXFR || q.qtype == dns.TypeIXFR {
		m.Rcode = dns.RcodeRefused // no zone transfers: every instance reads etcd itself
		return
	}
	m.Authoritative = true

	q.client = q.remote
	if q.ecs.Usable() {
		q.client = q.ecs.Addr
	}
	h.resolve(q, z, qname)
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
	if z := snap.match(strings.ToLower(q.req.Question[0].Name)); z != nil {
		q.zone = z.label
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

// match returns the zone that holds name: the longest zone suffix.
func (s *Snapshot) match(name string) *zone {
	for {
		if z := s.cfg.zones[name]; z != nil {
			return z
		}
		i := strings.IndexByte(name, '.')
		if i < 0 || i == len(name)-1 {
			return nil
		}
		name = name[i+1:]
	}
}
