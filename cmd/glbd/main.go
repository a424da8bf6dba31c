// Command glbd is glb's authoritative DNS server: it answers A/AAAA queries
// for the names of its zones with the addresses of the nearest region, from
// a configuration kept in etcd.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/glb-dns/glb/geo"
	"github.com/glb-dns/glb/internal/logformat"
	"github.com/glb-dns/glb/internal/version"
	"github.com/glb-dns/glb/server/transport"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// Config is glbd's command-line configuration.
type Config struct {
	DNSAddr  string   // -dns: UDP and TCP listen address
	HTTPAddr string   // -http: metrics and health listen address
	Etcd     []string // -etcd-endpoints (or -etcd): etcd endpoints
	// EtcdConn is how to connect to etcd besides the endpoints, which are
	// Etcd's: TLS files and user (-etcd-cacert and the rest, or etcdctl's
	// ETCDCTL_* variables).
	EtcdConn store.Config
	Prefix   string // -prefix: etcd key prefix
	GeoIP    string // -geoip: path of the .mmdb database
	// GeoIPPoll is how often the GeoIP file is checked for a new version
	// (-geoip-poll); 0 turns polling off, leaving SIGHUP.
	GeoIPPoll time.Duration
	// GeoIPASN is the ASN database's path (-geoip-asn), which resolves
	// ASN pins; "" runs without one (ASNs pin nothing).
	GeoIPASN string
	// CacheFile is where the last good configuration is kept, to serve when
	// etcd is unreachable at start-up (-cache-file); "" turns it off.
	CacheFile string
	// cacheDefault is set when CacheFile is the default rather than given:
	// a default that cannot be written is a warning, a given one an error.
	cacheDefault bool
	LogLevel     slog.Level
	LogFormat    logformat.Format // -log-format: text or json
	Quorum       float64          // -health-quorum: share of fresh probers that must report an endpoint up
	Dev          bool             // -dev: embedded etcd, seeded example configuration
	DevEtcd      string           // -dev-etcd: client address of the embedded etcd
	DevDataDir   string           // -dev-data-dir: "" means a temporary directory
	DevSeed      string           // -dev-seed: example configuration written into an empty prefix
	DevProber    string           // -dev-prober-location: "lat,lon" of the in-process dev prober
	// Instance names this glbd on its status page (-instance).
	Instance string
	// Query logs, off by default.
	Dnstap         string       // -dnstap: a file, or unix:/path for a collector
	DnstapIdentity string       // -dnstap-identity
	QueryLogSample float64      // -query-log-sample: share of queries logged as JSON lines on stdout
	Runtime        runtimeFlags // -pprof, -memory-limit (pprof.go)
	// NameMetrics labels answers and outcomes with the name (-name-metrics);
	// off, with the zone's "*" only.
	NameMetrics bool

	Limits limitFlags // -rrl-* and -cookie-secret-file (flags_limits.go)
	// TCP holds the DNS-over-TCP limits, -tcp-* (flags_tcp.go).
	TCP transport.TCPLimits
	// HTTP secures the -http listener: TLS, mTLS, the bearer token, and
	// the /simulate bound, -http-* (flags_http.go).
	HTTP httpFlags
	// ListenBeforeReady binds DNS at once, answering SERVFAIL until the
	// first configuration (-listen-before-ready); by default DNS is bound
	// only once a configuration is loaded, for rolling restarts.
	ListenBeforeReady bool
	NotifySocket      string // $NOTIFY_SOCKET: systemd's, for READY=1 (notify.go)
	ShowVersion       bool   // -version: print the version line and exit
}

// Defaults, documented in -h and README.md.
const (
	defaultDNS      = ":53"
	defaultDevDNS   = "127.0.0.1:5353"
	defaultHTTP     = "127.0.0.1:8053"
	defaultDevEtcd  = "127.0.0.1:2379"
	defaultDevSeed  = "testdata/dev/config.json"
	defaultDevGeoIP = "testdata/geoip/glb-test-city.mmdb"
	defaultCache    = "/var/lib/glbd/cache.json"
	minGeoIPPoll    = 100 * time.Millisecond
)

// errUsage marks a bad command line: exit status 2, like the flag package.
var errUsage = errors.New("usage")

// badFileError marks a file named on the command line that cannot be used
// (the GeoIP database, the dev seed, the cache file): exit status 2 like a
// bad flag, since starting again will not help until the file is fixed.
type badFileError struct{ error }

func (e badFileError) Unwrap() error { return e.error }

// parseFlags reads the command line. env looks up environment variables
// (ETCDCTL_ENDPOINTS), so tests need not touch the process environment.
func parseFlags(args []string, env func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("glbd", flag.ContinueOnError)
	fs.StringVar(&c.DNSAddr, "dns", "", "UDP and TCP address for DNS (default \""+defaultDNS+"\", or \""+defaultDevDNS+"\" with -dev)")
	fs.StringVar(&c.HTTPAddr, "http", defaultHTTP, "HTTP address for /metrics, /healthz and /readyz")
	var conn store.ConnFlags
	conn.Register(fs, "etcd")
	fs.StringVar(&c.Prefix, "prefix", schema.DefaultPrefix, "etcd key prefix of the configuration")
	fs.StringVar(&c.GeoIP, "geoip", "", "path of a GeoIP2/GeoLite2/DB-IP City .mmdb database (required; with -dev default \""+defaultDevGeoIP+"\")")
	fs.StringVar(&c.GeoIPASN, "geoip-asn", "", "path of a GeoLite2-ASN or DB-IP ASN .mmdb database, to pin clients by ASN (\"AS64500\" in /glb/nets/<collection>); reloaded like -geoip (default: none, ASNs pin nothing)")
	fs.DurationVar(&c.GeoIPPoll, "geoip-poll", geo.DefaultPollInterval, "how often to check the -geoip file for a new version and reload it (0: only on SIGHUP)")
	cache := fs.String("cache-file", "", "file keeping the last good configuration, served when etcd is unreachable at start-up; \"\" turns it off (default \""+defaultCache+"\", off with -dev)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.Var(&c.LogFormat, "log-format", logformat.Usage)
	fs.StringVar(&c.Instance, "instance", "", "name of this instance on the status page and in /status.json (default: the host name, and the DNS address with -dev)")
	fs.Float64Var(&c.Quorum, "health-quorum", 0.5, "an endpoint is up when more than this share of the fresh probers reporting on it say up (0 < q < 1)")
	fs.BoolVar(&c.Dev, "dev", false, "dev mode: start an embedded etcd, seed it with an example configuration, use the test GeoIP database")
	fs.StringVar(&c.DevEtcd, "dev-etcd", defaultDevEtcd, "with -dev: client address of the embedded etcd")
	fs.StringVar(&c.DevDataDir, "dev-data-dir", "", "with -dev: data directory of the embedded etcd (default: a temporary directory removed at exit)")
	fs.StringVar(&c.DevSeed, "dev-seed", defaultDevSeed, "with -dev: example configuration written into an empty prefix")
	fs.StringVar(&c.DevProber, "dev-prober-location", "50.11,8.68", "with -dev: lat,lon of the in-process prober (default Frankfurt)")
	fs.StringVar(&c.Dnstap, "dnstap", "", "dnstap log of every query: a file (replaced at start) or unix:/path/to.sock for a collector (default off)")
	fs.StringVar(&c.DnstapIdentity, "dnstap-identity", "", "identity in dnstap messages (default: the host name)")
	fs.BoolVar(&c.ListenBeforeReady, "listen-before-ready", false, "bind the DNS port at start-up and answer SERVFAIL until a configuration is loaded (default: bind once it is, so that an instance joining a shared port in a rolling restart answers at once)")
	c.Runtime.register(fs)
	fs.BoolVar(&c.NameMetrics, "name-metrics", true, "label glb_dns_answers_total and the outcome counters with each name; false counts them per zone (name=\"*\"): with thousands of names the per-name series are most of glbd's memory")
	fs.Float64Var(&c.QueryLogSample, "query-log-sample", 0, "share of queries logged as JSON lines on stdout, 0 to 1 (default 0: off)")
	c.Limits.register(fs)
	tcpFlags(fs, &c.TCP)
	c.HTTP.register(fs)
	fs.BoolVar(&c.ShowVersion, "version", false, "print the version, git revision and Go version, and exit")
	// The flag package prints the usage on every parse error; a bad value
	// should be one line naming the flag (run prints it), so the usage is
	// printed here, and only for -h.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "Usage: glbd [flags]\n\nglbd answers DNS queries for the zones configured in etcd with the nearest healthy region.\n\nFlags:\n")
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return c, err
		}
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if c.ShowVersion { // needs no other flag
		return c, nil
	}
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return c, fmt.Errorf("%w: -log-level %q: want debug, info, warn or error", errUsage, *level)
	}
	if c.DNSAddr == "" {
		c.DNSAddr = defaultDNS
		if c.Dev {
			c.DNSAddr = defaultDevDNS
		}
	}
	if c.GeoIP == "" && c.Dev {
		c.GeoIP = defaultDevGeoIP
	}
	if c.Instance == "" {
		c.Instance = defaultInstance(c)
	}
	c.CacheFile = *cache
	cacheSet := false
	fs.Visit(func(f *flag.Flag) { cacheSet = cacheSet || f.Name == "cache-file" })
	if !cacheSet && !c.Dev {
		c.CacheFile, c.cacheDefault = defaultCache, true
	}
	c.NotifySocket = env("NOTIFY_SOCKET")
	var connErr error
	if c.Dev {
		// The embedded etcd has no TLS or users: any connection flag is
		// refused by validate, and the environment is not read.
		c.Etcd = store.ParseEndpoints(conn.Endpoints)
		if conn != (store.ConnFlags{Endpoints: conn.Endpoints}) {
			connErr = errors.New("-etcd-*: not with -dev, which runs its own etcd without TLS or users")
		}
	} else if c.EtcdConn, connErr = conn.Config(env); connErr == nil {
		c.Etcd, c.EtcdConn.Endpoints = c.EtcdConn.Endpoints, nil
	}
	c.Limits.resolve()
	if err := c.validate(); err != nil || connErr != nil {
		return c, errors.Join(err, usageErr(connErr))
	}
	return c, nil
}

// validate checks the configuration; each error names its flag.
func (c Config) validate() error {
	var errs []error
	for _, a := range []struct{ flag, addr string }{{"-dns", c.DNSAddr}, {"-http", c.HTTPAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: want host:port", a.flag, a.addr))
		}
	}
	if c.GeoIP == "" {
		errs = append(errs, errors.New("-geoip: a GeoIP City database is required (or use -dev)"))
	}
	if _, _, err := parseLatLon(c.DevProber); c.Dev && err != nil {
		errs = append(errs, fmt.Errorf("-dev-prober-location: %w", err))
	}
	if c.GeoIPPoll < 0 || (c.GeoIPPoll > 0 && c.GeoIPPoll < minGeoIPPoll) {
		errs = append(errs, fmt.Errorf("-geoip-poll %s: want 0 (off) or at least %s", c.GeoIPPoll, minGeoIPPoll))
	}
	if c.CacheFile != "" && strings.HasSuffix(c.CacheFile, "/") {
		errs = append(errs, fmt.Errorf("-cache-file %q: want a file, not a directory", c.CacheFile))
	}
	if !(c.QueryLogSample >= 0 && c.QueryLogSample <= 1) {
		errs = append(errs, fmt.Errorf("-query-log-sample %v: must be between 0 and 1", c.QueryLogSample))
	}
	if !(c.Quorum > 0 && c.Quorum < 1) {
		errs = append(errs, fmt.Errorf("-health-quorum %v: must be between 0 and 1, exclusive", c.Quorum))
	}
	if !strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("-prefix %q: must start and end with '/'", c.Prefix))
	}
	errs = append(errs, validateTCP(c.TCP))
	errs = append(errs, c.HTTP.validate())
	if c.Dev && len(c.Etcd) > 0 {
		errs = append(errs, errors.New("-etcd-endpoints: not with -dev, which runs its own etcd (see -dev-etcd)"))
	}
	errs = append(errs, c.Limits.err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return nil
}

// usageErr marks err, if any, as a bad command line.
func usageErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", errUsage, err)
}

func main() {
	spareP()
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// spareP raises GOMAXPROCS by one unless the operator set it: the UDP
// readers, one per CPU, block in recvmmsg holding a P each, and the rest
// of glbd (etcd, health checks, HTTP, rebuilds) needs one to run on
// meanwhile (server/transport/udpblock.go).
func spareP() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
}

// run is main with its dependencies passed in; it returns the exit status:
// 0 after a clean shutdown, 1 on a runtime error, 2 on a bad command line
// or a file it names that cannot be used.
func run(args []string, env func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, env, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "glbd: %s\n", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "usage: "), "\n", "; "))
		return 2
	}
	if cfg.ShowVersion {
		fmt.Fprintln(stdout, version.Get().String("glbd"))
		return 0
	}
	log := logformat.New(stderr, cfg.LogFormat, cfg.LogLevel)
	cfg.Runtime.apply()
	// SIGTERM and SIGINT cancel ctx, which starts the graceful shutdown;
	// a second one kills the process (NotifyContext stops catching them).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reloads the GeoIP database. Caught from here on, since its
	// default action would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	a, err := newApp(ctx, cfg, log, stdout)
	if errors.As(err, new(badFileError)) {
		fmt.Fprintf(stderr, "glbd: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return 2
	} else if err != nil {
		fmt.Fprintf(stderr, "glbd: %s\n", err)
		return 1
	}
	a.hup = hup
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "glbd: %s\n", err)
		return 1
	}
	return 0
}
