package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/glb-dns/glb/server/explain"
)

func renderExplain(w io.Writer, e *explain.Explanation) {
	fmt.Fprintf(w, "%s %s for client %s (ECS source /%d), zone %s\n", e.Name, e.Type, e.Client, e.ECSSource, e.Zone)
	// A pinned client's location decided nothing: say so on its line.
	locLabel := "client location"
	if e.Pin != nil {
		locLabel = "client location (not used: pinned)"
	}
	if l := e.Location; l.Found {
		var where []string
		for _, s := range []string{l.Country, l.Continent, l.Subdivision} {
			if s != "" {
				where = append(where, s)
			}
		}
		fmt.Fprintf(w, "%s: %s at %.2f,%.2f (GeoIP network %s)\n", locLabel, strings.Join(where, " "), l.Lat, l.Lon, l.Network)
	} else {
		fmt.Fprintf(w, "%s: not in the GeoIP database\n", locLabel)
	}
	fence := "none"
	if e.Fence != nil && e.Fence.Rule != "" {
		fence = fmt.Sprintf("rule %s allows %s", e.Fence.Rule, strings.Join(e.Fence.Allowed, ", "))
	}
	fmt.Fprintf(w, "policy: %s; geofence: %s\n", e.Policy, fence)
	if p := e.Pin; p != nil {
		fmt.Fprintf(w, "pinned: %s to %s, by %s; GeoIP skipped\n", p.Key, strings.Join(p.Regions, ", "), pinMatch(p))
	}
	if s := e.WhatIf.String(); s != "" {
		fmt.Fprintf(w, "what if: %s\n", s)
	}
	fmt.Fprintln(w)

	t := newTable(w)
	fmt.Fprintln(t, "REGION\tWEIGHT\tHEALTH\tENDPOINTS UP\tDISTANCE\tRTT\tSCORE\tNOTES")
	for _, r := range e.Regions {
		up := 0
		for _, ep := range r.Endpoints {
			if ep.Up {
				up++
			}
		}
		health := upDown(r.Up)
		if r.Up && !r.Checked {
			health = "up (no data)"
		}
		fmt.Fprintf(t, "%s\t%d\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", r.ID, r.Weight, health, up, len(r.Endpoints),
			ptrText(r.DistanceKm, " km", 0), ptrText(r.RTTMs, " ms", 1), ptrText(r.Score, "", 1), notes(e, r))
	}
	t.Flush()
	fmt.Fprintln(w)

	chosen := e.Chosen
	if chosen == "" {
		chosen = "none"
	}
	fmt.Fprintf(w, "tier: %s\n", dash(strings.Join(e.Tier, ", ")))
	if e.TierRule != "" {
		fmt.Fprintf(w, "tier rule: %s\n", e.TierRule)
	}
	if p := e.Pin; p != nil {
		fmt.Fprintf(w, "rule: %s within pin %s; chosen: %s\n", dash(e.Rule), p.Key, chosen)
	} else {
		fmt.Fprintf(w, "rule: %s; chosen: %s\n", dash(e.Rule), chosen)
	}
	if len(e.Shed) > 0 {
		fmt.Fprintf(w, "shed: %s moved this client's subnet away (load past the low watermark)\n", strings.Join(e.Shed, ", "))
	}
	fmt.Fprintf(w, "answer: %s, TTL %d, ECS scope /%d\n", e.Rcode, e.TTL, e.Scope)
	for _, rr := range e.Answer {
		fmt.Fprintf(w, "  %s\n", rr)
	}
	switch d := e.DNSSEC; {
	case d == nil:
	case d.Signed:
		fmt.Fprintf(w, "dnssec: DO answers signed by key %d (algorithm %d)\n", d.KeyTag, d.Algorithm)
	default:
		fmt.Fprintf(w, "dnssec: not signed: %s\n", d.Reason)
	}
}

// renderExplainEndpoints lists the candidates' endpoints, one row per
// prober report, as glbctl status does.
func renderExplainEndpoints(w io.Writer, e *explain.Explanation) {
	t := newTable(w)
	fmt.Fprintln(t, "REGION\tENDPOINT\tVERDICT\tPROBER\tREPORT\tRTT\tAGE")
	for _, r := range e.Regions {
		for _, ep := range r.Endpoints {
			verdict := "up (no data)"
			if ep.Votes > 0 {
				verdict = fmt.Sprintf("%s %d/%d", upDown(ep.Up), ep.UpVotes, ep.Votes)
			}
			if len(ep.Reports) == 0 {
				fmt.Fprintf(t, "%s\t%s\t%s\t-\t-\t-\t-\n", r.ID, ep.Endpoint, verdict)
				continue
			}
			for _, p := range slices.Sorted(maps.Keys(ep.Reports)) {
				rep := ep.Reports[p]
				age := time.Duration(rep.AgeSeconds * float64(time.Second)).Round(100 * time.Millisecond)
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, ep.Endpoint, verdict, p, upDown(rep.Up), dash(rep.RTT), age)
			}
		}
	}
	t.Flush()
}

// notes marks why a region is or is not in the running.
func notes(e *explain.Explanation, r explain.Region) string {
	var n []string
	if r.ID == e.Chosen {
		n = append(n, "CHOSEN")
	}
	if r.InTier {
		n = append(n, "in tier")
	}
	if r.Weight == 0 {
		n = append(n, "drained")
	}
	if r.NameWeight {
		n = append(n, "name weight")
	}
	if r.Admin != "" {
		n = append(n, "admin "+r.Admin)
	}
	switch {
	case r.FencedOut && e.Pin != nil:
		n = append(n, "not in the pin")
	case r.FencedOut:
		n = append(n, "fenced out")
	}
	if !r.HasFamily {
		n = append(n, "no "+e.Type+" address")
	}
	return strings.Join(append(n, loadNotes(r)...), ", ")
}

// loadNotes describe a region's load against its watermarks, and whether
// it sheds this client.
func loadNotes(r explain.Region) []string {
	var n []string
	if r.Load != nil {
		n = append(n, fmt.Sprintf("load %.2g (%s)", *r.Load, r.LoadSource))
	}
	if s := r.Shed; s != nil {
		n = append(n, fmt.Sprintf("sheds %.0f %% (watermarks %g..%g)", s.Share*100, s.Low, s.High))
		if r.KeepsClient != nil && !*r.KeepsClient {
			n = append(n, "SHEDS THIS CLIENT")
		}
	}
	return n
}

func renderSimulate(w io.Writer, s *explain.Simulation, hypothesis string) {
	fmt.Fprintf(w, "%s %s: %d clients (%s)\n", s.Name, s.Type, s.Clients, s.Basis)
	if s.WhatIfApplied && hypothesis != "" {
		fmt.Fprintf(w, "what if: %s\n", hypothesis)
	}
	if s.PinsNotCounted {
		fmt.Fprintln(w, "pins: NOT counted: the GeoIP networks are counted by location, which no pin matches; --clients FILE counts them")
	}
	fmt.Fprintln(w)
	regions := slices.Collect(maps.Keys(s.Now))
	for r := range s.WhatIf {
		if _, ok := s.Now[r]; !ok {
			regions = append(regions, r)
		}
	}
	// Biggest share first; clients without an answer last.
	slices.SortFunc(regions, func(a, b string) int {
		if (a == "") != (b == "") {
			return cmp.Compare(len(b), len(a))
		}
		return cmp.Or(cmp.Compare(s.Now[b], s.Now[a]), cmp.Compare(s.WhatIf[b], s.WhatIf[a]), cmp.Compare(a, b))
	})
	t := newTable(w)
	if s.WhatIfApplied {
		fmt.Fprintln(t, "REGION\tNOW\tWHAT IF\tCHANGE")
	} else {
		fmt.Fprintln(t, "REGION\tNOW")
	}
	for _, r := range regions {
		name := r
		if r == "" {
			name = "(no answer)"
		}
		if !s.WhatIfApplied {
			fmt.Fprintf(t, "%s\t%s\n", name, percent(s.Now[r]))
			continue
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%+.1f\n", name, percent(s.Now[r]), percent(s.WhatIf[r]), 100*(s.WhatIf[r]-s.Now[r]))
	}
	t.Flush()
}

func percent(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// pinMatch says how a pin matched: by one of its CIDRs, or by the
// client's AS (with the ASN database's record).
func pinMatch(p *explain.Pin) string {
	if p.By != "asn" {
		return "CIDR (" + strings.Join(p.Nets, ", ") + ")"
	}
	if a := p.ASN; a != nil {
		return fmt.Sprintf("ASN %s %q (ASN database network %s)", a.Number, a.Org, a.Network)
	}
	return "ASN (" + strings.Join(p.ASNs, ", ") + ")"
}
