// Command glbbench measures running glbd instances from the outside, for the
// scripts under deploy/loadtest/:
//
//	glbbench genseed      write a large seed (N names x M regions) as a configuration file in glbctl's layout (YAML)
//	glbbench load         put every key of a seed file into etcd (no transaction limit)
//	glbbench propagation  time from an etcd put of a region weight to every instance answering accordingly
//	glbbench stream       a steady stream of UDP queries with per-query latency, optionally
//	                      changing a region's coordinates in etcd every few seconds
//	glbbench scope        the ECS scopes and regions glbd and gdnsd return to the same client subnets
//
// It talks to etcd only through store.NewClient (store is the only package
// that imports the etcd client) and to glbd only over DNS on loopback. Every
// loop is bounded by a count and a deadline. Run `glbbench CMD -h` for flags.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "genseed":
		err = genseed(args)
	case "load":
		err = load(args)
	case "propagation":
		err = propagation(args)
	case "stream":
		err = stream(args)
	case "scope":
		err = scopeCompare(args)
	case "-h", "-help", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "glbbench: unknown command %q\n", cmd)
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "glbbench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: glbbench genseed|load|propagation|stream|scope [flags]
  genseed      write a seed of N names x M regions (glbctl's YAML layout)
  load         put every key of a seed file into etcd, concurrently
  propagation  etcd weight put -> every glbd answers accordingly, p50/p90/p99/max
  stream       paced UDP queries with latency per query; -change-every changes a region in etcd
  scope        ECS scope and region of glbd vs gdnsd for random and located client subnets
`)
}
