package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

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
	summary:  "check a YAML configuration file as glbd would",
	help: `Checks a configuration file (the layout of glbctl export) without
touching etcd: every key it stands for is decoded and validated by the code
glbd runs, including the checks across keys (a name's regions exist, a
weight's region exists, a CNAME stands alone). Each problem is printed on
stderr with the line of the file it comes from:

  glb.yaml:14: regions.eu-west.addrs[1]: bad JSON: ParseAddr("198.51.100.300"): ...

Prints "ok: N keys" when the file is valid; exits with 2 when it is not, as
for any invalid file named on the command line.`,
	run: runValidate,
}

func runValidate(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.commandFlags(c)
	file := fs.String("f", "", "the YAML file to check (- for stdin)")
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
	conf := yamlconf.Parse(data, a.g.prefix)
	ps := conf.Validate()
	for _, p := range ps {
		fmt.Fprintln(a.stderr, p.Format(name))
	}
	if len(ps) > 0 {
		return nil, fmt.Errorf("%s: %d problem(s)%s: %w", name, len(ps), note, errBadFile)
	}
	return conf, nil
}

var applyCmd = &command{
	name:     "apply",
	synopsis: "-f <file> [--dry-run]",
	summary:  "make etcd's configuration what a YAML file says, in one transaction",
	help: `Validates the file (as glbctl validate; nothing is written if it is
invalid), reads the configuration keys under regions/ and zones/ (probers/
and health/ are left alone), and prints the difference:

  + key value          a new key
  ~ key old -> new     a changed value
  - key                a key the file does not have, which is deleted

Then it writes every change in one etcd transaction that holds only if no
configuration key was written, created or deleted since the read: when
someone else changed the configuration meanwhile (another apply, a weight
change), nothing is written and glbctl exits with 1; run it again to see
the new difference. A file with no keys is refused, rather than delete the
whole configuration. Values that differ only in JSON formatting are not
rewritten.`,
	run: runApply,
}

func runApply(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.commandFlags(c)
	file := fs.String("f", "", "the YAML file to apply (- for stdin)")
	dryRun := fs.Bool("dry-run", false, "print the changes, write nothing")
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if err := needFile(*file, pos); err != nil {
		return err
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
	snap, err := adm.ReadConfig(ctx)
	if err != nil {
		return a.etcdErr(err)
	}
	changes := store.DiffConfig(snap, conf.KVs())
	printChanges(a.stdout, changes)
	if len(changes) == 0 {
		fmt.Fprintf(a.stdout, "no changes (revision %d)\n", snap.Revision)
		return nil
	}
	if *dryRun {
		fmt.Fprintf(a.stdout, "dry run: %d change(s) against revision %d, nothing written\n", len(changes), snap.Revision)
		return nil
	}
	if a.beforeApply != nil {
		a.beforeApply()
	}
	if err := adm.ApplyConfig(ctx, snap, changes); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("the configuration changed since it was read at revision %d (another apply, a weight change?); "+
				"nothing was written: run glbctl apply again to see the new changes", snap.Revision)
		}
		return a.etcdErr(err)
	}
	fmt.Fprintf(a.stdout, "applied %d change(s)\n", len(changes))
	return nil
}

// printChanges writes the diff, one key a line; values that span lines
// (JSON as etcdctl users often write it) are quoted, so that every change
// stays on one line.
func printChanges(w io.Writer, changes []store.Change) {
	for _, ch := range changes {
		switch ch.Op {
		case store.ChangeAdd:
			fmt.Fprintf(w, "+ %s %s\n", ch.Key, quoteValue(ch.New))
		case store.ChangeUpdate:
			fmt.Fprintf(w, "~ %s %s -> %s\n", ch.Key, quoteValue(ch.Old), quoteValue(ch.New))
		case store.ChangeDelete:
			fmt.Fprintf(w, "- %s\n", ch.Key)
		}
	}
}

func quoteValue(v string) string {
	for _, r := range v {
		if r == '\n' || r == '\r' || r == '\t' {
			return strconv.Quote(v)
		}
	}
	return v
}
