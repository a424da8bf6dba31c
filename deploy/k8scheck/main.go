// Command k8scheck validates glb's Kubernetes deployment without a cluster
// (make k8s-check runs its tests): it renders the Helm chart of
// deploy/helm/glb with Helm's own Go packages for the default values and
// each documented variant in the chart's ci/ directory, lints it, and
// decodes every rendered object strictly into its Kubernetes API type, so
// that a misspelt or misplaced field fails instead of being dropped by the
// API server. The plain manifests of deploy/kubernetes get the same check,
// and must be what the chart renders for deploy/kubernetes/values.yaml:
//
//	go run . -update     # rewrite deploy/kubernetes/glb.yaml from the chart
//
// It is its own Go module so that Helm and the Kubernetes API modules stay
// out of glb's go.mod.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
)

func main() {
	quietHelm()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// quietHelm silences the standard logger, on which Helm's chart loader
// notes each symbolic link it follows: the chart's files/alerts.yml is one
// on purpose (a link to deploy/prometheus/alerts.yml).
func quietHelm() { log.SetOutput(io.Discard) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("k8scheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	chartDir := fs.String("chart", "../helm/glb", "the Helm chart")
	manifests := fs.String("manifests", "../kubernetes", "the plain manifests: glb.yaml, rendered from values.yaml")
	update := fs.Bool("update", false, "rewrite the plain manifests from the chart instead of checking them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *update {
		if err := writeManifests(*chartDir, *manifests); err != nil {
			fmt.Fprintf(stderr, "k8scheck: %s\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s\n", manifestPath(*manifests))
		return 0
	}
	failed := false
	for _, r := range checkAll(*chartDir, *manifests) {
		if r.err != nil {
			failed = true
			fmt.Fprintf(stdout, "FAIL %s: %s\n", r.name, r.err)
			continue
		}
		fmt.Fprintf(stdout, "ok   %s: %d objects (%s)\n", r.name, len(r.objects), summary(r.objects))
	}
	if failed {
		return 1
	}
	return 0
}
