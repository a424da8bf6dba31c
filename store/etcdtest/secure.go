package etcdtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glb-dns/glb/store/embedded"
)

// RootPassword is the password of etcd's root user on a StartSecure node
// with Passwords set.
const RootPassword = "etcdtest-root-password"

// SecureOptions say how a StartSecure node authenticates its clients.
type SecureOptions struct {
	// Passwords makes users log in with a password, over TLS without
	// client certificates. Otherwise etcd requires a client certificate
	// (--client-cert-auth) and takes its CN as the user name.
	Passwords bool
	// AuthTokenTTL is how long an unused simple token lives (etcd's
	// --auth-token-ttl); 0 means etcd's 300s. Short, it lets a test see a
	// token expire.
	AuthTokenTTL time.Duration
}

// secure is what a StartSecure node adds to a Server.
type secure struct {
	opts              SecureOptions
	ca                *CA
	rootCert, rootKey string

	mu        sync.Mutex
	passwords map[string]string // by user
}

// StartSecure starts a node as Start does, but serving https:// with a
// certificate of a test CA made here (see CA), and with etcd's auth on:
// a root user holds the root role, and every other user needs AddUser.
// Client returns a root client. It skips the test under -short.
func StartSecure(t testing.TB, opts SecureOptions) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("etcdtest: skipping test with a real etcd in -short mode")
	}
	ca := NewCA(t)
	certFile, keyFile := ca.serverCert(t)
	sec := &secure{opts: opts, ca: ca, passwords: map[string]string{"root": RootPassword}}
	sec.rootCert, sec.rootKey = ca.Issue(t, "root")
	s := &Server{secure: sec, cfg: embedded.Config{
		Dir:          filepath.Join(t.TempDir(), "etcd"),
		Name:         "etcdtest",
		NoFsync:      true,
		TLS:          &embedded.TLS{CertFile: certFile, KeyFile: keyFile},
		AuthTokenTTL: opts.AuthTokenTTL,
		// Logins cost bcrypt's hash each; at etcd's default cost tests
		// under -race time out.
		FastPasswords: true,
	}}
	if !opts.Passwords {
		// etcd asks for client certificates whenever it has a CA for them.
		s.cfg.TLS.TrustedCAFile, s.cfg.TLS.ClientCertAuth = ca.CertFile, true
	}
	s.proxy.addr = "127.0.0.1:0"
	s.start(t)
	t.Cleanup(func() { s.Stop(t) })

	c := s.ownClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var err error
	if opts.Passwords {
		_, err = c.UserAdd(ctx, "root", RootPassword)
	} else {
		_, err = c.UserAddWithOptions(ctx, "root", "", &clientv3.UserAddOptions{NoPassword: true})
	}
	if err == nil {
		_, err = c.UserGrantRole(ctx, "root", "root")
	}
	if err == nil {
		_, err = c.AuthEnable(ctx)
	}
	if err != nil {
		t.Fatalf("etcdtest: enable auth: %v", err)
	}
	return s
}

// CA returns the test CA of a StartSecure node; nil for a plain one.
func (s *Server) CA() *CA {
	if s.secure == nil {
		return nil
	}
	return s.secure.ca
}

// Perm is a permission of a user's role.
type Perm struct {
	key, end string
	typ      clientv3.PermissionType
}

// Read is read access to every key under prefix.
func Read(prefix string) Perm {
	return Perm{prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermRead)}
}

// ReadWrite is read and write access to every key under prefix.
func ReadWrite(prefix string) Perm {
	return Perm{prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite)}
}

// AddUser creates a user and a role of the same name holding perms, on a
// StartSecure node. With Passwords, the user's password is name+"-password".
func (s *Server) AddUser(t testing.TB, name string, perms ...Perm) {
	t.Helper()
	c := s.ownClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var err error
	if s.secure.opts.Passwords {
		s.secure.mu.Lock()
		s.secure.passwords[name] = name + "-password"
		s.secure.mu.Unlock()
		_, err = c.UserAdd(ctx, name, name+"-password")
	} else {
		_, err = c.UserAddWithOptions(ctx, name, "", &clientv3.UserAddOptions{NoPassword: true})
	}
	if err == nil {
		_, err = c.RoleAdd(ctx, name)
	}
	for _, p := range perms {
		if err == nil {
			_, err = c.RoleGrantPermission(ctx, name, p.key, p.end, p.typ)
		}
	}
	if err == nil {
		_, err = c.UserGrantRole(ctx, name, name)
	}
	if err != nil {
		t.Fatalf("etcdtest: add user %q: %v", name, err)
	}
}

// Creds are what a glb binary needs to reach a StartSecure node as one
// user: Cert and Key under client-certificate auth, User and Password
// under password auth.
type Creds struct {
	Endpoints      []string
	CACert         string
	Cert, Key      string
	User, Password string
}

// Creds returns the credentials of user (made with AddUser, or "root"):
// a new client certificate for it, or its password.
func (s *Server) Creds(t testing.TB, user string) Creds {
	t.Helper()
	c := Creds{Endpoints: s.Endpoints(), CACert: s.secure.ca.CertFile}
	if s.secure.opts.Passwords {
		s.secure.mu.Lock()
		c.User, c.Password = user, s.secure.passwords[user]
		s.secure.mu.Unlock()
		return c
	}
	c.Cert, c.Key = s.secure.ca.Issue(t, user)
	return c
}

// Args returns the credentials as glbd's, glbprobe's and glbctl's flags.
// A password goes into a file of t's, as -etcd-password-file.
func (c Creds) Args(t testing.TB) []string {
	t.Helper()
	args := []string{"-etcd-endpoints", c.Endpoints[0], "-etcd-cacert", c.CACert}
	if c.Cert != "" {
		args = append(args, "-etcd-cert", c.Cert, "-etcd-key", c.Key)
	}
	if c.User != "" {
		pw := filepath.Join(t.TempDir(), "password")
		if err := os.WriteFile(pw, []byte(c.Password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-etcd-user", c.User, "-etcd-password-file", pw)
	}
	return args
}

// rootConfig adds the root user's credentials to cfg on a secure node.
func (s *Server) rootConfig(t testing.TB, cfg clientv3.Config) clientv3.Config {
	t.Helper()
	if s.secure == nil {
		return cfg
	}
	pem, err := os.ReadFile(s.secure.ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cfg.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if s.secure.opts.Passwords {
		cfg.Username, cfg.Password = "root", RootPassword
		return cfg
	}
	cert, err := tls.LoadX509KeyPair(s.secure.rootCert, s.secure.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS.Certificates = []tls.Certificate{cert}
	return cfg
}

// AuthMode is one way a StartSecure node authenticates its clients, named
// for t.Run.
type AuthMode struct {
	Name string
	Opts SecureOptions
}

// AuthModes are client certificates and passwords: a test that must hold
// under both runs once per mode.
var AuthModes = []AuthMode{
	{"client certificate", SecureOptions{}},
	{"password", SecureOptions{Passwords: true}},
}
