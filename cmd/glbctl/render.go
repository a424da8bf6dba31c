package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// explainResponse is glbd's /explain document.
type explainResponse struct {
	Name      string `json:"name"`
	Zone      string `json:"zone"`
	Type      string `json:"type"`
	Client    string `json:"client"`
	ECSSource int    `json:"ecs_source"`
	Location  struct {
		Found       bool    `json:"found"`
		Country     string  `json:"country"`
		Continent   string  `json:"continent"`
		Subdivision string  `json:"subdivision"`
		Lat         float64 `json:"lat"`
		Lon         float64 `json:"lon"`
		Network     string  `json:"network"`
	} `json:"location"`
	Policy string `json:"policy"`
	Fence  struct {
		Rule    string   `json:"rule"`
		Allowed []string `json:"allowed"`
	} `json:"fence"`
	Regions []explainRegion `json:"regions"`
	Tier    []string        `json:"tier"`
	Rule    string          `json:"rule"`
	Chosen  string          `json:"chosen"`
	Rcode   string          `json:"rcode"`
	Answer  []string        `json:"answer"`
	TTL     int             `json:"ttl"`
	Scope   int             `json:"scope"`
	WhatIf  *whatIfEcho     `json:"what_if"`
}

type explainRegion struct {
	ID         string            `json:"id"`
	Weight     int               `json:"weight"`
	Up         bool              `json:"up"`
	Checked    bool              `json:"checked"`
	FencedOut  bool              `json:"fenced_out"`
	HasFamily  bool              `json:"has_family"`
	DistanceKm *float64          `json:"distance_km"`
	RTTms      *float64          `json:"rtt_ms"`
	Score      *float64          `json:"score"`
	InTier     bool              `json:"in_tier"`
	Endpoints  []explainEndpoint `json:"endpoints"`
}

type explainEndpoint struct {
	Endpoint string                   `json:"endpoint"`
	Up       bool                     `json:"up"`
	UpVotes  int                      `json:"up_votes"`
	Votes    int                      `json:"votes"`
	Reports  map[string]explainReport `json:"reports"`
}

type explainReport struct {
	Up         bool    `json:"up"`
	RTT        string  `json:"rtt"`
	AgeSeconds float64 `json:"age_seconds"`
}

// whatIfEcho is the hypothesis glbd says it applied.
type whatIfEcho struct {
	Down   []string       `json:"down"`
	Up     []string       `json:"up"`
	Weight map[string]int `json:"weight"`
}

func (w *whatIfEcho) String() string {
	if w == nil {
		return ""
	}
	var parts []string
	if len(w.Down) > 0 {
		parts = append(parts, "down "+strings.Join(w.Down, ", "))
	}
	if len(w.Up) > 0 {
		parts = append(parts, "up "+strings.Join(w.Up, ", "))
	}
	for _, r := range slices.Sorted(maps.Keys(w.Weight)) {
		parts = append(parts, fmt.Sprintf("weight %s:%d", r, w.Weight[r]))
	}
	return strings.Join(parts, "; ")
}

func renderExplain(w io.Writer, e *explainResponse) {
	fmt.Fprintf(w, "%s %s for client %s (ECS source /%d), zone %s\n", e.Name, e.Type, e.Client, e.ECSSource, e.Zone)
	if l := e.Location; l.Found {
		var where []string
		for _, s := range []string{l.Country, l.Continent, l.Subdivision} {
			if s != "" {
				where = append(where, s)
			}
		}
		fmt.Fprintf(w, "client location: %s at %.2f,%.2f (GeoIP network %s)\n", strings.Join(where, " "), l.Lat, l.Lon, l.Network)
	} else {
		fmt.Fprintln(w, "client location: not in the GeoIP database")
	}
	fence := "none"
	if e.Fence.Rule != "" {
		fence = fmt.Sprintf("rule %s allows %s", e.Fence.Rule, strings.Join(e.Fence.Allowed, ", "))
	}
	fmt.Fprintf(w, "policy: %s; geofence: %s\n", e.Policy, fence)
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
			ptrText(r.DistanceKm, " km", 0), ptrText(r.RTTms, " ms", 1), ptrText(r.Score, "", 1), notes(e, r))
	}
	t.Flush()
	fmt.Fprintln(w)

	chosen := e.Chosen
	if chosen == "" {
		chosen = "none"
	}
	fmt.Fprintf(w, "tier: %s\n", dash(strings.Join(e.Tier, ", ")))
	fmt.Fprintf(w, "rule: %s; chosen: %s\n", dash(e.Rule), chosen)
	fmt.Fprintf(w, "answer: %s, TTL %d, ECS scope /%d\n", e.Rcode, e.TTL, e.Scope)
	for _, rr := range e.Answer {
		fmt.Fprintf(w, "  %s\n", rr)
	}
}

// renderExplainEndpoints lists the candidates' endpoints, one row per
// prober report, as glbctl status does.
func renderExplainEndpoints(w io.Writer, e *explainResponse) {
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
func notes(e *explainResponse, r explainRegion) string {
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
	if r.FencedOut {
		n = append(n, "fenced out")
	}
	if !r.HasFamily {
		n = append(n, "no "+e.Type+" address")
	}
	return strings.Join(n, ", ")
}

// simulateResponse is glbd's /simulate document: shares of the clients
// per region ("" for clients that get no answer).
type simulateResponse struct {
	Name          string             `json:"name"`
	Type          string             `json:"type"`
	Basis         string             `json:"basis"`
	Clients       int                `json:"clients"`
	Now           map[string]float64 `json:"now"`
	WhatIf        map[string]float64 `json:"what_if"`
	WhatIfApplied bool               `json:"what_if_applied"`
}

func renderSimulate(w io.Writer, s *simulateResponse, hypothesis string) {
	fmt.Fprintf(w, "%s %s: %d clients (%s)\n", s.Name, s.Type, s.Clients, s.Basis)
	if s.WhatIfApplied && hypothesis != "" {
		fmt.Fprintf(w, "what if: %s\n", hypothesis)
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
