// Package server is glb's query pipeline: it answers DNS queries for glb's
// zones from an immutable snapshot of the configuration and health,
// choosing a region per query. Its one entry point is
// Handler.AnswerPacket, which the transport (server/transport) calls with
// each query's bytes; explain and simulate read the same snapshot and plan
// without counting anything.
//
// # The hot path, file by file
//
// One UDP query, from the socket to the reply:
//
//	transport/udp.go   serveBatches reads a batch (recvmmsg) and calls AnswerPacket per packet
//	pipeline.go        AnswerPacket → answerPacket: the fast path first, else the general path
//	fast.go            fastAnswer: parse the bytes (dnswire: header, ECS), locate the name in
//	                   the snapshot (snapshot.go), take the plan from the name's scope table
//	                   (scope.go) or plan it (policy.go), draw (pick.go), write the reply
//	pipeline.go        finish: count the query and its decision (counters.go); then RRL
//	                   (limit) for UDP
//	transport/udp.go   the reply goes out with the batch (sendmmsg)
//
// The general path (anything the fast path declines: other types, CNAMEs,
// NXDOMAIN, observers, truncation) is pipeline.go's answer: the DNS
// library parses, resolve.go locates (zones, CNAME chains, static data),
// pick.go plans and draws for GSLB names, and the reply is packed into the
// same buffer. A differential test holds the two paths to the same answers.
//
// # The rest
//
//	handler.go      Handler, Apply and the health tick: the one owner that builds the
//	                snapshot and swaps it when something changed
//	snapshot.go     Snapshot, zones and nodes: the configuration, pre-built as RRs
//	name.go         a GSLB name and its regions, as the draw reads them
//	policy.go       the plan: candidates by fence, health and policy, the tier
//	healthtable.go  health aligned with the configuration's regions
//	scope*.go       ECS scope tables: every network's plan, built off the path
//	counters.go     per-name counters, resolved once
//	explain.go, simulate.go, explainhttp.go, status.go   read-only views
//
// Related packages: dnswire (wire format), limit (RRL and cookies),
// transport (sockets), explain (the /explain and /simulate documents).
package server
