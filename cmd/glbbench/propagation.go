package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// addrSet parses a comma-separated list of addresses.
func addrSet(s string) (map[netip.Addr]bool, error) {
	set := map[netip.Addr]bool{}
	for f := range strings.SplitSeq(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		set[a] = true
	}
	return set, nil
}

// matches says whether an answer is non-empty and every address is in want.
func matches(got []netip.Addr, want map[netip.Addr]bool) bool {
	if len(got) == 0 {
		return false
	}
	for _, a := range got {
		if !want[a] {
			return false
		}
	}
	return true
}

// pollUntil asks x until its answer matches want or deadline passes, and
// returns the time from t0 to the matching answer's arrival and the number
// of queries sent.
func pollUntil(x *exchanger, name string, ecs netip.Prefix, want map[netip.Addr]bool, t0, deadline time.Time, every time.Duration) (time.Duration, int, error) {
	n := 0
	var last error
	for time.Now().Before(deadline) {
		n++
		got, err := x.addrs(name, ecs, min(200*time.Millisecond, time.Until(deadline)+time.Millisecond))
		at := time.Now()
		if err == nil && matches(got, want) {
			return at.Sub(t0), n, nil
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("answer %v", got)
		}
		if every > 0 {
			time.Sleep(every)
		}
	}
	return 0, n, fmt.Errorf("no matching answer within %s (last: %v)", deadline.Sub(t0).Round(time.Millisecond), last)
}

func propagation(args []string) error {
	fs := flag.NewFlagSet("propagation", flag.ContinueOnError)
	endpoints := fs.String("etcd", "http://127.0.0.1:2379", "etcd endpoints, comma-separated")
	prefix := fs.String("prefix", schema.DefaultPrefix, "etcd key prefix")
	region := fs.String("region", "eu-west", "region whose weight alternates between 0 and -weight")
	weight := fs.String("weight", "100", "the region's weight when not drained")
	servers := fs.String("dns", "", "glbd DNS addresses (ip:port, loopback), comma-separated (required)")
	name := fs.String("name", "www.gslb.example.test", "name to ask (A)")
	ecsFlag := fs.String("ecs", "81.2.69.0/24", "client subnet sent as ECS")
	normal := fs.String("normal", "198.51.100.10,198.51.100.11", "the A answer (any non-empty subset) with the region in service")
	drained := fs.String("drained", "198.51.100.20", "the A answer (any non-empty subset) with the region drained")
	changes := fs.Int("changes", 100, "weight changes to time (1..10000)")
	gap := fs.Duration("gap", 100*time.Millisecond, "pause after a change has propagated: gap plus a random share of gap")
	every := fs.Duration("interval", 0, "pause between queries to one instance while polling (0: back to back)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on a change after this long")
	csvPath := fs.String("csv", "", "also write one line per change: i,weight,put_ms,instance ms...,all_ms")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *servers == "" {
		return errors.New("-dns is required")
	}
	if *changes < 1 || *changes > 10000 {
		return fmt.Errorf("-changes %d is outside 1..10000", *changes)
	}
	ecs, err := netip.ParsePrefix(*ecsFlag)
	if err != nil {
		return fmt.Errorf("-ecs: %w", err)
	}
	wantNormal, err := addrSet(*normal)
	if err != nil {
		return fmt.Errorf("-normal: %w", err)
	}
	wantDrained, err := addrSet(*drained)
	if err != nil {
		return fmt.Errorf("-drained: %w", err)
	}
	var xs []*exchanger
	defer func() {
		for _, x := range xs {
			x.Close()
		}
	}()
	for s := range strings.SplitSeq(*servers, ",") {
		x, err := newExchanger(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		xs = append(xs, x)
	}
	c, err := store.NewClient(store.Config{Endpoints: strings.Split(*endpoints, ",")}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer c.Close()
	key := *prefix + "regions/" + *region + "/weight"

	// change puts value and times every instance until it answers want.
	change := func(value string, want map[netip.Addr]bool) (put time.Duration, per []time.Duration, queries int, err error) {
		per = make([]time.Duration, len(xs))
		errs := make([]error, len(xs))
		counts := make([]int, len(xs))
		t0 := time.Now()
		deadline := t0.Add(*timeout)
		var wg sync.WaitGroup
		for i, x := range xs {
			wg.Go(func() { per[i], counts[i], errs[i] = pollUntil(x, *name, ecs, want, t0, deadline, *every) })
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_, perr := c.Put(ctx, key, value)
		put = time.Since(t0)
		cancel()
		wg.Wait()
		for i, e := range errs {
			if e != nil {
				errs[i] = fmt.Errorf("instance %d: %w", i+1, e)
			}
			queries += counts[i]
		}
		if perr != nil {
			errs = append(errs, fmt.Errorf("put %s %s: %w", key, value, perr))
		}
		return put, per, queries, errors.Join(errs...)
	}

	// Start from the region in service on every instance.
	if _, _, _, err := change(*weight, wantNormal); err != nil {
		return fmt.Errorf("initial state (weight %s): %w", *weight, err)
	}
	var csv strings.Builder
	var puts, all, after []float64
	perInst := make([][]float64, len(xs))
	totalQueries := 0
	start := time.Now()
	for i := range *changes {
		value, want := "0", wantDrained
		if i%2 == 1 {
			value, want = *weight, wantNormal
		}
		put, per, q, err := change(value, want)
		if err != nil {
			return fmt.Errorf("change %d (weight %s): %w", i+1, value, err)
		}
		totalQueries += q
		worst := slices.Max(per)
		puts = append(puts, ms(put))
		all = append(all, ms(worst))
		after = append(after, ms(max(0, worst-put)))
		fmt.Fprintf(&csv, "%d,%s,%.3f", i+1, value, ms(put))
		for j, d := range per {
			perInst[j] = append(perInst[j], ms(d))
			fmt.Fprintf(&csv, ",%.3f", ms(d))
		}
		fmt.Fprintf(&csv, ",%.3f\n", ms(worst))
		time.Sleep(*gap + rand.N(*gap+1))
	}
	// Leave the region in service.
	if *changes%2 == 1 {
		if _, _, _, err := change(*weight, wantNormal); err != nil {
			return fmt.Errorf("restore weight %s: %w", *weight, err)
		}
	}
	if *csvPath != "" {
		if err := os.WriteFile(*csvPath, []byte(csv.String()), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("propagation: %d changes of %s (0 <-> %s), %d instances %s, polling %s with ECS %s, interval %s, %d queries in %.1f s\n",
		*changes, key, *weight, len(xs), *servers, *name, ecs, *every, totalQueries, time.Since(start).Seconds())
	fmt.Printf("  put -> every instance answers accordingly: %s\n", dist(all))
	for j, v := range perInst {
		fmt.Printf("  put -> instance %d (%s):%s %s\n", j+1, xs[j].conn.RemoteAddr(), strings.Repeat(" ", 3), dist(v))
	}
	fmt.Printf("  etcd put call alone:                    %s\n", dist(puts))
	fmt.Printf("  put returned -> every instance answers: %s (0 when before)\n", dist(after))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
