// Package plan is the decision, pure and without sockets: the immutable
// Snapshot (zones, nodes and pre-built records from the configuration;
// the health table; the ECS scope tables), the GSLB names and their
// regions, the policies that turn a client's location and the health into
// a Plan (candidates, fence, tier, outcome), the scope tables that hold
// every network's plan ready-made, and the draw of one region within the
// tier. It reads geo, health and store/schema, and knows nothing of
// queries, replies or counters: the query pipeline (server) builds replies
// from what it decides, and explain and simulate call it directly.
package plan
