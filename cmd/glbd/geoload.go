package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
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
	tuneGC   bool // set GOGC from the live heap (gcPercentFor); false when the environment sets GOGC
}

func newServedGeo(d *geo.DB, tuneGC bool) servedGeo {
	return servedGeo{DB: d, tablesIn: make(chan struct{}), once: new(sync.Once), tuneGC: tuneGC}
}

// TrimPages gives back the database's pages, then the executable's, and
// sets GOGC for the heap now live. The server calls it right after the
// collection that returns a load's garbage, so the live heap is measured
// without it.
func (g servedGeo) TrimPages() {
	g.DB.TrimPages()
	_, _ = trimExecutable() // best effort: nothing to do about a failure
	if g.tuneGC {
		debug.SetGCPercent(gcPercentFor(liveHeap()))
	}
	g.once.Do(func() { close(g.tablesIn) })
}

// gcHeadroom is the heap growth between collections glbd aims at once a
// database is loaded. Go's GOGC=100 lets the heap grow by as much as is
// live: with a GeoLite2-City database about 50 MB are live (partition and
// scope tables) and the answers' small garbage would take the heap to
// 100 MB. Those tables hold no pointers, so a collection only marks the
// few MB of the rest and is cheap; a fixed headroom keeps the resident
// memory near the live heap without collecting often when the heap is
// small (the test database: GOGC stays 100).
const gcHeadroom = 6 << 20

// gcPercentFor is the GOGC that gives live bytes gcHeadroom to grow, within
// 10 (a collection per tenth of the heap allocated: more would cost CPU for
// little) and Go's default of 100.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return 100
	}
	return int(min(100, max(10, gcHeadroom*100/live)))
}

// liveHeap is the heap the last collection found live, in bytes.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// verifyWaitMax bounds how long the full verification waits for the first
// scope tables: a configuration without geo names builds none.
const verifyWaitMax = 30 * time.Second

// verifyInBackground runs the full verification of the database that Open
// only checked the structure of (geo.Reloader.Verify reports the outcome),
// once the first scope tables are in: both read the whole database, and
// on two CPUs running them together slowed the tables (which widen the
// answers' ECS scopes), for a verification that only reports. It takes no
// context: a stop waits for the rest of it (0.2-0.3 s for GeoLite2-City).
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
	// Its bitsets (about 9 MB for GeoLite2-City) go back to the operating
	// system now rather than over minutes, as the server does after a
	// load.
	debug.FreeOSMemory()
}
