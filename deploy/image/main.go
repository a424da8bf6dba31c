// Command image builds glb's container image from the static binaries of
// make dist, without pulling a base image from any registry (make image):
// every file of the image is written here, so the image holds only what
// glb needs. One OCI image archive (an OCI image layout in a tar, the
// format podman load, skopeo and containerd import read) per platform:
//
//	dist/glb-VERSION-image-linux-amd64.oci.tar
//	dist/glb-VERSION-image-linux-arm64.oci.tar
//
// It is its own Go module so that go-containerregistry stays out of glb's
// go.mod. -unpack extracts an archive's file system, for a check on a
// machine that cannot run containers (deploy/image/check.sh).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// options are the command line.
type options struct {
	dist      string // directory with <os>-<arch>/ binaries; the archives go there too
	repo      string // the glb checkout: LICENSE, NOTICE, the dev seed and GeoIP fixture
	version   string
	revision  string
	platforms []string
	caFile    string    // the CA bundle copied to /etc/ssl/certs/ca-certificates.crt
	created   time.Time // every timestamp in the image
	name      string    // the image name, e.g. glb
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.dist, "dist", "../../dist", "make dist's output: <os>-<arch>/glbd, glbprobe and glbctl; the archives are written here")
	fs.StringVar(&o.repo, "repo", "../..", "the glb checkout (LICENSE, NOTICE, testdata/)")
	fs.StringVar(&o.version, "version", "v0.0.0-dev", "the version, for the tag and the image's labels")
	fs.StringVar(&o.revision, "revision", "unknown", "the git revision, for the image's labels")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch list")
	fs.StringVar(&o.caFile, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates to ship (Debian's ca-certificates)")
	epoch := fs.String("epoch", os.Getenv("SOURCE_DATE_EPOCH"), "Unix time of every timestamp in the image (default $SOURCE_DATE_EPOCH; the Makefile sets the commit's time, as for make dist)")
	fs.StringVar(&o.name, "name", "glb", "image name; the tag is the version")
	unpack := fs.String("unpack", "", "instead of building: extract this OCI archive's file system into -into and print its config")
	into := fs.String("into", "", "with -unpack: an empty directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *unpack != "" {
		if err := unpackArchive(*unpack, *into, stdout); err != nil {
			fmt.Fprintf(stderr, "image: %s\n", err)
			return 1
		}
		return 0
	}
	o.platforms = strings.Split(*platforms, ",")
	if *epoch == "" {
		*epoch = "0"
	}
	sec, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "image: -epoch %q: want Unix seconds\n", *epoch)
		return 2
	}
	o.created = time.Unix(sec, 0).UTC()
	for _, p := range o.platforms {
		out, size, err := build(o, p)
		if err != nil {
			fmt.Fprintf(stderr, "image: %s: %s\n", p, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\t%s\t%d bytes of layers\n", out, p, size)
	}
	return 0
}
