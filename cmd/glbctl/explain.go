package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/glb-dns/glb/server/explain"
	"github.com/glb-dns/glb/store/schema"
)

// maxResponse bounds what glbctl reads from glbd.
const maxResponse = 16 << 20

var explainCmd = &command{
	name:     "explain",
	synopsis: "<name> <client-ip> [--type A|AAAA] [--down <region>]... [--up <region>]... [--weight <region>:<n>]... [--load <region>=<u>]... [--name-weight <region>:<n>]... [--at <time>] [--admin <region>[/<endpoint>]:<state>]... [--pin <coll>/<loc>:<regions>]... [--nets <coll>/<loc>:<nets>]... [--endpoints] [-o table|json|yaml]",
	summary:  "ask glbd why a client gets the answer it gets",
	help: `Asks glbd (--glbd, its HTTP address) how it answers <name> (a full name,
or label.zone) for a client at <client-ip>: where the client is, which
regions are candidates with their weight, health and distance or RTT,
which ones the geofence leaves out, the nearest tier, the rule that
decided, and the answer with its TTL and ECS scope. --endpoints adds each
candidate's endpoints with the probers' reports on them.

--down, --up, --weight and --load answer "what if": the regions are
treated as down, up, with that weight, or at that load (utilization,
e.g. eu-west=0.9: shedding by its watermarks) for this one answer;
nothing is changed.
--name-weight is a weight for the asked name only, as glbctl weight --name.
--at evaluates drain schedules at that time (RFC 3339, or +10m from now):
"what will step 2 do?".
--admin sets an admin state as glbctl admin would: eu-west:down,
eu-west/192.0.2.10:up, "eu-west:down until 2026-12-06T08:00:00Z", or
eu-west:none for none. --pin tries a pin of the asked name
(corp/office:us-east,eu-west, or corp/office:none to drop it), --nets a
location of a network collection (corp/office:81.2.69.0/24,AS64500, or
:none): as if the keys held them, checked as they would be. The answer
says when a pin (by CIDR or by ASN) or an admin state decided.
A name that is not a GSLB name (no such name, or a static record) is an
error, as in simulate. -o json and -o yaml write glbd's /explain document.

  glbctl explain www.gslb.example.test 81.2.69.160
  glbctl explain www.gslb.example.test 81.2.69.160 --down eu-west`,
	run: runExplain,
}

var simulateCmd = &command{
	name:     "simulate",
	synopsis: "<name> [--type A|AAAA] [--down <region>]... [--up <region>]... [--weight <region>:<n>]... [--load <region>=<u>]... [--name-weight <region>:<n>]... [--at <time>] [--admin <region>[/<endpoint>]:<state>]... [--pin <coll>/<loc>:<regions>]... [--nets <coll>/<loc>:<nets>]... [--clients <file>] [-o table|json|yaml]",
	summary:  "ask glbd how traffic would split between regions, now and if",
	help: `Asks glbd (--glbd) how the answers for <name> split between regions,
as shares of the clients: now, and under the hypothesis given by --down,
--up, --weight, --load, --name-weight and --at (nothing is changed). The clients are glbd's choice
(the networks of its GeoIP database), or the addresses in --clients, one
per line (# comments and blank lines are skipped; - reads stdin).
--admin, --pin and --nets are explain's; pins only count for --clients
(the GeoIP networks are counted by location, where pins cannot be seen).
-o json and -o yaml write glbd's /simulate document.

  glbctl simulate www.gslb.example.test --down eu-west`,
	run: runSimulate,
}

// whatIf are the hypothesis flags shared by explain and simulate.
type whatIf struct {
	rtype  string
	down   listFlag
	up     listFlag
	weight listFlag
	load   listFlag
	// nameWeight: per-name weights of the asked name, region:n
	nameWeight listFlag
	at         string
	// admin, pin and nets: traffic operations tried (whatif_traffic.go)
	admin, pin, nets repeatFlag
}

func (a *app) whatIfFlags(c *command) (*flag.FlagSet, *whatIf) {
	fs := a.commandFlags(c)
	w := &whatIf{}
	fs.StringVar(&w.rtype, "type", "A", "query type: A or AAAA")
	fs.Var(&w.down, "down", "treat this region as down (repeatable)")
	fs.Var(&w.up, "up", "treat this region as up (repeatable)")
	fs.Var(&w.weight, "weight", "treat a region as having this weight, as region:n (repeatable)")
	fs.Var(&w.load, "load", "treat a region as having this load (utilization), as region=0.9 or region:0.9 (repeatable)")
	fs.Var(&w.nameWeight, "name-weight", "treat a region as having this weight for the asked name only, as region:n (repeatable)")
	fs.StringVar(&w.at, "at", "", "evaluate drain schedules at this time: RFC 3339, or +<duration> from now (e.g. +10m)")
	fs.Var(&w.admin, "admin", "treat a region or endpoint as having this admin state, as eu-west:down, eu-west/192.0.2.10:up or eu-west:none (repeatable)")
	fs.Var(&w.pin, "pin", "treat the asked name as pinning a location to regions, as corp/office:us-east,eu-west or corp/office:none (repeatable)")
	fs.Var(&w.nets, "nets", "treat a network collection's location as listing these CIDRs and ASNs, as corp/office:81.2.69.0/24,AS64500 or corp/office:none (repeatable)")
	return fs, w
}

// query checks the flags and adds them to q.
func (w *whatIf) query(q url.Values) error {
	t := strings.ToUpper(w.rtype)
	if t != "A" && t != "AAAA" {
		return fmt.Errorf("%w: --type %q: want A or AAAA", errUsage, w.rtype)
	}
	q.Set("type", t)
	for _, r := range append(append([]string{}, w.down...), w.up...) {
		if err := checkRegion(r); err != nil {
			return err
		}
	}
	for _, r := range w.down {
		q.Add("down", r)
	}
	if w.at != "" {
		q.Set("at", w.at)
	}
	for _, r := range w.up {
		q.Add("up", r)
	}
	if err := addRegionWeights(q, "weight", w.weight); err != nil {
		return err
	}
	for _, rl := range w.load {
		r, v, ok := splitLoad(rl)
		if !ok {
			return fmt.Errorf("%w: --load %q: want region=utilization, e.g. eu-west=0.9", errUsage, rl)
		}
		if err := checkRegion(r); err != nil {
			return err
		}
		if _, err := schema.ParseLoad([]byte(v)); err != nil {
			return fmt.Errorf("%w: --load %q: %w", errUsage, rl, err)
		}
		q.Add("load", r+":"+strings.TrimSpace(v))
	}
	if err := w.trafficQuery(q); err != nil {
		return err
	}
	return addRegionWeights(q, "name_weight", w.nameWeight)
}

// addRegionWeights checks region:n values of a flag and adds them to q as
// the parameter of the same name.
func addRegionWeights(q url.Values, param string, vals []string) error {
	flagName := "--" + strings.ReplaceAll(param, "_", "-")
	for _, rw := range vals {
		r, n, ok := strings.Cut(rw, ":")
		if !ok {
			return fmt.Errorf("%w: %s %q: want region:n", errUsage, flagName, rw)
		}
		if err := checkRegion(r); err != nil {
			return err
		}
		if _, err := schema.ParseWeight([]byte(n)); err != nil {
			return fmt.Errorf("%w: %s %q: %w", errUsage, flagName, rw, err)
		}
		q.Add(param, r+":"+strings.TrimSpace(n))
	}
	return nil
}

// describe says what the flags suppose, for simulate's header.
func (w *whatIf) describe() string {
	e := &explain.WhatIf{Down: w.down, Up: w.up, Weights: map[string]int{}, NameWeights: map[string]int{}}
	for _, rw := range w.weight {
		r, n, _ := strings.Cut(rw, ":")
		e.Weights[r], _ = strconv.Atoi(strings.TrimSpace(n))
	}
	for _, rl := range w.load {
		r, v, _ := splitLoad(rl)
		if e.Loads == nil {
			e.Loads = map[string]float64{}
		}
		e.Loads[r], _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
	}
	for _, rw := range w.nameWeight {
		r, n, _ := strings.Cut(rw, ":")
		e.NameWeights[r], _ = strconv.Atoi(strings.TrimSpace(n))
	}
	w.describeTraffic(e)
	return e.String()
}

// splitLoad splits a --load value, region=u or region:u.
func splitLoad(s string) (region, load string, ok bool) {
	if region, load, ok = strings.Cut(s, "="); ok {
		return region, load, ok
	}
	return strings.Cut(s, ":")
}

// checkRegion refuses what cannot be a region id, through the schema's own
// key parser.
func checkRegion(r string) error {
	if _, err := schema.ParseKey("/", schema.RegionKey("/", r)); err != nil || strings.Contains(r, "/") {
		return fmt.Errorf("%w: %q is not a region id", errUsage, r)
	}
	return nil
}

func runExplain(ctx context.Context, a *app, c *command, args []string) error {
	fs, w := a.whatIfFlags(c)
	endpoints := fs.Bool("endpoints", false, "also list each candidate's endpoints with every prober's report")
	output := outputFlag(fs)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 2, 2, "<name> <client-ip>"); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	client, err := netip.ParseAddr(pos[1])
	if err != nil {
		return fmt.Errorf("%w: client %q is not an IP address", errUsage, pos[1])
	}
	q := url.Values{"name": {pos[0]}, "client": {client.String()}}
	if err := w.query(q); err != nil {
		return err
	}
	var raw json.RawMessage
	if err := a.callGlbd(ctx, http.MethodGet, "/explain", q, nil, &raw); err != nil {
		return err
	}
	var resp explain.Explanation
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("decode glbd's answer: %w", err)
	}
	// glbd explains any name it is asked about; one that is not a GSLB
	// name has no policy and no candidates, which is no explanation.
	// Fail as simulate does, saying what glbd answers instead.
	if resp.Policy == "" {
		return fmt.Errorf("glbd: %s is not a GSLB name (glbd answers it %s with %d record(s))", resp.Name, resp.Rcode, len(resp.Answer))
	}
	if *output != outTable {
		return a.writeDoc(*output, raw)
	}
	renderExplain(a.stdout, &resp)
	if *endpoints {
		fmt.Fprintln(a.stdout)
		renderExplainEndpoints(a.stdout, &resp)
	}
	return nil
}

// callGlbd sends one request to glbd and decodes its JSON answer into out;
// a non-200 answer carries {"error": "..."}.
func (a *app) callGlbd(ctx context.Context, method, path string, q url.Values, body io.Reader, out any) error {
	base, err := a.glbdURL()
	if err != nil {
		return err
	}
	u := base.JoinPath(path)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("glbd request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain")
	}
	token, err := a.g.auth.token()
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client, err := a.g.auth.client(a.http)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("ask glbd at %s (see --glbd): %w", base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("read glbd's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("glbd at %s answered %s: give its API token with --glbd-token-file", base, resp.Status)
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return fmt.Errorf("glbd: %s", e.Error)
		}
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("glbd at %s answered %s: is it a glbd that serves %s?", base, resp.Status, path)
		}
		return fmt.Errorf("glbd at %s answered %s", u.Redacted(), resp.Status)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode glbd's answer from %s: %w", u.Redacted(), err)
	}
	return nil
}

func runSimulate(ctx context.Context, a *app, c *command, args []string) error {
	fs, w := a.whatIfFlags(c)
	clients := fs.String("clients", "", "file of client addresses, one per line (- for stdin; default: glbd's GeoIP networks)")
	output := outputFlag(fs)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, 1, "<name>"); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	q := url.Values{"name": {pos[0]}}
	if err := w.query(q); err != nil {
		return err
	}
	method, body := http.MethodGet, io.Reader(nil)
	if *clients != "" {
		list, err := a.readClients(*clients)
		if err != nil {
			return err
		}
		method, body = http.MethodPost, strings.NewReader(list)
	}
	var raw json.RawMessage
	if err := a.callGlbd(ctx, method, "/simulate", q, body, &raw); err != nil {
		return err
	}
	if *output != outTable {
		return a.writeDoc(*output, raw)
	}
	var resp explain.Simulation
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("decode glbd's answer: %w", err)
	}
	renderSimulate(a.stdout, &resp, w.describe())
	return nil
}

// readClients reads a file of client addresses, one per line, and checks
// each, so that a typo is reported with its line here rather than as a
// bad request.
func (a *app) readClients(file string) (string, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(a.stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return "", fmt.Errorf("read clients: %w: %w", err, errBadFile)
	}
	var b strings.Builder
	n := 0
	for i, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		addr, err := netip.ParseAddr(line)
		if err != nil {
			return "", fmt.Errorf("%s:%d: %q is not an IP address: %w", file, i+1, line, errBadFile)
		}
		b.WriteString(addr.String() + "\n")
		n++
	}
	if n == 0 {
		return "", errors.New(file + ": no client addresses")
	}
	return b.String(), nil
}

func ptrText(v *float64, unit string, prec int) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64) + unit
}
