package readmecheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Env is what the examples run against: README's addresses stand for
// these.
type Env struct {
	DNS string // glbd's DNS address, for every dig
	// Put and Delete write the embedded etcd, for etcdctl put and del;
	// Delete returns how many keys it deleted. (Functions, so that only
	// store imports the etcd client.)
	Put    func(ctx context.Context, key, value string) error
	Delete func(ctx context.Context, key string) (int64, error)
	// Backends maps README's backend addresses ("127.0.0.1:18003") to where
	// the dev backends really are.
	Backends map[string]string
	// Sleep waits for `sleep N`; nil means time.Sleep.
	Sleep func(time.Duration)
}

// errUnsupported marks a command the interpreter does not know: README
// examples must stay within what the check can run, or say why not.
var errUnsupported = errors.New("unsupported command")

// Run runs one example's command and returns its output.
func (e *Env) Run(ctx context.Context, command string) (string, error) {
	toks, err := tokenize(command)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	if err := e.list(ctx, toks, &out); err != nil {
		return out.String(), err
	}
	return out.String(), nil
}

// ReadOnly reports whether command only queries (dig, d, sleep, loops of
// them), so that running it again to wait for a change is harmless.
func ReadOnly(command string) bool {
	toks, err := tokenize(command)
	if err != nil {
		return false
	}
	for i, t := range toks {
		start := i == 0 || toks[i-1] == ";" || toks[i-1] == "do"
		if start && !slices.Contains([]string{"dig", "d", "sleep", "for", "do", "done"}, t) {
			return false
		}
	}
	return true
}

// list runs statements separated by ";", with for loops.
func (e *Env) list(ctx context.Context, toks []string, out io.Writer) error {
	for len(toks) > 0 {
		if toks[0] == ";" {
			toks = toks[1:]
			continue
		}
		if toks[0] == "for" {
			rest, err := e.forLoop(ctx, toks, out)
			if err != nil {
				return err
			}
			toks = rest
			continue
		}
		end := slices.Index(toks, ";")
		if end < 0 {
			end = len(toks)
		}
		if err := e.pipeline(ctx, toks[:end], out); err != nil {
			return err
		}
		toks = toks[end:]
	}
	return nil
}

// forLoop runs "for VAR in WORDS; do BODY; done" and returns the tokens
// after it. $VAR is replaced in the body.
func (e *Env) forLoop(ctx context.Context, toks []string, out io.Writer) ([]string, error) {
	do, done := slices.Index(toks, "do"), slices.Index(toks, "done")
	if len(toks) < 4 || toks[2] != "in" || do < 0 || done < do || toks[do-1] != ";" {
		return nil, fmt.Errorf("%w: a for loop other than \"for v in ...; do ...; done\"", errUnsupported)
	}
	for _, w := range toks[3 : do-1] {
		body := slices.Clone(toks[do+1 : done])
		for i := range body {
			body[i] = strings.ReplaceAll(body[i], "$"+toks[1], w)
		}
		if err := e.list(ctx, body, out); err != nil {
			return nil, err
		}
	}
	return toks[done+1:], nil
}

// pipeline runs a command whose output may go through "| grep PATTERN" and
// "| sort".
func (e *Env) pipeline(ctx context.Context, toks []string, out io.Writer) error {
	parts := [][]string{{}}
	for _, t := range toks {
		if t == "|" {
			parts = append(parts, []string{})
			continue
		}
		parts[len(parts)-1] = append(parts[len(parts)-1], t)
	}
	text, err := e.command(ctx, parts[0])
	if err != nil {
		return err
	}
	for _, f := range parts[1:] {
		lines := strings.SplitAfter(text, "\n")
		switch {
		case len(f) == 1 && f[0] == "sort":
			slices.Sort(lines)
		case len(f) == 2 && f[0] == "grep":
			lines = slices.DeleteFunc(lines, func(l string) bool { return !strings.Contains(l, f[1]) })
		default:
			return fmt.Errorf("%w: | %s", errUnsupported, strings.Join(f, " "))
		}
		text = strings.Join(lines, "")
	}
	_, err = io.WriteString(out, text)
	return err
}

// command runs one simple command.
func (e *Env) command(ctx context.Context, args []string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("empty command")
	}
	switch args[0] {
	case "export": // ETCDCTL_ENDPOINTS: etcdctl here always reaches the dev etcd
		return "", nil
	case "sleep":
		s, err := strconv.ParseFloat(strings.Join(args[1:], ""), 64)
		if err != nil {
			return "", fmt.Errorf("sleep %v: %w", args[1:], err)
		}
		sleep := e.Sleep
		if sleep == nil {
			sleep = time.Sleep
		}
		sleep(time.Duration(s * float64(time.Second)))
		return "", nil
	case "dig":
		return e.dig(ctx, args[1:])
	case "d": // README's d() { dig @127.0.0.1 -p 5353 "$@" +short | sort; }
		text, err := e.dig(ctx, append(slices.Clone(args[1:]), "+short"))
		lines := strings.SplitAfter(text, "\n")
		slices.Sort(lines)
		return strings.Join(lines, ""), err
	case "etcdctl":
		return e.etcdctl(ctx, args[1:])
	case "curl":
		return e.curl(ctx, args[1:])
	}
	return "", fmt.Errorf("%w: %s", errUnsupported, args[0])
}

// dig queries glbd over UDP with EDNS, as dig does, and prints the answer
// as dig would with +short, +noall +answer, or (for a grep of the
// CLIENT-SUBNET line) the OPT pseudo-section.
func (e *Env) dig(ctx context.Context, args []string) (string, error) {
	var name, subnet string
	qtype := dns.TypeA
	short, noall, answer := false, false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "@"): // the server: always glbd
		case a == "-p":
			i++
		case a == "+short":
			short = true
		case a == "+noall":
			noall = true
		case a == "+answer":
			answer = true
		case strings.HasPrefix(a, "+subnet="):
			subnet = strings.TrimPrefix(a, "+subnet=")
		case dns.StringToType[a] != 0:
			qtype = dns.StringToType[a]
		case strings.HasPrefix(a, "+") || strings.HasPrefix(a, "-") || name != "":
			return "", fmt.Errorf("%w: dig %s", errUnsupported, a)
		default:
			name = a
		}
	}
	r, err := e.query(ctx, name, qtype, subnet)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	switch {
	case short:
		for _, rr := range r.Answer {
			fmt.Fprintln(&b, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	case noall && answer:
		for _, rr := range r.Answer {
			fmt.Fprintln(&b, rr.String())
		}
	case noall:
	default:
		fmt.Fprintf(&b, ";; ->>HEADER<<- opcode: %s, status: %s, id: %d\n", dns.OpcodeToString[r.Opcode], dns.RcodeToString[r.Rcode], r.Id)
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if s, ok := o.(*dns.EDNS0_SUBNET); ok {
					fmt.Fprintf(&b, "; CLIENT-SUBNET: %s\n", s)
				}
			}
		}
		for _, rr := range r.Answer {
			fmt.Fprintln(&b, rr.String())
		}
	}
	return b.String(), nil
}

// query sends one query for name with an optional client subnet.
func (e *Env) query(ctx context.Context, name string, qtype uint16, subnet string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(1232)
	if subnet != "" {
		p, err := netip.ParsePrefix(subnet)
		if err != nil {
			return nil, fmt.Errorf("+subnet=%s: %w", subnet, err)
		}
		ecs := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())}
		if p.Addr().Is6() {
			ecs.Family = 2
		}
		opt.Option = append(opt.Option, ecs)
	}
	m.Extra = append(m.Extra, opt)
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, e.DNS)
	if err != nil {
		return nil, fmt.Errorf("dig %s: %w", name, err)
	}
	return r, nil
}

// etcdctl runs put and del as etcdctl does, printing what it prints.
func (e *Env) etcdctl(ctx context.Context, args []string) (string, error) {
	switch {
	case len(args) == 3 && args[0] == "put":
		if err := e.Put(ctx, args[1], args[2]); err != nil {
			return "", fmt.Errorf("etcdctl put %s: %w", args[1], err)
		}
		return "OK\n", nil
	case len(args) == 2 && args[0] == "del":
		n, err := e.Delete(ctx, args[1])
		if err != nil {
			return "", fmt.Errorf("etcdctl del %s: %w", args[1], err)
		}
		return fmt.Sprintf("%d\n", n), nil
	}
	return "", fmt.Errorf("%w: etcdctl %s", errUnsupported, strings.Join(args, " "))
}

// curl makes a GET or, with -X POST, a POST request and prints the body.
// The URL's address is one of README's backend addresses.
func (e *Env) curl(ctx context.Context, args []string) (string, error) {
	method, url := http.MethodGet, ""
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-X" && i+1 < len(args):
			method = args[i+1]
			i++
		case url == "" && !strings.HasPrefix(args[i], "-"):
			url = args[i]
		default:
			return "", fmt.Errorf("%w: curl %s", errUnsupported, args[i])
		}
	}
	hostport, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	real, ok := e.Backends[hostport]
	if !ok {
		return "", fmt.Errorf("curl %s: %s is none of the dev backends %v", url, hostport, e.Backends)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+real+"/"+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("curl %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// tokenize splits a command into words as sh would for these examples:
// quotes removed, "\n" inside quotes kept, ";" and "|" as tokens of their
// own, a ";" or newline outside quotes ending a statement.
func tokenize(s string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	inWord := false
	var q byte
	end := func() {
		if inWord {
			toks = append(toks, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0 && c == q:
			q = 0
		case q != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			q, inWord = c, true
		case c == ' ' || c == '\t':
			end()
		case c == '\n':
			end() // a continuation line of an unquoted command: one statement
		case c == ';' || c == '|':
			end()
			toks = append(toks, string(c))
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if q != 0 {
		return nil, fmt.Errorf("unterminated %c quote", q)
	}
	end()
	return toks, nil
}
