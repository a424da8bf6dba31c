package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
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

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/internal/dnsload"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// A change made by stream's changer, at an offset from the stream's start.
type changeEvent struct {
	at, put time.Duration
	what    string
	err     error
}

// randomSubnet is a random /24 in 1.0.0.0-223.255.255.0, outside 10/8 and 127/8.
func randomSubnet(r *rand.Rand) netip.Prefix {
	for {
		a, b, c := byte(1+r.IntN(223)), byte(r.IntN(256)), byte(r.IntN(256))
		if a == 10 || a == 127 {
			continue
		}
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{a, b, c, 0}), 24)
	}
}

func stream(args []string) error {
	fs := flag.NewFlagSet("stream", flag.ContinueOnError)
	server := fs.String("dns", "", "glbd DNS address, ip:port on loopback (required)")
	rate := fs.Int("rate", 2000, "queries per second (1..50000), paced evenly")
	dur := fs.Duration("duration", 60*time.Second, "how long to send (1s..10m)")
	zone := fs.String("zone", "gslb.example.test", "zone of the names")
	names := fs.Int("names", 10000, "ask names n00000.. n(N-1) of the zone, at random (0: -qname only)")
	qname := fs.String("qname", "www.gslb.example.test", "the name asked when -names is 0")
	aaaa := fs.Float64("aaaa", 0.3, "share of AAAA queries (the rest are A)")
	ecsFlag := fs.String("ecs", "random", `ECS: "random" (a random IPv4 /24 per query), "none", or a prefix`)
	seed := fs.Uint64("seed", 1, "random seed for names, types and subnets")
	timeout := fs.Duration("timeout", 2*time.Second, "a query unanswered this long is lost")
	slow := fs.Duration("slow", 10*time.Millisecond, "count queries slower than this")
	endpoints := fs.String("etcd", "http://127.0.0.1:2379", "etcd endpoints, for -change-every")
	prefix := fs.String("prefix", schema.DefaultPrefix, "etcd key prefix, for -change-every")
	changeRegion := fs.String("change-region", "eu-west", "region whose latitude the changer moves")
	changeEvery := fs.Duration("change-every", 0, "every this long (from the start), move -change-region's latitude by -change-delta and back on the next change (0: no changes)")
	delta := fs.Float64("change-delta", 0.5, "degrees of latitude added on odd changes")
	timeline := fs.String("timeline", "", "also write one line per second: second,queries,answered,max_ms,slow")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *server == "" {
		return errors.New("-dns is required")
	}
	if *rate < 1 || *rate > 50000 {
		return fmt.Errorf("-rate %d is outside 1..50000", *rate)
	}
	if *dur < time.Second || *dur > 10*time.Minute {
		return fmt.Errorf("-duration %s is outside 1s..10m", *dur)
	}
	total := int(int64(*rate) * int64(*dur) / int64(time.Second))
	rng := rand.New(rand.NewPCG(*seed, 0x9e3779b97f4a7c15))

	// Every query is packed before the clock starts, so sending is a write.
	var fixed netip.Prefix
	switch *ecsFlag {
	case "random", "none":
	default:
		p, err := netip.ParsePrefix(*ecsFlag)
		if err != nil {
			return fmt.Errorf("-ecs: %w", err)
		}
		fixed = p
	}
	msgs := make([][]byte, total)
	for i := range total {
		n := *qname
		if *names > 0 {
			n = nameLabel(rng.IntN(*names)) + "." + *zone
		}
		qt := dns.TypeA
		if rng.Float64() < *aaaa {
			qt = dns.TypeAAAA
		}
		ecs := fixed
		if *ecsFlag == "random" {
			ecs = randomSubnet(rng)
		}
		b, err := query(uint16(i), n, qt, ecs)
		if err != nil {
			return err
		}
		msgs[i] = b
	}
	if err := loopbackServer(*server); err != nil {
		return err
	}

	var changes []changeEvent
	var changer func(ctx context.Context, start time.Time) []changeEvent
	if *changeEvery > 0 {
		c, err := store.NewClient(store.Config{Endpoints: strings.Split(*endpoints, ",")}, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		defer c.Close()
		key := *prefix + "regions/" + *changeRegion
		gctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := c.Get(gctx, key)
		cancel()
		if err != nil {
			return fmt.Errorf("get %s: %w", key, err)
		}
		if len(resp.Kvs) != 1 {
			return fmt.Errorf("get %s: no such key", key)
		}
		orig := slices.Clone(resp.Kvs[0].Value)
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(orig, &doc); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		var lat float64
		if err := json.Unmarshal(doc["lat"], &lat); err != nil {
			return fmt.Errorf("%s: lat: %w", key, err)
		}
		moved := lat + *delta
		if moved > 90 {
			moved = lat - *delta
		}
		changer = func(ctx context.Context, start time.Time) []changeEvent {
			var out []changeEvent
			put := func(v []byte, what string) {
				t0 := time.Now()
				pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.Put(pctx, key, string(v))
				cancel()
				out = append(out, changeEvent{at: t0.Sub(start), put: time.Since(t0), what: what, err: err})
			}
			for k := 1; ; k++ {
				if time.Duration(k)**changeEvery >= *dur {
					<-ctx.Done() // no change in the last moments of the stream
				}
				select {
				case <-ctx.Done():
					if k%2 == 0 { // the last change moved it: put it back
						put(orig, fmt.Sprintf("restore lat %g", lat))
					}
					return out
				case <-time.After(time.Until(start.Add(time.Duration(k) * *changeEvery))):
				}
				if k%2 == 1 {
					doc["lat"] = json.RawMessage(fmt.Sprint(moved))
					v, _ := json.Marshal(doc)
					put(v, fmt.Sprintf("lat %g -> %g", lat, moved))
				} else {
					put(orig, fmt.Sprintf("lat %g -> %g", moved, lat))
				}
			}
		}
	}

	type result struct {
		sent, lat time.Duration
		rcode     int
		answers   bool
	}
	var mu sync.Mutex
	results := make([]result, 0, total)
	start := time.Now()
	load, err := dnsload.New(dnsload.Config{
		Server: *server, Rate: float64(*rate), Count: int64(total),
		// Count is the bound; this only stops a sender that fell far behind.
		Duration: 2**dur + *timeout, Timeout: *timeout,
		Query: func(i int64) ([]byte, any, error) { return msgs[i], nil, nil },
		OnReply: func(r dnsload.Reply) {
			if r.Err != nil || r.Late {
				return
			}
			mu.Lock()
			results = append(results, result{sent: r.Sent.Sub(start), lat: r.Latency, rcode: int(r.Msg[3] & 0xf),
				answers: binary.BigEndian.Uint16(r.Msg[6:]) > 0})
			mu.Unlock()
		},
	})
	if err != nil {
		return err
	}
	ctx, stopChanger := context.WithCancel(context.Background())
	var cwg sync.WaitGroup
	if changer != nil {
		cwg.Go(func() { changes = changer(ctx, start) })
	}
	res, err := load.Run(context.Background())
	stopChanger()
	cwg.Wait()
	if err != nil {
		return err
	}
	sendTime := res.Elapsed
	sendErrs := int(res.Lost - res.Failures["timeout"])
	stray := res.Stray

	// Report.
	lats := make([]float64, len(results))
	rcodes := map[string]int{}
	empty, nSlow := 0, 0
	secs := int(*dur/time.Second) + 1
	type sec struct {
		n, slow int
		max     float64
	}
	tl := make([]sec, secs)
	var slowest []result
	for i, r := range results {
		lats[i] = ms(r.lat)
		rcodes[dns.RcodeToString[r.rcode]]++
		if r.rcode == dns.RcodeSuccess && !r.answers {
			empty++
		}
		s := &tl[min(int(r.sent/time.Second), secs-1)]
		s.n++
		s.max = max(s.max, lats[i])
		if r.lat > *slow {
			nSlow++
			s.slow++
			slowest = append(slowest, r)
		}
	}
	slices.SortFunc(slowest, func(a, b result) int { return int(b.lat - a.lat) })
	answered := len(results)
	fmt.Printf("stream: %d queries to %s in %.2f s (%.0f q/s asked: %d/s), names %d, AAAA share %.2f, ECS %s\n",
		total-sendErrs, *server, sendTime.Seconds(), float64(total-sendErrs)/sendTime.Seconds(), *rate, *names, *aaaa, *ecsFlag)
	fmt.Printf("  answered %d, lost %d (no reply within %s), send errors %d, stray replies %d; rcodes %v, NOERROR without answers %d\n",
		answered, res.Failures["timeout"], *timeout, sendErrs, stray, rcodes, empty)
	fmt.Printf("  latency send->receive: %s\n", dist(lats))
	fmt.Printf("  slower than %s: %d of %d (%.4f %%)\n", *slow, nSlow, answered, 100*float64(nSlow)/float64(max(answered, 1)))
	for i, r := range slowest[:min(len(slowest), 10)] {
		fmt.Printf("    slow #%d: %.3f ms, sent at t=%.3f s\n", i+1, ms(r.lat), r.sent.Seconds())
	}
	if changer != nil {
		fmt.Printf("  configuration changes (every %s, %s/regions/%s):\n", *changeEvery, strings.TrimSuffix(*prefix, "/"), *changeRegion)
		for _, c := range changes {
			w := *changeEvery
			var mx float64
			n, sl := 0, 0
			for _, r := range results {
				if r.sent >= c.at && r.sent < c.at+w {
					n++
					mx = max(mx, ms(r.lat))
					if r.lat > *slow {
						sl++
					}
				}
			}
			status := "ok"
			if c.err != nil {
				status = c.err.Error()
			}
			fmt.Printf("    t=%6.3f s %-22s put %.2f ms (%s); the next %s: %d queries, max %.3f ms, %d slower than %s\n",
				c.at.Seconds(), c.what, ms(c.put), status, w, n, mx, sl, *slow)
		}
	}
	if *timeline != "" {
		var b strings.Builder
		b.WriteString("second,queries,max_ms,slow\n")
		for i, s := range tl {
			fmt.Fprintf(&b, "%d,%d,%.3f,%d\n", i, s.n, s.max, s.slow)
		}
		if err := os.WriteFile(*timeline, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
