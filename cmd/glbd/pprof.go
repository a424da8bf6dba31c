package main

import (
	"errors"
	"flag"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strconv"
	"strings"
)

// runtimeFlags are the flags that tune or inspect the Go runtime rather
// than the DNS service.
type runtimeFlags struct {
	// Pprof serves Go's profiles (/debug/pprof/ on the HTTP listener), for
	// measuring CPU and memory under load (-pprof). Off by default: a
	// profile costs CPU while it runs and shows internals, and the HTTP
	// listener may be reachable by more than the operator.
	Pprof bool
	// MemoryLimit is the Go runtime's soft memory limit in bytes
	// (-memory-limit, as GOMEMLIMIT); 0, the default, leaves the runtime's
	// own setting (GOMEMLIMIT from the environment, else none). Near the
	// limit the collector runs more often instead of letting the heap grow
	// to twice what is live; it is soft, so glbd never fails for it, but
	// set too close to the live heap it costs CPU on every query.
	MemoryLimit int64
}

func (r *runtimeFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&r.Pprof, "pprof", false, "serve Go's profiles at /debug/pprof/ on the -http listener (default off)")
	fs.Func("memory-limit", "Go's soft memory limit, e.g. 256MiB or 1GiB, as GOMEMLIMIT (default: GOMEMLIMIT, else none)", func(s string) error {
		n, err := parseBytes(s) // the flag package names the flag and the value
		r.MemoryLimit = n
		return err
	})
}

// apply sets the memory limit when one was given.
func (r *runtimeFlags) apply() {
	if r.MemoryLimit > 0 {
		debug.SetMemoryLimit(r.MemoryLimit)
	}
}

// routes mounts the profile handlers on mux when -pprof is set.
func (r *runtimeFlags) routes(mux *http.ServeMux) {
	if !r.Pprof {
		return
	}
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// parseBytes reads a size in bytes with an optional binary unit suffix
// (B, KiB, MiB, GiB), as GOMEMLIMIT does.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, errors.New("want a positive size such as 256MiB or 1GiB")
	}
	return n * mult, nil
}
