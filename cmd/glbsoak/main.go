// Command glbsoak is glb's bounded soak test (make soak): it starts an
// etcd, glbd as a real process, glbprobe processes and loopback backends,
// then runs a steady load of A/AAAA queries with ECS from every continent
// over UDP and TCP while region weights flip every 100 ms, drains rotate,
// probers join and leave, backends fail and recover and the GeoIP database
// is replaced twice. Every reply is checked: it must arrive within the
// timeout, be NOERROR, and never name a region drained more than the grace
// before the query was sent. At the end glbd's goroutines and heap must be
// flat. It prints a summary and exits non-zero on any failure.
//
// Everything listens on 127.0.0.1 with free ports; nothing else is reached.
// The run stops by itself after -duration plus a short shutdown.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config is the soak's command line.
type config struct {
	Duration    time.Duration // -duration: how long the load runs
	Rate        float64       // -rate: UDP queries per second
	TCPRate     float64       // -tcp-rate: TCP queries per second
	Sockets     int           // -sockets: UDP sockets sharing the rate
	Timeout     time.Duration // -timeout: a reply later than this is a failure
	Grace       time.Duration // -grace: a region drained longer than this before a query must not be answered
	FlipEvery   time.Duration // -flip-every: weight changes
	RotateEvery time.Duration // -rotate-every: drain rotations (each region stays drained twice this)
	ChurnEvery  time.Duration // -churn-every: a prober joins or leaves
	Glbd        string        // -glbd: glbd binary
	Glbprobe    string        // -glbprobe: glbprobe binary
	GeoIPCSV    string        // -geoip-csv: the test database's CSV, changed for the replacements
	WorkDir     string        // -workdir: logs, database and etcd data; "" is a temporary directory
	Seed        uint64        // -seed: randomness of queries and weights
	// Flatness tolerances (see flatness in summary.go).
	GoroutineSlack int     // -goroutine-slack
	HeapGrowth     float64 // -heap-growth
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("glbsoak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.Duration, "duration", 5*time.Minute, "how long the load runs (10s..2h)")
	fs.Float64Var(&c.Rate, "rate", 2000, "UDP queries per second")
	fs.Float64Var(&c.TCPRate, "tcp-rate", 50, "TCP queries per second, one at a time on one connection")
	fs.IntVar(&c.Sockets, "sockets", 4, "UDP sockets the rate is shared by")
	fs.DurationVar(&c.Timeout, "timeout", time.Second, "a reply later than this is a failed query (no retries)")
	fs.DurationVar(&c.Grace, "grace", time.Second, "a region drained longer than this before a query was sent must not be in its answer")
	fs.DurationVar(&c.FlipEvery, "flip-every", 100*time.Millisecond, "how often a region's weight changes")
	fs.DurationVar(&c.RotateEvery, "rotate-every", 2*time.Second, "how often the drained pair rotates (a region stays drained twice this)")
	fs.DurationVar(&c.ChurnEvery, "churn-every", 20*time.Second, "how often a prober joins or leaves")
	fs.StringVar(&c.Glbd, "glbd", "bin/glbd", "glbd binary")
	fs.StringVar(&c.Glbprobe, "glbprobe", "bin/glbprobe", "glbprobe binary")
	fs.StringVar(&c.GeoIPCSV, "geoip-csv", "testdata/geoip/networks.csv", "CSV of the test GeoIP database")
	fs.StringVar(&c.WorkDir, "workdir", "", "directory for logs, the GeoIP file and etcd's data (default: a temporary directory, kept on failure)")
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed")
	fs.IntVar(&c.GoroutineSlack, "goroutine-slack", 10, "glbd's goroutines may end this many above their level after warm-up")
	fs.Float64Var(&c.HeapGrowth, "heap-growth", 0.25, "glbd's lowest in-use heap may end this share above its level after warm-up")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.Duration < 10*time.Second || c.Duration > 2*time.Hour:
		return c, fmt.Errorf("-duration %s: want 10s..2h", c.Duration)
	case c.Rate <= 0 || c.Rate > 20000 || c.TCPRate < 0 || c.TCPRate > 1000:
		return c, errors.New("-rate: want 0 < rate <= 20000; -tcp-rate: want 0..1000")
	case c.Sockets < 1 || c.Sockets > 64:
		return c, fmt.Errorf("-sockets %d: want 1..64", c.Sockets)
	case c.FlipEvery <= 0 || c.RotateEvery < c.FlipEvery || c.ChurnEvery < 2*time.Second:
		return c, errors.New("-flip-every, -rotate-every, -churn-every: want 0 < flip <= rotate and churn >= 2s")
	}
	return c, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "glbsoak:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "glbsoak: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("glbsoak: PASS")
}
