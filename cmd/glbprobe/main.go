// Command glbprobe is glb's prober agent: it checks every endpoint of every
// region configured in etcd and writes its verdicts back into etcd under a
// lease, so that the DNS servers answer only with regions that work, and a
// prober that dies takes its results with it.
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glb-dns/glb/health"
	"github.com/glb-dns/glb/internal/logformat"
	"github.com/glb-dns/glb/internal/version"
	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema"
)

// Config is glbprobe's command-line configuration.
type Config struct {
	ID       string   // -id: prober id, in its etcd keys
	Lat, Lon float64  // -location: where the prober is, in degrees
	Country  string   // -country: optional ISO 3166-1 alpha-2 code
	Etcd     []string // -etcd-endpoints (or -etcd): etcd endpoints
	// EtcdConn is how to connect to etcd besides the endpoints, which are
	// Etcd's: TLS files and user (-etcd-cacert and the rest, or etcdctl's
	// ETCDCTL_* variables).
	EtcdConn store.Config
	Prefix   string // -prefix: etcd key prefix
	HTTPAddr string // -http: metrics and health listen address
	LeaseTTL time.Duration
	Refresh  time.Duration // -refresh: re-publish period of unchanged verdicts
	CAFile   string        // -ca-file: extra PEM root CAs for https checks
	LogLevel slog.Level
	// ShowVersion is -version: print the version line and exit.
	ShowVersion bool
	// LogFormat is -log-format: text or json.
	LogFormat logformat.Format
}

// Defaults, documented in -h and README.md.
const (
	defaultHTTP = "127.0.0.1:8054"
)

// errUsage marks a bad command line: exit status 2, like the flag package.
var errUsage = errors.New("usage")

// badFileError marks a file named on the command line that cannot be used
// (-ca-file): exit status 2 like a bad flag, since starting
// again will not help until the operator fixes the file.
type badFileError struct{ error }

func (e badFileError) Unwrap() error { return e.error }

// parseFlags reads the command line. env looks up environment variables
// (ETCDCTL_ENDPOINTS) and hostname gives the default id, so tests need not
// touch the process's own.
func parseFlags(args []string, env func(string) string, hostname func() (string, error), stderr io.Writer) (Config, error) {
	c := Config{LeaseTTL: store.DefaultLeaseTTL, Refresh: health.DefaultRefresh}
	fs := flag.NewFlagSet("glbprobe", flag.ContinueOnError)
	// The flag package would print every error followed by the whole usage;
	// a bad flag gets one line instead, and -h the usage.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.ID, "id", "", "prober id in etcd keys: a-z, 0-9, '-', '_', '.' (default: the host name, lower-cased)")
	location := fs.String("location", "", "where this prober is, as \"lat,lon\" in degrees (required), e.g. 50.11,8.68")
	fs.StringVar(&c.Country, "country", "", "ISO 3166-1 alpha-2 code of the prober's country (optional)")
	var conn store.ConnFlags
	conn.Register(fs, "etcd")
	fs.StringVar(&c.Prefix, "prefix", schema.DefaultPrefix, "etcd key prefix of the configuration")
	fs.StringVar(&c.HTTPAddr, "http", defaultHTTP, "HTTP address for /metrics and /healthz")
	fs.DurationVar(&c.LeaseTTL, "lease-ttl", c.LeaseTTL, "how long this prober's results outlive it if it dies (at least 2s)")
	fs.DurationVar(&c.Refresh, "refresh", c.Refresh, "how often an unchanged verdict is written again (under "+schema.MaxReportAge.String()+")")
	fs.StringVar(&c.CAFile, "ca-file", "", "PEM file of root CAs trusted for https checks, besides the system's")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&c.ShowVersion, "version", false, "print the version, git revision and Go version, and exit")
	fs.Var(&c.LogFormat, "log-format", logformat.Usage)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "Usage: glbprobe -location lat,lon [flags]\n\n"+
				"glbprobe checks the regions configured in etcd and writes its verdicts into etcd.\n\nFlags:\n")
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
	var errs []error
	var err error
	if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		errs = append(errs, fmt.Errorf("-log-level %q: want debug, info, warn or error", *level))
	}
	if *location == "" {
		errs = append(errs, errors.New("-location: required, as \"lat,lon\" in degrees"))
	} else if c.Lat, c.Lon, err = parseLocation(*location); err != nil {
		errs = append(errs, err)
	}
	if c.ID == "" {
		h, err := hostname()
		if err != nil {
			errs = append(errs, fmt.Errorf("-id: not set, and no host name: %w", err))
		}
		c.ID = strings.ToLower(h)
	}
	if c.EtcdConn, err = conn.Config(env); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	c.Country = strings.ToUpper(c.Country)
	c.Etcd, c.EtcdConn.Endpoints = c.EtcdConn.Endpoints, nil
	return c, c.validate()
}

// parseLocation parses "lat,lon".
func parseLocation(s string) (lat, lon float64, err error) {
	a, b, ok := strings.Cut(s, ",")
	if ok {
		lat, err = strconv.ParseFloat(strings.TrimSpace(a), 64)
	}
	if ok && err == nil {
		lon, err = strconv.ParseFloat(strings.TrimSpace(b), 64)
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("-location %q: want \"lat,lon\" in degrees, e.g. 50.11,8.68", s)
	}
	return lat, lon, nil
}

// validate checks the configuration; each error names its flag.
func (c Config) validate() error {
	var errs []error
	if !strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("-prefix %q: must start and end with '/'", c.Prefix))
	} else if _, err := schema.ParseKey(c.Prefix, schema.ProberKey(c.Prefix, c.ID)); err != nil {
		errs = append(errs, fmt.Errorf("-id %q: only a-z, 0-9, '-', '_' and '.', at most 63, starting with a letter or digit", c.ID))
	}
	info := c.info()
	if !(c.Lat >= -90 && c.Lat <= 90 && c.Lon >= -180 && c.Lon <= 180) {
		errs = append(errs, fmt.Errorf("-location %v,%v: want lat in -90..90 and lon in -180..180", c.Lat, c.Lon))
	} else if err := info.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("-country %q: want a two-letter ISO 3166-1 code", c.Country))
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("-http %q: want host:port", c.HTTPAddr))
	}
	if c.LeaseTTL < store.MinLeaseTTL {
		errs = append(errs, fmt.Errorf("-lease-ttl %s: must be at least %s", c.LeaseTTL, store.MinLeaseTTL))
	}
	// A verdict refreshed less often than readers' maximum age would
	// flicker out of their view between refreshes.
	if c.Refresh <= 0 || c.Refresh >= schema.MaxReportAge {
		errs = append(errs, fmt.Errorf("-refresh %s: must be positive and under %s", c.Refresh, schema.MaxReportAge))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return nil
}

// info is what the prober registers about itself; Started and Version are
// set when it starts.
func (c Config) info() schema.ProberInfo {
	return schema.ProberInfo{Lat: c.Lat, Lon: c.Lon, Country: c.Country}
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Hostname, os.Stdout, os.Stderr))
}

// run is main with its dependencies passed in; it returns the exit status:
// 0 after a clean shutdown, 1 on a runtime error, 2 on a bad command line
// or an unusable -ca-file.
func run(args []string, env func(string) string, hostname func() (string, error), stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, env, hostname, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "glbprobe: %s\n", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "usage: "), "\n", "; "))
		return 2
	}
	if cfg.ShowVersion {
		fmt.Fprintln(stdout, version.Get().String("glbprobe"))
		return 0
	}
	log := logformat.New(stderr, cfg.LogFormat, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	a, err := newApp(cfg, log)
	if errors.As(err, new(badFileError)) {
		fmt.Fprintf(stderr, "glbprobe: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return 2
	} else if err != nil {
		fmt.Fprintf(stderr, "glbprobe: %s\n", err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "glbprobe: %s\n", err)
		return 1
	}
	return 0
}
