package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/glb-dns/glb/store"
	"github.com/glb-dns/glb/store/schema/yamlconf"
)

var exportCmd = &command{
	name:     "export",
	synopsis: "",
	summary:  "print the whole configuration as one YAML document",
	help: `Prints the configuration under the prefix (regions with their weights,
zones with their names and static records) as one YAML document on stdout.
Each region, zone, name and record set is the JSON document of one etcd key,
written as YAML with the same field names; a region's weight key is its
"weight" field (absent when the key is absent). Probers and health reports
are not configuration and are not exported.

Keys that have no place in the file (outside the key layout, or not a JSON
object) are left out with a warning on stderr, and the exit status is 1.

  glbctl export > glb.yaml
  $EDITOR glb.yaml
  glbctl apply -f glb.yaml --dry-run`,
	run: runExport,
}

func runExport(ctx context.Context, a *app, c *command, args []string) error {
	pos, err := a.parse(c, a.commandFlags(c), args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, 0, "no arguments"); err != nil {
		return err
	}
	adm, closeFn, err := a.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	snap, err := adm.ReadConfig(ctx)
	if err != nil {
		return a.etcdErr(err)
	}
	out, skipped, err := yamlconf.Export(a.g.prefix, snap.Values)
	if err != nil {
		return err
	}
	if _, err := a.stdout.Write(out); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	for _, s := range skipped {
		fmt.Fprintf(a.stderr, "glbctl export: left out %s: %s\n", s.Key, s.Reason)
	}
	if len(skipped) > 0 {
		return fmt.Errorf("%d key(s) left out of the export: %w", len(skipped), errReported)
	}
	return nil
}

var validateCmd = &command{
	name:     "validate",
	synopsis: "-f <file>",
	summary:  "check a YAML or JSON configuration file as glbd would",
	help: `Checks a configuration file (the layout of glbctl export, in YAML or the
same structure in JSON) without touching etcd: every key it stands for is
decoded and validated by the code glbd runs, including the checks across
keys (a name's regions exist, a weight's region exists, a CNAME stands
alone). Each problem is printed on stderr with the line and column of the
file it comes from, in the words of the format the file is written in,
and with the nearest valid name when a field or value looks mistyped:

  glb.yaml:14:28: regions.eu-west.addrs[1]: ParseAddr("198.51.100.300"): ...
  glb.yaml:9:5: regions.us-east.wieght: unknown field "wieght"; did you mean "weight"?
  glb.yaml:3:1: bad YAML: found a tab character that violates indentation

Prints "ok: N keys" when the file is valid; exits with 2 when it is not.`,
	run: runValidate,
}

func runValidate(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.commandFlags(c)
	file := fs.String("f", "", "the YAML or JSON file to check (- for stdin)")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := needFile(*file, pos); err != nil {
		return err
	}
	conf, err := a.load(*file, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "ok: %d keys\n", len(conf.Entries))
	return nil
}

// needFile checks -f and that no arguments were given.
func needFile(file string, pos []string) error {
	if file == "" {
		return fmt.Errorf("%w: -f <file> is required", errUsage)
	}
	return wantArgs(pos, 0, 0, "no arguments besides -f")
}

// load reads and validates a file. Problems go to stderr, one line each,
// and the error then says how many there were, followed by note.
func (a *app) load(file, note string) (*yamlconf.Config, error) {
	var data []byte
	var err error
	name := file
	if file == "-" {
		name = "<stdin>"
		data, err = io.ReadAll(a.stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read configuration file: %w: %w", err, errBadFile)
	}
	conf, err := yamlconf.Load(name, data, a.g.prefix)
	var pe *yamlconf.ProblemsError
	if errors.As(err, &pe) {
		for _, p := range pe.Problems {
			fmt.Fprintln(a.stderr, p.Format(name))
		}
		return nil, fmt.Errorf("%s: %d problem(s)%s: %w", name, len(pe.Problems), note, errBadFile)
	}
	return conf, err
}

var applyCmd = &command{
	name:     "apply",
	synopsis: "-f <file> [--dry-run [--exit-code]]",
	summary:  "make etcd's configuration what a YAML or JSON file says, in one transaction",
	help: `Validates the file (as glbctl validate; nothing is written if it is
invalid), reads the configuration keys under regions/ and zones/ (probers/
and health/ are left alone), and prints the difference field by field,
with the paths of the file:

  ~ regions.eu-west.weight: 100 → 0                  a changed field
  + regions.eu-west.check.connect: "10.0.0.1:8080"   a new field
  - regions.eu-west.country: "GB"                    a field the file does not have
  + regions.ap-south: {"lat":19.08,...}              a new key
  - zones."gslb.example.test".names.api: {...}       a key the file does not have, deleted

Then it writes every change in one etcd transaction that holds only if no
configuration key was written, created or deleted since the read: when
someone else changed the configuration meanwhile (another apply, a weight
change), nothing is written and glbctl exits with 1; run it again to see
the new difference. A file with no keys is refused, rather than delete the
whole configuration. Values that differ only in JSON formatting are not
rewritten.

--dry-run prints the difference and writes nothing; it exits with 0,
changes or not. With --exit-code as well it exits with 1 when there are
changes and 0 when there are none, like git diff --exit-code, for scripts
and CI.`,
	run: runApply,
}

func runApply(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.commandFlags(c)
	file := fs.String("f", "", "the YAML or JSON file to apply (- for stdin)")
	dryRun := fs.Bool("dry-run", false, "print the changes, write nothing")
	exitCode := fs.Bool("exit-code", false, "with --dry-run: exit with 1 when there are changes, 0 when none")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := needFile(*file, pos); err != nil {
		return err
	}
	if *exitCode && !*dryRun {
		return fmt.Errorf("%w: --exit-code needs --dry-run", errUsage)
	}
	conf, err := a.load(*file, ", nothing was written")
	if err != nil {
		return err
	}
	if len(conf.Entries) == 0 {
		return errors.New("the file holds no keys; applying it would delete the whole configuration, so nothing was written")
	}
	adm, closeFn, err := a.admin()
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	res, err := adm.Apply(ctx, conf.KVs(), store.ApplyOptions{DryRun: *dryRun, BeforeWrite: a.beforeApply})
	if res != nil {
		printChanges(a.stdout, a.g.prefix, res.Changes)
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("the configuration changed since it was read at revision %d (another apply, a weight change?); "+
			"nothing was written: run glbctl apply again to see the new changes", res.Revision)
	case err != nil:
		return a.etcdErr(err)
	case len(res.Changes) == 0:
		fmt.Fprintf(a.stdout, "no changes (revision %d)\n", res.Revision)
		return nil
	case *dryRun:
		fmt.Fprintf(a.stdout, "dry run: %d key(s) to change against revision %d, nothing written\n", len(res.Changes), res.Revision)
		if *exitCode {
			return errChanges
		}
		return nil
	}
	fmt.Fprintf(a.stdout, "applied %d change(s)\n", len(res.Changes))
	return nil
}

// printChanges writes the difference field by field, one a line, with the
// paths of the file.
func printChanges(w io.Writer, prefix string, changes []store.Change) {
	for _, ch := range changes {
		fcs := yamlconf.DiffKey(prefix, ch.Key, ch.Old, ch.New, ch.Op != store.ChangeAdd, ch.Op != store.ChangeDelete)
		for _, fc := range fcs {
			switch fc.Op {
			case yamlconf.FieldAdded:
				fmt.Fprintf(w, "+ %s: %s\n", fc.Path, fc.New)
			case yamlconf.FieldRemoved:
				fmt.Fprintf(w, "- %s: %s\n", fc.Path, fc.Old)
			default:
				fmt.Fprintf(w, "~ %s: %s → %s\n", fc.Path, fc.Old, fc.New)
			}
		}
	}
}
