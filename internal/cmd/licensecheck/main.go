// Command licensecheck prints one line per module linked into the given
// packages (default glbd, glbprobe and glbctl), with its license as read
// from the module cache, and exits 1 when one of them does not allow
// distribution under Apache-2.0 (make licenses). It lives under internal/
// so that go install ./cmd/... does not install it.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/glb-dns/glb/internal/licensecheck"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns the exit status: 0 when every license is allowed, 1 when
// one is not, 2 when the modules cannot be listed.
func run(pkgs []string, stdout, stderr io.Writer) int {
	if len(pkgs) == 0 {
		pkgs = []string{"./cmd/glbd", "./cmd/glbprobe", "./cmd/glbctl"}
	}
	mods, err := listModules(pkgs)
	if err != nil {
		fmt.Fprintf(stderr, "licensecheck: %s\n", err)
		return 2
	}
	results, err := licensecheck.Check(mods)
	if err != nil {
		fmt.Fprintf(stderr, "licensecheck: %s\n", err)
		return 2
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	var bad []string
	for _, r := range results {
		verdict := ""
		if !r.OK {
			verdict = "\tNOT ALLOWED"
			bad = append(bad, r.Path)
		}
		v := r.Version
		if v == "" {
			v = "(this module)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%s\n", r.Path, v, strings.Join(r.Licenses, " AND "), verdict)
	}
	_ = tw.Flush()
	if len(bad) > 0 {
		fmt.Fprintf(stderr, "licensecheck: %d of %d modules have a license that does not allow Apache-2.0 distribution (allowed: %s): %s\n",
			len(bad), len(results), strings.Join(licensecheck.Allowed, ", "), strings.Join(bad, ", "))
		return 1
	}
	fmt.Fprintf(stderr, "licensecheck: all %d modules allow Apache-2.0 distribution\n", len(results))
	return 0
}

// listModules asks go list which modules the packages and their
// dependencies come from, for the platform of the release binaries
// (linux, no cgo), plus Go's standard library, which is linked in too.
func listModules(pkgs []string) ([]licensecheck.Module, error) {
	format := "{{with .Module}}{{.Path}}\t{{.Version}}\t{{with .Replace}}{{.Dir}}{{else}}{{.Dir}}{{end}}{{end}}"
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", format}, pkgs...)...)
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var mods []licensecheck.Module
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			continue // a standard library package: no module
		}
		m := licensecheck.Module{Path: f[0], Version: f[1], Dir: f[2]}
		if m.Dir == "" {
			return nil, fmt.Errorf("module %s %s is not in the module cache (go mod download)", m.Path, m.Version)
		}
		if !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	goroot, err := exec.Command("go", "env", "GOROOT", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	root, ver, ok := strings.Cut(strings.TrimSpace(string(goroot)), "\n")
	if !ok {
		return nil, errors.New("go env GOROOT GOVERSION: want two lines")
	}
	mods = append(mods, licensecheck.Module{Path: "std", Version: ver, Dir: root})
	slices.SortFunc(mods, func(a, b licensecheck.Module) int { return strings.Compare(a.Path, b.Path) })
	return mods, nil
}
