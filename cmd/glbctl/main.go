// Command glbctl is the operator's tool for glb: it exports the
// configuration in etcd as one YAML file, validates and applies such a file
// (or the same as JSON) with the checks glbd itself runs (in one guarded
// transaction), lists regions, names, weights and probers, shows and ramps
// region weights, summarises health, asks a running glbd to explain an
// answer or simulate a change, and writes shell completion scripts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // a runtime failure, a refused change
	exitUsage   = 2 // a bad command line, or a file it names that is missing or invalid
)

var (
	// errUsage marks a bad command line: exit status 2.
	errUsage = errors.New("usage")
	// errHelp is returned after help was printed on request: exit status 0.
	errHelp = errors.New("help printed")
	// errReported marks a failure whose details are already on stderr
	// (the problems of a file): only the summary line remains to print.
	errReported = errors.New("reported")
	// errBadFile marks a file given on the command line that cannot be read
	// or is invalid: exit status 2, as for any other bad input the operator
	// must fix before trying again. Its problems, if any, are on stderr.
	errBadFile = errors.New("bad file")
	// errChanges is apply --dry-run --exit-code finding changes: exit
	// status 1 with nothing more to say, like git diff --exit-code.
	errChanges = errors.New("changes")
)

// app is one run of glbctl with its surroundings, which tests replace.
type app struct {
	env    func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	g      globals

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error // the ramp's step clock
	http  *http.Client
	// beforeApply, when set, runs between apply's read and its write.
	// Tests use it to change etcd in that gap.
	beforeApply func()
	// flagsOf, when set, receives a command's flag set instead of the
	// command running: completion learns the flags this way.
	flagsOf func(*flag.FlagSet)
}

// command is one subcommand.
type command struct {
	name     string
	synopsis string // arguments after the name
	summary  string // one line for the command list
	help     string // what it does, for glbctl help <name>
	run      func(ctx context.Context, a *app, c *command, args []string) error
}

// commands in the order glbctl help lists them.
var commands []*command

func init() {
	// Set here rather than in the declaration: help refers to commands.
	commands = []*command{
		exportCmd, validateCmd, applyCmd, getCmd,
		weightCmd, drainCmd, undrainCmd, adminCmd,
		statusCmd, explainCmd, simulateCmd, rbacCmd, dnssecCmd, completionCmd, versionCmd, helpCmd,
	}
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := newApp(os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	os.Exit(a.run(ctx, os.Args[1:]))
}

func newApp(env func(string) string, stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{
		env: env, stdin: stdin, stdout: stdout, stderr: stderr,
		now:   time.Now,
		sleep: sleepCtx,
		http:  &http.Client{},
	}
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// run runs one command line and returns the exit status.
func (a *app) run(ctx context.Context, args []string) int {
	a.g = globals{prefix: defaultPrefix, glbd: defaultGlbd, timeout: defaultTimeout}
	// Global flags may come before the command, and also after it: every
	// command's flag set has them too.
	if isVersionFlag(args) {
		args = []string{versionCmd.name}
	}
	fs := a.flagSet("glbctl")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		a.usage(a.stdout)
		return exitOK
	} else if err != nil {
		return a.fail("", fmt.Errorf("%w: %w", errUsage, err))
	}
	args = fs.Args()
	if len(args) == 0 {
		return a.fail("", fmt.Errorf("%w: no command given", errUsage))
	}
	c := lookup(args[0])
	if c == nil {
		return a.fail("", fmt.Errorf("%w: unknown command %q", errUsage, args[0]))
	}
	return a.fail(c.name, c.run(ctx, a, c, args[1:]))
}

// fail turns a command's error into one line on stderr and an exit status.
func (a *app) fail(cmd string, err error) int {
	name := "glbctl"
	if cmd != "" {
		name += " " + cmd
	}
	switch {
	case err == nil || errors.Is(err, errHelp) || errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errChanges):
		return exitFailure
	case errors.Is(err, errUsage):
		msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
		hint := "glbctl help"
		if cmd != "" && cmd != "help" {
			hint += " " + cmd
		}
		fmt.Fprintf(a.stderr, "%s: %s (see '%s')\n", name, oneLine(msg), hint)
		return exitUsage
	case errors.Is(err, errBadFile):
		fmt.Fprintf(a.stderr, "%s: %s\n", name, oneLine(strings.TrimSuffix(err.Error(), ": "+errBadFile.Error())))
		return exitUsage
	case errors.Is(err, errReported):
		fmt.Fprintf(a.stderr, "%s: %s\n", name, oneLine(strings.TrimSuffix(err.Error(), ": "+errReported.Error())))
		return exitFailure
	}
	fmt.Fprintf(a.stderr, "%s: %s\n", name, oneLine(err.Error()))
	return exitFailure
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// usage prints the command list.
func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `Usage: glbctl [global flags] <command> [flags] [arguments]

glbctl reads and changes glb's configuration in etcd, and asks glbd to
explain its answers.

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nGlobal flags (accepted before or after the command):\n")
	fs := a.flagSet("glbctl")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Exit status: 0 done, 1 failed (etcd or glbd unreachable, change refused;
apply --dry-run --exit-code: changes found), 2 bad command line or a
missing or invalid file.

Run 'glbctl help <command>' or 'glbctl <command> --help' for details.
`)
}

var helpCmd = &command{
	name:     "help",
	synopsis: "[<command>]",
	summary:  "show the commands, or one command's help",
	help:     "Shows the list of commands, or the help of one command.",
	run: func(ctx context.Context, a *app, c *command, args []string) error {
		pos, err := a.parse(c, a.commandFlags(c), args)
		if err != nil {
			return err
		}
		switch len(pos) {
		case 0:
			a.usage(a.stdout)
			return nil
		case 1:
			cmd := lookup(pos[0])
			if cmd == nil {
				return fmt.Errorf("%w: unknown command %q", errUsage, pos[0])
			}
			// The command prints its help and returns errHelp.
			return cmd.run(ctx, a, cmd, []string{"--help"})
		}
		return fmt.Errorf("%w: want at most one command name", errUsage)
	},
}
