package main

import (
	"context"
	"sync"
	"time"

	"github.com/glb-dns/glb/geo"
)

// servedGeo is the GeoIP database as the server sees it. Its TrimPages,
// which the server calls once a database's scope tables are in (start-up,
// each reload), also gives back the resident pages of glbd's own code and
// read-only data (about 24 MB after start-up, most touched once by package
// initialisation: protobuf descriptors, gRPC, the etcd client; the pages
// glbd goes on using come back at a minor fault each, from the page cache),
// and the first time it lets the background verification start. Every
// other method is the database's own, so the server's interfaces
// (Partitioner, ...) still hold.
type servedGeo struct {
	*geo.DB
	tablesIn chan struct{} // closed at the first TrimPages
	once     *sync.Once
}

func newServedGeo(d *geo.DB) servedGeo {
	return servedGeo{DB: d, tablesIn: make(chan struct{}), once: new(sync.Once)}
}

// TrimPages gives back the database's pages, then the executable's.
func (g servedGeo) TrimPages() {
	g.DB.TrimPages()
	_, _ = trimExecutable() // best effort: nothing to do about a failure
	g.once.Do(func() { close(g.tablesIn) })
}

// verifyWaitMax bounds how long the full verification waits for the first
// scope tables: a configuration without geo names builds none.
const verifyWaitMax = 30 * time.Second

// verifyInBackground runs the full verification of the database that Open
// only checked the structure of (geo.Reloader.Verify reports the outcome),
// once the first scope tables are in: both read the whole database and
// allocate hundreds of MB, and on two CPUs running them together slowed
// the tables (which widen the answers' ECS scopes) by seconds, for a
// verification that only reports. Reader.Verify takes no context: a stop
// waits for the rest of its second.
func (a *app) verifyInBackground(ctx context.Context) {
	t := time.NewTimer(verifyWaitMax)
	defer t.Stop()
	select {
	case <-a.served.tablesIn:
	case <-t.C:
	case <-ctx.Done():
		return
	}
	_ = a.reloader.Verify()
}
