package server

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/dnswire"
	"github.com/glb-dns/glb/server/limit"
	"github.com/glb-dns/glb/server/plan"
	"github.com/glb-dns/glb/store/schema"
)

// query is one query being answered: what came in, the reply being built,
// and what was decided, for metrics and query logs. It lives on the stack
// of ServeDNS.
type query struct {
	observe    bool     // the observer wants this query (Handler.observes)
	pkt        []byte   // the query in wire form
	req        *dns.Msg // pkt parsed (general path only)
	m          *dns.Msg
	snap       *plan.Snapshot
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

	tcp bool // transport is "tcp"
	// reader: a datagram of a UDP reader's batch (batch.go), whose time
	// and fast-path counts are counted per batch, not here; nil otherwise.
	reader *reader
	fast   bool // answered by the fast path (fast.go)
	// fastRcode is the rcode of a fast-path reply (fastneg.go's NXDOMAIN),
	// and fastZone the zone of a fast-path denial, whose counters count it.
	fastRcode int
	fastZone  *plan.Zone

	// The records drawn (pickAnswers): the fast path builds no dns.Msg
	// and writes them from here.
	fastAns  [schema.MaxAnswers]*plan.Addr
	nFastAns int

	// The decision, noted by recordOutcome and recordAnswer and counted by
	// countDecision when the reply is sent (Explain sends none).
	gslb     *plan.Name // the GSLB name answered, nil for others
	outcome  plan.Outcome
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
