package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/glb-dns/glb/internal/logformat"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// Defaults of the global flags, documented in their help.
const (
	defaultPrefix  = schema.DefaultPrefix
	defaultGlbd    = "http://127.0.0.1:8053"
	defaultTimeout = 10 * time.Second
)

// globals are the flags every command accepts.
type globals struct {
	etcd    store.ConnFlags // --etcd-endpoints, --etcd-cacert and the other connection flags
	prefix  string          // --prefix
	glbd    string          // --glbd: glbd's HTTP address
	auth    glbdAuth        // --glbd-token-file and glbd's TLS files
	timeout time.Duration   // --timeout: of each request to etcd or glbd
	// logFormat is --log-format, of the etcd client's error lines on
	// stderr (glbctl's own messages are output, not log lines).
	logFormat logformat.Format
}

// flagSet returns a flag set with the global flags, which write into a.g:
// given before the command they become the defaults of its flag set.
func (a *app) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print every error followed by the usage; a
	// bad flag gets one line instead, and --help the usage (printed by
	// whoever sees flag.ErrHelp).
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	a.g.etcd.Register(fs)
	fs.StringVar(&a.g.prefix, "prefix", a.g.prefix, "etcd key prefix of the configuration")
	fs.StringVar(&a.g.glbd, "glbd", a.g.glbd, "glbd's HTTP address, for explain and simulate")
	a.g.auth.register(fs)
	fs.DurationVar(&a.g.timeout, "timeout", a.g.timeout, "time limit of each request to etcd or glbd")
	fs.Var(&a.g.logFormat, "log-format", logformat.Usage+", of the etcd client's errors on stderr")
	return fs
}

// commandFlags returns the flag set of a command.
func (a *app) commandFlags(c *command) *flag.FlagSet { return a.flagSet("glbctl " + c.name) }

// printHelp writes a command's help and its own flags; the global ones are
// listed by glbctl help.
func (a *app) printHelp(c *command, fs *flag.FlagSet) {
	w := a.stdout
	fmt.Fprintf(w, "Usage: glbctl %s %s\n\n%s\n", c.name, c.synopsis, strings.TrimSpace(c.help))
	own := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if !isGlobal(f.Name) {
			own.Var(f.Value, f.Name, f.Usage)
			own.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	if hasFlags(own) {
		fmt.Fprint(w, "\nFlags:\n")
		own.SetOutput(w)
		own.PrintDefaults()
	}
	fmt.Fprint(w, "\nGlobal flags: --etcd-endpoints, --etcd-cacert, --etcd-cert, --etcd-key, --etcd-user,\n"+
		"--etcd-password-file, --etcd-insecure-skip-verify, --prefix, --glbd, --glbd-token-file, --glbd-cacert,\n"+
		"--glbd-cert, --glbd-key, --timeout, --log-format (see 'glbctl help').\n")
}

func isGlobal(name string) bool {
	switch name {
	case "prefix", "glbd", "timeout", "log-format":
		return true
	}
	return strings.HasPrefix(name, "etcd-") || strings.HasPrefix(name, "glbd-")
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses flags and arguments in any order ("weight eu-west 50
// --ramp 5m" as well as "weight --ramp 5m eu-west 50"); "--" ends the
// flags. It returns the arguments, errHelp after --help, or a usage error.
func (a *app) parse(c *command, fs *flag.FlagSet, args []string) ([]string, error) {
	if a.flagsOf != nil {
		a.flagsOf(fs)
		return nil, errHelp
	}
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			a.printHelp(c, fs)
			return nil, errHelp
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if !strings.HasPrefix(a.g.prefix, "/") || !strings.HasSuffix(a.g.prefix, "/") {
		return nil, fmt.Errorf("%w: --prefix %q: must start and end with '/'", errUsage, a.g.prefix)
	}
	if a.g.timeout <= 0 {
		return nil, fmt.Errorf("%w: --timeout %s: must be positive", errUsage, a.g.timeout)
	}
	return pos, nil
}

// wantArgs checks the number of arguments.
func wantArgs(pos []string, lo, hi int, what string) error {
	if len(pos) < lo || len(pos) > hi {
		return fmt.Errorf("%w: want %s, got %d argument(s)", errUsage, what, len(pos))
	}
	return nil
}

// listFlag is a flag that may be given many times (--down a --down b);
// commas separate values too.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// endpoints returns the etcd endpoints: the flag, else $ETCDCTL_ENDPOINTS,
// else the default; http:// is added where no scheme is given, as etcdctl
// accepts both forms.
func (a *app) endpoints() []string {
	return store.ResolveEndpoints(a.g.etcd.Endpoints, a.env("ETCDCTL_ENDPOINTS"))
}

// admin connects to etcd. The client connects in the background, so an
// unreachable etcd shows as requests timing out (see etcdErr).
func (a *app) admin() (*store.Admin, func(), error) {
	cfg, err := a.g.etcd.Config(a.env)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	c, err := store.NewClient(cfg, logformat.New(a.stderr, a.g.logFormat, slog.LevelError))
	if err != nil {
		return nil, nil, err
	}
	return store.NewAdmin(c, a.g.prefix), func() { c.Close() }, nil
}

// etcdErr adds where etcd was looked for to a timeout, the usual face of
// an unreachable etcd.
func (a *app) etcdErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (is etcd reachable at %s? see --etcd-endpoints)", err, strings.Join(a.endpoints(), ","))
	}
	return err
}

// glbdURL returns glbd's base URL, http:// added when no scheme is given.
func (a *app) glbdURL() (*url.URL, error) {
	s := a.g.glbd
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: --glbd %q: want an HTTP address such as %s", errUsage, a.g.glbd, defaultGlbd)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}
