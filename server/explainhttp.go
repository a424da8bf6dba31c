package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/glb-dns/glb/server/explain"
)

// maxSimulateBody bounds the client list a POST /simulate may send.
const maxSimulateBody = 8 << 20

// ExplainHTTP serves GET /explain?name=&client=&type=&ecs=&down=&up=&weight=r:n&load=r:u
// as JSON (see Explanation).
func (h *Handler) ExplainHTTP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		req := ExplainRequest{Name: v.Get("name"), ECSSource: -1}
		var err error
		if req.Client, err = netip.ParseAddr(v.Get("client")); err != nil {
			httpError(w, http.StatusBadRequest, fmt.Errorf("client %q is not an IP address", v.Get("client")))
			return
		}
		if req.Qtype, err = parseQtype(v.Get("type")); err != nil {
			httpError(w, http.StatusBadRequest, err)
			return
		}
		if s := v.Get("ecs"); s != "" {
			if req.ECSSource, err = strconv.Atoi(s); err != nil || req.ECSSource < 0 || req.ECSSource > 128 {
				httpError(w, http.StatusBadRequest, fmt.Errorf("ecs %q: want a source prefix length", s))
				return
			}
		}
		if req.WhatIf, err = parseWhatIf(v); err != nil {
			httpError(w, http.StatusBadRequest, err)
			return
		}
		ex, err := h.Explain(req)
		if err != nil {
			httpError(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, ex)
	})
}

// SimulateHTTP serves GET /simulate?name=&type=&down=&up=&weight=r:n&load=r:u over the
// GeoIP database's networks, or POST with client addresses one per line.
func (h *Handler) SimulateHTTP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		req := SimulateRequest{Name: v.Get("name")}
		var err error
		if req.Qtype, err = parseQtype(v.Get("type")); err != nil {
			httpError(w, http.StatusBadRequest, err)
			return
		}
		if req.WhatIf, err = parseWhatIf(v); err != nil {
			httpError(w, http.StatusBadRequest, err)
			return
		}
		if r.Method == http.MethodPost {
			// Over the bound is an error, never a list silently cut
			// short: a simulation of part of the clients would look
			// like an answer about all of them.
			// The reader's error sticks: asked again, it says whether
			// the list was cut, which a parse error on the cut line, or
			// a line too long, would otherwise hide.
			body := http.MaxBytesReader(w, r.Body, maxSimulateBody)
			req.Clients, err = readClients(body)
			if _, cut := body.Read(nil); r.ContentLength > maxSimulateBody || errors.As(cut, new(*http.MaxBytesError)) {
				httpError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("client list over %d MiB: send a sample", maxSimulateBody>>20))
				return
			}
			if err != nil {
				httpError(w, http.StatusBadRequest, err)
				return
			}
		}
		sim, err := h.Simulate(req)
		if err != nil {
			httpError(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, sim)
	})
}

func parseQtype(s string) (uint16, error) {
	switch strings.ToUpper(s) {
	case "", "A":
		return dns.TypeA, nil
	case "AAAA":
		return dns.TypeAAAA, nil
	}
	return 0, fmt.Errorf("type %q: want A or AAAA", s)
}

// parseWhatIf reads repeated down=, up=, weight=region:n,
// load=region:utilization and name_weight=region:n parameters, and at=
// (checked by whatIf, which has the clock).
func parseWhatIf(v map[string][]string) (explain.WhatIf, error) {
	w := explain.WhatIf{Down: v["down"], Up: v["up"]}
	if at := v["at"]; len(at) > 0 {
		w.At = at[len(at)-1]
	}
	var err error
	if w.Weights, err = parseRegionInts("weight", v["weight"]); err != nil {
		return w, err
	}
	if w.NameWeights, err = parseRegionInts("name_weight", v["name_weight"]); err != nil {
		return w, err
	}
	if err := parseWhatIfTraffic(&w, v); err != nil {
		return w, err
	}
	for _, s := range v["load"] {
		id, n, ok := strings.Cut(s, ":")
		load, err := strconv.ParseFloat(n, 64)
		if !ok || err != nil {
			return w, fmt.Errorf("load %q: want region:utilization, e.g. eu-west:0.9", s)
		}
		if w.Loads == nil {
			w.Loads = map[string]float64{}
		}
		w.Loads[id] = load
	}
	return w, nil
}

// parseRegionInts reads region:n values of a parameter; nil when none.
func parseRegionInts(param string, vals []string) (map[string]int, error) {
	var out map[string]int
	for _, s := range vals {
		id, n, ok := strings.Cut(s, ":")
		weight, err := strconv.Atoi(n)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s %q: want region:n", param, s)
		}
		if out == nil {
			out = map[string]int{}
		}
		out[id] = weight
	}
	return out, nil
}

func readClients(r io.Reader) ([]netip.Addr, error) {
	clients := []netip.Addr{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not an IP address", line, s)
		}
		clients = append(clients, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read client list: %w", err)
	}
	return clients, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func httpError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
