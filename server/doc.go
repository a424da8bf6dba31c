// Package server is glb's query pipeline: it answers DNS queries for glb's
// zones from an immutable snapshot of the configuration and health,
// choosing a region per query. Its entry point is Handler.AnswerPacket,
// which the transport (server/transport) calls with each query's bytes;
// each UDP reader answers through a BatchAnswerer of its own
// (Handler.Batches, batch.go: AnswerDatagram with the batch's read time,
// the batch's counts added by Tally before its replies are sent, its time
// by Answered after); explain and simulate read the same snapshot and plan
// without counting anything.
//
// # The hot path, file by file
//
// One UDP query, from the socket to the reply:
//
//	transport/udp.go   serveBatches reads a batch (recvmmsg), reads the clock once, and calls
//	                   the reader's AnswerDatagram per packet
//	batch.go           AnswerDatagram → answerFrom → answerPacket (pipeline.go): the fast
//	                   path first, else the general path
//	fast.go            fastAnswer: parse the bytes (dnswire: header, ECS), find the name's
//	                   zone and node in one map lookup of its wire form, as it is in the
//	                   packet (plan/owners.go's LookupWire), take
//	                   the plan from the name's scope table (plan/scope.go) or plan it
//	                   (plan/policy.go), draw the region and its records (plan/draw.go,
//	                   from pick.go), write the reply
//	pipeline.go        finish: count the query and its decision (counters.go; a fast
//	                   answer in the reader's tally, batch.go); then RRL (limit) for UDP
//	transport/udp.go   Tally adds the batch's counts; the replies go out together
//	                   (sendmmsg); Answered counts the batch's time, read to sent, in
//	                   glb_dns_request_duration_seconds
//
// The general path (anything the fast path declines: other types, CNAMEs,
// static data, signed NODATA, observers, truncation) is pipeline.go's answer: the DNS
// library parses, resolve.go locates (zones, CNAME chains, static data),
// pick.go has plan plan and draw for GSLB names, and the reply is packed
// into the same buffer. A differential test holds the two paths to the same answers.
//
// # The rest
//
//	handler.go      Handler, Apply and the health tick: the one owner that builds the
//	                snapshot (plan.BuildConfig, plan.BuildHealth) and swaps it when
//	                something changed
//	scopeworker.go  builds the ECS scope tables (plan.ScopeBuilder) off the path
//	counters.go     per-name counters, outside the snapshot, resolved once
//	cookies.go      the pipeline's side of DNS cookies
//	explain.go, simulate.go, explainhttp.go, status.go   read-only views over plan
//	dnsseckeys.go   DNSSEC keys to signers in the snapshot (ApplyKeys), the signature refresh
//	dnssecanswer.go the general path's signing of DO answers and compact denial
//	fastdnssec.go   the fast path's DO answers: the drawn RRset's signature from the cache
//	fastdenial.go   the fast path's DO denials of missing names (compact denial)
//	fastneg.go      the fast path's unsigned denials: NXDOMAIN and NODATA with the
//	                zone's negative SOA packed in advance (plan.Zone.NegWire)
//	dnsseccachemetrics.go  the signature caches' hits and misses, read at scrape time
//
// Related packages: plan (the decision), dnswire (wire format), limit
// (RRL and cookies), transport (sockets), explain (the /explain and
// /simulate documents).
package server
