package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/glb-dns/glb/store"
)

// rbacAdmin connects to etcd for the rbac command: the connection every
// command uses. Tests replace it to log in as a given user.
var rbacAdmin = (*app).admin

var rbacCmd = &command{
	name:     "rbac",
	synopsis: "apply [--prober ID ...] [--password-file FILE]",
	summary:  "create glb's least-privilege etcd roles and users",
	help: `
'glbctl rbac apply' creates, in etcd, one role per kind of glb credential and
a user of the same name bound to it:

  glb-reader         reads everything under --prefix (glbd)
  glb-operator       reads everything, writes regions/ and zones/ (glbctl)
  glb-prober-<ID>    reads regions/, writes only probers/<ID> and
                     health/<ID>/ (one per --prober)

It is idempotent: roles and users that exist are brought back to exactly
these permissions and roles, and a second run changes nothing and says so.
Roles of probers not named are listed and left alone. It must run as a user
with etcd's root role (or before auth is enabled), and it does not switch
etcd's authentication on: it prints the steps that do.

With client certificates, etcd takes the certificate's CN as the user name:
give glbd a certificate with CN glb-reader, and so on. For password
authentication, --password-file sets the passwords of the users it
creates: one "user:password" per line, '#' starts a comment line. Users
not in the file are created without a password (certificate only);
passwords of existing users are never changed (etcdctl user passwd).
`,
	run: runRBAC,
}

func runRBAC(ctx context.Context, a *app, c *command, args []string) error {
	fs := a.commandFlags(c)
	var probers listFlag
	fs.Var(&probers, "prober", "a prober id to create a role and user for (repeat, or separate with commas)")
	pwFile := fs.String("password-file", "", `file of "user:password" lines: passwords of the users created`)
	pos, err := a.parse(c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "apply" {
		return fmt.Errorf("%w: want 'rbac apply', got %q", errUsage, strings.Join(pos, " "))
	}
	var passwords map[string]string
	if *pwFile != "" {
		if passwords, err = readPasswords(*pwFile); err != nil {
			return fmt.Errorf("%w: %w", err, errBadFile)
		}
	}
	slices.Sort(probers)
	probers = slices.Compact(probers)

	adm, closeAdm, err := rbacAdmin(a)
	if err != nil {
		return err
	}
	defer closeAdm()
	// etcd hashes each new user's password (bcrypt, tens of milliseconds),
	// so the time limit of the whole run grows with the users.
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout*time.Duration(2+len(probers)))
	defer cancel()
	res, err := adm.ApplyRBAC(ctx, store.RBACConfig{Probers: probers, Passwords: passwords})
	for _, ch := range res.Changes {
		fmt.Fprintln(a.stdout, ch)
	}
	if err != nil {
		return a.etcdErr(err)
	}
	if len(res.Changes) == 0 {
		fmt.Fprintln(a.stdout, "nothing to change: the roles and users are already as wanted")
	}
	for _, n := range res.Notes {
		fmt.Fprintln(a.stdout, "note:", n)
	}
	if others, err := adm.UnlistedProberRoles(ctx, probers); err == nil && len(others) > 0 {
		fmt.Fprintf(a.stdout, "note: prober roles not named by --prober, left alone: %s (etcdctl role delete and user delete remove them)\n",
			strings.Join(others, ", "))
	}
	if enabled, known := adm.AuthEnabled(ctx); enabled && known {
		fmt.Fprintln(a.stdout, "etcd's authentication is on.")
		return nil
	}
	fmt.Fprint(a.stdout, `
glbctl does not switch etcd's authentication on. As etcd's administrator,
once: a root user with the root role must exist first, then enable auth:
  etcdctl user add root
  etcdctl user grant-role root root
  etcdctl auth enable
From then on every client must log in; give each binary its own user.
`)
	return nil
}

// readPasswords reads a password file: "user:password" per line (the
// password is everything after the first ':'), blank lines and lines
// starting with '#' skipped.
func readPasswords(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read password file: %w", err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		user, pw, ok := strings.Cut(line, ":")
		user = strings.TrimSpace(user)
		switch {
		case !ok || user == "":
			return nil, fmt.Errorf("%s:%d: want user:password", path, n)
		case pw == "":
			return nil, fmt.Errorf("%s:%d: empty password for %s", path, n, user)
		case out[user] != "":
			return nil, fmt.Errorf("%s:%d: second password for %s", path, n, user)
		}
		out[user] = pw
	}
	return out, sc.Err()
}
