// Package querylog records the queries glbd answers, as server.QueryObserver
// implementations. Both outputs are optional; cmd/glbd builds only the ones
// configured and combines them with Multi, which returns nil when there are
// none so that the query path pays nothing.
//
// Dnstap writes every query and reply in dnstap format (AUTH_QUERY and
// AUTH_RESPONSE messages in a Frame Streams stream; see dnstap.info), the
// DNS ecosystem's standard log format, readable by dnstap-ldns, dnstap-read,
// the dnstap tool and collectors. The output is a file, truncated when
// opened, or a unix socket ("unix:/path") to which it connects as a Frame
// Streams client, reconnecting when the collector goes away. Observe packs
// both messages and hands the frames to a bounded queue; a writer goroutine
// (Run, Close) writes them. When the queue is full, or no collector is
// connected, frames are dropped and counted, never waited for.
//
// Sampler writes one JSON line through a slog.Logger for a random share of
// queries. For privacy it never logs a full client address: client_subnet
// is the EDNS Client Subnet prefix when the query carried one, else the
// packet's source address, and either is cut to at most /24 (IPv4) or /56
// (IPv6). An unsampled query costs one random draw and no allocation.
package querylog
