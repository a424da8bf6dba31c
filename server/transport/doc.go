// Package transport owns glbd's DNS sockets: the UDP loops (one
// SO_REUSEPORT socket per CPU, recvmmsg/sendmmsg batches), the TCP loop
// with its connection limits, the drain that answers what clients already
// sent when a server stops, and the SO_REUSEPORT handover of a rolling
// restart. Every query goes to one entry point, PacketAnswerer's
// AnswerPacket (server.Handler in glbd); this package knows nothing of
// zones, plans or answers beyond the header (dnswire).
package transport
