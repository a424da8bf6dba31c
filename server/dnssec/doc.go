// Package dnssec is glb's DNSSEC core, kept apart from the query path so it
// can be tested whole: the zone's keys and how they are stored, a signer
// that turns an RRset into RRSIGs, a signature cache keyed by the exact
// RRset, compact denial of existence (RFC 9824) and the rollover state
// machine that glbctl steps through. It imports only the standard library
// and miekg/dns; it does no I/O of its own.
//
// # Where the keys live
//
// Every glbd serving a zone must sign with the same keys, and a rollover
// must reach every instance at the same moment, or one instance publishes
// a DNSKEY set the others' signatures do not match. So the keys live in
// etcd, which every instance already watches, and not in files on each
// host, which would need a second distribution channel and a clock-exact
// copy at every rollover step. They sit under their own prefix beside the
// configuration, never under it (KeysPrefix: /glb/ gives /glb-keys/):
//
//	/glb-keys/public/<zone>           KeySet (JSON): DNSKEYs, roles, states, the rollover in progress
//	/glb-keys/private/<zone>/<tag>    the private key of one DNSKEY, BIND Private-key-format v1.3
//
// A separate prefix is what keeps the private keys away from everything
// that reads the configuration: glbctl export reads /glb/ only and so can
// never emit them, and the glb-operator role (which reads all of /glb/)
// needs no access to /glb-keys/private/. The public half is a separate
// key so that operators can run glbctl dnssec ds and keys with a
// credential that cannot read private keys. Private keys in etcd are as
// secret as etcd's data directory and its snapshots: treat those backups
// as key material.
//
// # How glbd uses it
//
// store.KeysWatcher watches the keys prefix beside the configuration and
// hands every zone's keys to server.Handler.ApplyKeys (server/
// dnsseckeys.go), which, per zone whose keys changed, decodes the key set
// (DecodeKeySet), builds a Signer (NewSigner) and fresh Caches, and swaps
// them into the snapshot (plan.Signing). A key set or private key that
// does not decode is refused, logged with its etcd key and reason and
// counted, and the zone keeps its last good Signer; a zone that has none
// answers DO queries SERVFAIL and is reported loudly, never served
// unsigned in silence. The general path (server/dnssecanswer.go)
// computes each answer RRset's RRsetKey and calls Cache.Sigs; denials of
// random names go to a Cache of their own (see DenyName). The fast path
// (server/fastdnssec.go) answers DO queries for GSLB names with
// Cache.AddrSigFrom: the key's start (owner, type, TTL) is made once per
// name when the snapshot is built (plan.SigKeys), the drawn addresses are
// added per query, and the signature comes back in wire form, with no
// packing or allocation on a hit. Both keys agree, so the paths share
// entries; its denials of missing names (server/fastdenial.go) take
// their signatures with Cache.Wire. An hourly loop calls Cache.Refresh.
package dnssec
