package geo

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glb-dns/glb/internal/lifecycle"
)

// DefaultPollInterval is how often a Reloader checks the database file for
// a change when ReloaderConfig.Interval is zero. geoipupdate replaces a file
// a few times a week at most; five seconds of delay costs nothing and a stat
// every five seconds costs less.
const DefaultPollInterval = 5 * time.Second

// ReloaderConfig configures a Reloader. Zero fields take the defaults named
// on each.
type ReloaderConfig struct {
	Interval time.Duration    // how often the file is checked; default DefaultPollInterval
	Logger   *slog.Logger     // default: discard
	Metrics  *Metrics         // default: metrics registered nowhere
	Now      func() time.Time // default time.Now; stamps the reload metrics
	// OnReload, if set, is called after each successful reload, once the
	// new database is in use, so that what was derived from the old one
	// (the server's ECS scope tables) can be rebuilt. Calls are serialised;
	// it must not call back into the Reloader.
	OnReload func()
	// Component names the database in logs ("component") and in the
	// reloader's name; default "geoip". The ASN database uses "geoip_asn".
	Component string
}

// Reloadable is a database a Reloader keeps in step with its file: *DB
// (City) and *ASNDB.
type Reloadable interface {
	Path() string
	Reload() error // keeps the version in use on error
	BuildTime() time.Time
	// Verify runs the full verification a load may have left for later,
	// and Verified says whether the version in use has passed it.
	Verify() error
	Verified() bool
}

// fileID is what tells one version of the database file from another
// without reading it: a rename over the path changes the inode, and a copy
// over it in place changes the size or the modification time.
type fileID struct {
	fi  os.FileInfo // nil when the stat failed
	err error
}

func (a fileID) same(b fileID) bool {
	if a.fi == nil || b.fi == nil {
		return a.fi == nil && b.fi == nil
	}
	return os.SameFile(a.fi, b.fi) && a.fi.Size() == b.fi.Size() && a.fi.ModTime().Equal(b.fi.ModTime())
}

func statID(path string) fileID {
	fi, err := os.Stat(path)
	return fileID{fi: fi, err: err}
}

// Reloader keeps a DB in step with its file: Run polls the file's identity
// (inode, size, modification time) every Interval and reloads the DB when it
// changes; Reload reloads at once (glbd calls it on SIGHUP). A file that
// fails the checks is rejected and the database in use stays, as DB.Reload
// promises; the same file is not tried again until it changes.
//
// Polling rather than inotify: it needs no platform code, survives the
// directory being replaced (as some updaters and volume mounts do), and a
// stat every few seconds is nothing.
type Reloader struct {
	db       Reloadable
	interval time.Duration
	log      *slog.Logger
	m        *Metrics
	now      func() time.Time
	onReload func()

	loadMu sync.Mutex // serialises loads: Run's polls and Reload calls
	seen   fileID     // the file as of the last load attempt
	// polls counts Run's looks at the file, changed or not: tests wait for
	// it to advance to know that an unchanged file was looked at and left.
	polls atomic.Int64

	life *lifecycle.Lifecycle

	verifyMu  sync.Mutex
	verifyErr error // why the full verification of the database in use failed; nil when it passed or is pending
}

// NewReloader returns a Reloader of d. The file as it is now counts as
// loaded, so create it right after Open: a change between the two would
// only be noticed at the next change.
func NewReloader(d Reloadable, cfg ReloaderConfig) *Reloader {
	r := &Reloader{db: d, interval: cfg.Interval, log: cfg.Logger, m: cfg.Metrics, now: cfg.Now, onReload: cfg.OnReload}
	if r.interval <= 0 {
		r.interval = DefaultPollInterval
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	component := cfg.Component
	if component == "" {
		component = "geoip"
	}
	r.log = r.log.With("component", component)
	if r.m == nil {
		r.m = NewMetrics(prometheus.NewRegistry())
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.life = lifecycle.New(lifecycle.Config{Name: component + " reloader", Logger: r.log, Panics: r.m.panics})
	r.seen = statID(d.Path())
	r.m.buildTime.Set(float64(d.BuildTime().Unix()))
	r.m.lastReload.Set(float64(r.now().UnixNano()) / 1e9)
	r.m.lastSuccessful.Set(1)
	r.m.verified.Set(b2f(d.Verified()))
	return r
}

// Verify runs the full verification of the database in use that Open left
// for later (DB.Verify), and reports its outcome: the glb_geoip_verified
// gauge, an error logged with the path, and Verification. glbd calls it once
// in the background at start-up, while it answers; the database stays in
// use either way, as it is all there is to answer from, and a reload (of a
// good file) replaces it. It holds off reloads while it runs (about a
// second for a GeoLite2-City file).
func (r *Reloader) Verify() error {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	start := r.now()
	err := r.db.Verify()
	r.verifyMu.Lock()
	r.verifyErr = err
	r.verifyMu.Unlock()
	r.m.verified.Set(b2f(err == nil))
	if err != nil {
		r.log.Error("geoip database failed its full verification; it stays in use until a good file replaces it: some lookups may find nothing",
			"path", r.db.Path(), "err", err)
		return err
	}
	r.log.Debug("geoip database verified", "path", r.db.Path(), "duration_seconds", r.now().Sub(start).Seconds())
	return nil
}

// Verification reports the full verification of the database in use:
// done once it passed, and err when it failed (done is then false).
// Neither while it is pending.
func (r *Reloader) Verification() (done bool, err error) {
	r.verifyMu.Lock()
	defer r.verifyMu.Unlock()
	return r.db.Verified(), r.verifyErr
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Run checks the file every Interval until ctx is cancelled or Close is
// called, and then returns nil. It returns an error only if it is already
// running or has run, or if a panic was recovered.
func (r *Reloader) Run(ctx context.Context) error {
	return r.life.Run(ctx, func(ctx context.Context) error {
		lifecycle.Every(ctx, r.interval, r.poll)
		return nil
	})
}

// Close stops Run and waits for it to return. A Reloader cannot run again
// after Close; Reload still works.
func (r *Reloader) Close() {
	_ = r.life.Close() // a stop timeout is logged by lifecycle
}

// poll reloads when the file differs from the one last tried.
func (r *Reloader) poll() {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	defer r.polls.Add(1)
	cur := statID(r.db.Path())
	if cur.same(r.seen) {
		return
	}
	// Remembered before the attempt: a rejected file is not retried every
	// interval, only once it changes again.
	r.seen = cur
	if cur.err != nil {
		// Gone or unreadable: an updater mid-way, or an operator's mistake.
		// Either way the database in use stays; say so once.
		r.rejected(fmt.Errorf("stat geoip db %q: %w", r.db.Path(), cur.err))
		return
	}
	_ = r.load("file changed")
}

// Reload loads the file now, changed or not, and returns why it was
// rejected, if it was. It is safe to call while Run runs.
func (r *Reloader) Reload() error {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	r.seen = statID(r.db.Path())
	return r.load("requested")
}

// load reloads the DB and reports the outcome; r.loadMu is held.
func (r *Reloader) load(reason string) error {
	start := r.now()
	if err := safeReload(r.db); err != nil {
		r.rejected(err)
		return err
	}
	bt := r.db.BuildTime()
	r.m.reloads.WithLabelValues("ok").Inc()
	r.m.buildTime.Set(float64(bt.Unix()))
	r.m.lastReload.Set(float64(r.now().UnixNano()) / 1e9)
	r.m.lastSuccessful.Set(1)
	r.m.verified.Set(1) // a reload verifies the whole file before the swap
	r.verifyMu.Lock()
	r.verifyErr = nil
	r.verifyMu.Unlock()
	// How long the new file took to map, verify and swap in: the wait
	// between a SIGHUP and the new database's first answer.
	r.log.Info("geoip database reloaded", "path", r.db.Path(), "build_time", bt.UTC().Format(time.RFC3339), "reason", reason,
		"duration_seconds", r.now().Sub(start).Seconds())
	if r.onReload != nil {
		r.onReload()
	}
	return nil
}

func (r *Reloader) rejected(err error) {
	r.m.reloads.WithLabelValues("error").Inc()
	r.m.lastSuccessful.Set(0)
	r.log.Warn("geoip database rejected; keeping the one in use", "path", r.db.Path(), "err", err,
		"in_use_build_time", r.db.BuildTime().UTC().Format(time.RFC3339))
}

// safeReload is d.Reload with a panic turned into an error: a damaged file
// that trips the reader must cost one rejected reload, not the process.
func safeReload(d Reloadable) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reload geoip db %q: panic: %v\n%s", d.Path(), p, debug.Stack())
		}
	}()
	return d.Reload()
}
