package main

import (
	"context"
	"fmt"

	"github.com/glb-dns/glb/internal/version"
)

var versionCmd = &command{
	name:     "version",
	synopsis: "",
	summary:  "print glbctl's version, git revision and Go version",
	help:     "Prints one line: glbctl's version, the git revision it was built from and the Go version that built it. glbctl --version does the same.",
	run: func(ctx context.Context, a *app, c *command, args []string) error {
		pos, err := a.parse(c, a.commandFlags(c), args)
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return fmt.Errorf("%w: version takes no arguments", errUsage)
		}
		fmt.Fprintln(a.stdout, version.Get().String("glbctl"))
		return nil
	},
}

// isVersionFlag reports whether args ask for the version the way the
// daemons do (--version), so that every glb binary answers it alike.
func isVersionFlag(args []string) bool {
	return len(args) > 0 && (args[0] == "--version" || args[0] == "-version")
}
