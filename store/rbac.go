package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/schema"
)

// The roles, and the users of the same names, that ApplyRBAC creates.
const (
	ReaderRole       = "glb-reader"   // glbd: reads the whole prefix
	OperatorRole     = "glb-operator" // glbctl: reads everything, writes the configuration
	ProberRolePrefix = "glb-prober-"  // + prober id: one role per prober
)

// ProberRole returns the role and user name of a prober.
func ProberRole(id string) string { return ProberRolePrefix + id }

// Access is what a permission allows, in etcdctl's words.
type Access string

// The kinds of access of an etcd permission.
const (
	Read      Access = "read"
	Write     Access = "write"
	ReadWrite Access = "readwrite"
)

func (a Access) etcd() clientv3.PermissionType {
	switch a {
	case Read:
		return clientv3.PermissionType(clientv3.PermRead)
	case Write:
		return clientv3.PermissionType(clientv3.PermWrite)
	}
	return clientv3.PermissionType(clientv3.PermReadWrite)
}

func accessOf(t authpb.Permission_Type) Access {
	switch t {
	case authpb.READ:
		return Read
	case authpb.WRITE:
		return Write
	}
	return ReadWrite
}

// Permission is one grant of an etcd role: access to the keys from Key up
// to, not including, RangeEnd. etcd has no other kind: a single key has an
// empty RangeEnd, and a prefix is the range from the prefix to its "prefix
// end" (the prefix with its last byte plus one, clientv3.GetPrefixRangeEnd),
// which is what etcdctl's role grant-permission --prefix sends. etcd 3.4
// (Debian's etcd-server) and 3.6 both work this way.
type Permission struct {
	Access   Access
	Key      string
	RangeEnd string
}

func prefixPerm(a Access, prefix string) Permission {
	return Permission{Access: a, Key: prefix, RangeEnd: clientv3.GetPrefixRangeEnd(prefix)}
}

// String says it as etcdctl would take it.
func (p Permission) String() string {
	switch p.RangeEnd {
	case "":
		return fmt.Sprintf("%s %s", p.Access, p.Key)
	case clientv3.GetPrefixRangeEnd(p.Key):
		return fmt.Sprintf("%s --prefix %s", p.Access, p.Key)
	}
	return fmt.Sprintf("%s [%s, %s)", p.Access, p.Key, p.RangeEnd)
}

// Role is a role with the permissions it should have, no more.
type Role struct {
	Name  string
	Perms []Permission
}

// Roles returns the roles glb's least-privilege setup needs for prefix and
// the given probers:
//
//   - glb-reader reads everything under prefix: glbd lists and watches the
//     whole prefix. It also reads the DNSSEC keys (KeysPrefix), private
//     ones included: glbd signs with them.
//   - glb-operator reads everything too (glbctl status shows probers and
//     health) and writes the configuration: regions/ (documents and
//     weights) and zones/ (documents, names, records), and the network
//     collections of pinned names, nets/. It cannot write
//     probers/ or health/. It reads and writes the DNSSEC key sets
//     (public/) and may write but never read private keys (private/): it
//     runs glbctl dnssec keygen and roll without seeing a private key.
//   - glb-prober-<id> reads regions/ (what to check) and writes only its own
//     registration probers/<id> and its reports under health/<id>/. Leases
//     need no permission in etcd: it can grant and keep alive leases, and
//     revoke a lease only if it may write every key attached to it.
func Roles(prefix string, probers []string) []Role {
	roles := []Role{
		{Name: ReaderRole, Perms: []Permission{prefixPerm(Read, prefix), prefixPerm(Read, KeysPrefix(prefix))}},
		{Name: OperatorRole, Perms: []Permission{
			prefixPerm(Read, prefix),
			prefixPerm(ReadWrite, prefix+"regions/"),
			prefixPerm(ReadWrite, prefix+"zones/"),
			prefixPerm(ReadWrite, prefix+"nets/"),
			prefixPerm(ReadWrite, KeysPrefix(prefix)+"public/"),
			prefixPerm(Write, KeysPrefix(prefix)+"private/"),
		}},
	}
	for _, id := range probers {
		roles = append(roles, Role{Name: ProberRole(id), Perms: []Permission{
			prefixPerm(Read, prefix+"regions/"),
			{Access: Write, Key: schema.ProberKey(prefix, id)},
			prefixPerm(Write, schema.ProberHealthPrefix(prefix, id)),
		}})
	}
	return roles
}

// RBACConfig is what ApplyRBAC sets up.
type RBACConfig struct {
	// Probers are the prober ids to create roles and users for.
	Probers []string
	// Passwords are the passwords of users to create, by user name. A user
	// created without one has no password: it can only log in with a client
	// certificate whose CN is its name. The passwords of existing users are
	// never changed.
	Passwords map[string]string
}

// RBACResult is what ApplyRBAC did, in words for the operator.
type RBACResult struct {
	Changes []string // the writes made, in order; none when all was as wanted
	Notes   []string // what it left alone and why
}

// ApplyRBAC creates glb's roles and users (see Roles), each user bound to
// the role of its name, and brings existing ones back to exactly those
// permissions and that role. It reads everything before it writes: a
// client that may not manage etcd's auth (anyone but root, once auth is on)
// is refused at the first read, with nothing written. It does not switch
// auth on. After a failed write, the result holds the writes made before
// it; running it again completes the rest.
func (a *Admin) ApplyRBAC(ctx context.Context, cfg RBACConfig) (*RBACResult, error) {
	res := &RBACResult{}
	if err := a.checkRBAC(ctx, cfg); err != nil {
		return res, err
	}
	var plan []rbacStep
	for _, r := range Roles(a.prefix, cfg.Probers) {
		steps, err := a.planRole(ctx, r)
		if err != nil {
			return res, err
		}
		plan = append(plan, steps...)
		if steps, err = a.planUser(ctx, r.Name, cfg.Passwords[r.Name], res); err != nil {
			return res, err
		}
		plan = append(plan, steps...)
	}
	for _, s := range plan {
		if err := s.do(ctx); err != nil {
			return res, fmt.Errorf("%s: %w", s.what, err)
		}
		res.Changes = append(res.Changes, s.what)
	}
	return res, nil
}

// checkRBAC refuses ids that are not valid prober ids, and prober ids that
// are region ids: prober "eu-west" could write under health/eu-west/, where
// the legacy keys of region eu-west lie (glbd refuses those, but better not
// to hand out the credential at all).
func (a *Admin) checkRBAC(ctx context.Context, cfg RBACConfig) error {
	for _, id := range cfg.Probers {
		if _, err := schema.ParseKey(a.prefix, schema.ProberKey(a.prefix, id)); err != nil {
			return fmt.Errorf("prober %q: %w", id, err)
		}
	}
	wanted := map[string]bool{ReaderRole: true, OperatorRole: true}
	for _, id := range cfg.Probers {
		wanted[ProberRole(id)] = true
	}
	for user := range cfg.Passwords {
		if !wanted[user] {
			return fmt.Errorf("password given for user %q, which is not one of the users to create (%s, %s, %s<id> for each --prober)",
				user, ReaderRole, OperatorRole, ProberRolePrefix)
		}
	}
	resp, err := a.c.Get(ctx, a.prefix+"regions/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return fmt.Errorf("read regions under %q: %w", a.prefix, err)
	}
	for _, kv := range resp.Kvs {
		k, err := schema.ParseKey(a.prefix, string(kv.Key))
		if err == nil && k.Kind == schema.KindRegion && slices.Contains(cfg.Probers, k.Region) {
			return fmt.Errorf("prober id %q is also a region id: its health prefix %s would cover the legacy health keys "+
				"of region %q; give the prober another id", k.Region, schema.ProberHealthPrefix(a.prefix, k.Region), k.Region)
		}
	}
	return nil
}

// rbacStep is one write ApplyRBAC will make.
type rbacStep struct {
	what string
	do   func(ctx context.Context) error
}

// planRole reads a role and returns the steps that make it r: create it,
// revoke what it should not have, grant what it lacks.
func (a *Admin) planRole(ctx context.Context, r Role) ([]rbacStep, error) {
	var have []Permission
	var steps []rbacStep
	resp, err := a.c.RoleGet(ctx, r.Name)
	switch {
	case errors.Is(err, rpctypes.ErrRoleNotFound):
		steps = append(steps, rbacStep{"role " + r.Name + ": created", func(ctx context.Context) error {
			_, err := a.c.RoleAdd(ctx, r.Name)
			return err
		}})
	case err != nil:
		return nil, fmt.Errorf("read role %s: %w", r.Name, rootHint(err))
	default:
		for _, p := range resp.Perm {
			have = append(have, Permission{Access: accessOf(p.PermType), Key: string(p.Key), RangeEnd: string(p.RangeEnd)})
		}
	}
	// etcd keeps one permission per range: a grant on a range it already
	// has replaces the access, so only ranges not wanted at all are revoked.
	sameRange := func(p Permission) func(Permission) bool {
		return func(q Permission) bool { return q.Key == p.Key && q.RangeEnd == p.RangeEnd }
	}
	for _, p := range have {
		if !slices.ContainsFunc(r.Perms, sameRange(p)) {
			steps = append(steps, rbacStep{"role " + r.Name + ": revoked " + p.String(), func(ctx context.Context) error {
				_, err := a.c.RoleRevokePermission(ctx, r.Name, p.Key, p.RangeEnd)
				return err
			}})
		}
	}
	for _, p := range r.Perms {
		if !slices.Contains(have, p) {
			steps = append(steps, rbacStep{"role " + r.Name + ": granted " + p.String(), func(ctx context.Context) error {
				_, err := a.c.RoleGrantPermission(ctx, r.Name, p.Key, p.RangeEnd, p.Access.etcd())
				return err
			}})
		}
	}
	return steps, nil
}

// planUser reads a user and returns the steps that make it a user with
// exactly the role of its name: create it (with password, or with none),
// revoke other roles, grant its own.
func (a *Admin) planUser(ctx context.Context, name, password string, res *RBACResult) ([]rbacStep, error) {
	var have []string
	var steps []rbacStep
	resp, err := a.c.UserGet(ctx, name)
	switch {
	case errors.Is(err, rpctypes.ErrUserNotFound):
		what := "user " + name + ": created with the password from the password file"
		if password == "" {
			what = "user " + name + ": created without a password (it logs in with a client certificate whose CN is " + name + ")"
		}
		steps = append(steps, rbacStep{what, func(ctx context.Context) error {
			_, err := a.c.UserAddWithOptions(ctx, name, password, &clientv3.UserAddOptions{NoPassword: password == ""})
			return err
		}})
	case err != nil:
		return nil, fmt.Errorf("read user %s: %w", name, rootHint(err))
	default:
		have = resp.Roles
		if password != "" {
			res.Notes = append(res.Notes, "user "+name+" exists: its password is left as it is (etcdctl user passwd "+name+" changes it)")
		}
	}
	for _, r := range have {
		if r != name {
			steps = append(steps, rbacStep{"user " + name + ": revoked role " + r, func(ctx context.Context) error {
				_, err := a.c.UserRevokeRole(ctx, name, r)
				return err
			}})
		}
	}
	if !slices.Contains(have, name) {
		steps = append(steps, rbacStep{"user " + name + ": granted role " + name, func(ctx context.Context) error {
			_, err := a.c.UserGrantRole(ctx, name, name)
			return err
		}})
	}
	return steps, nil
}

// rootHint says who may manage roles and users, when etcd says who may not.
func rootHint(err error) error {
	if errors.Is(err, rpctypes.ErrPermissionDenied) {
		return fmt.Errorf("%w (only a user with etcd's root role may manage roles and users)", err)
	}
	return err
}

// UnlistedProberRoles returns the glb-prober-* roles in etcd that are not
// among probers: probers retired, or left off the command line by mistake.
// ApplyRBAC leaves them alone.
func (a *Admin) UnlistedProberRoles(ctx context.Context, probers []string) ([]string, error) {
	resp, err := a.c.RoleList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", rootHint(err))
	}
	var out []string
	for _, r := range resp.Roles {
		if id, ok := strings.CutPrefix(r, ProberRolePrefix); ok && !slices.Contains(probers, id) {
			out = append(out, r)
		}
	}
	return out, nil
}

// AuthEnabled says whether etcd's authentication is on. etcd 3.4 has no
// way to ask: ok is false then.
func (a *Admin) AuthEnabled(ctx context.Context) (enabled, ok bool) {
	resp, err := a.c.AuthStatus(ctx)
	if err != nil {
		return false, false
	}
	return resp.Enabled, true
}
