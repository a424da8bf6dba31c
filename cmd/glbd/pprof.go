package main

import (
	"flag"
	"net/http"
	"net/http/pprof"
)

// profiling is the -pprof flag: Go's profiles (/debug/pprof/ on the HTTP
// listener) for measuring CPU and memory under load. Off by default: a
// profile costs CPU while it runs and shows internals, and the HTTP
// listener may be reachable by more than the operator.
type profiling struct {
	Pprof bool // -pprof
}

func (p *profiling) register(fs *flag.FlagSet) {
	fs.BoolVar(&p.Pprof, "pprof", false, "serve Go's profiles at /debug/pprof/ on the -http listener (default off)")
}

// routes mounts the profile handlers on mux when -pprof is set.
func (p *profiling) routes(mux *http.ServeMux) {
	if !p.Pprof {
		return
	}
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
