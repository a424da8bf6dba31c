package store

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ConnFlags are the etcd connection flags glbd, glbprobe and glbctl share,
// with the same names and meanings in all three, and etcdctl's variables
// as their defaults: a flag given wins over its variable.
//
//	-etcd-endpoints             ETCDCTL_ENDPOINTS
//	-etcd-cacert                ETCDCTL_CACERT
//	-etcd-cert                  ETCDCTL_CERT
//	-etcd-key                   ETCDCTL_KEY
//	-etcd-user                  ETCDCTL_USER  (name or name:password)
//	-etcd-password-file         ETCDCTL_PASSWORD (the password itself)
//	-etcd-insecure-skip-verify  ETCDCTL_INSECURE_SKIP_TLS_VERIFY
type ConnFlags struct {
	Endpoints, CACert, Cert, Key, User, PasswordFile string
	// InsecureSkipVerify is set only when the flag is given, so that an
	// unset flag leaves the variable in force.
	InsecureSkipVerify OptBool
}

// Register adds the flags to fs, with the current values as defaults (so
// that a command may register them on several flag sets that share one
// ConnFlags). aliases are further names of -etcd-endpoints, such as
// glbd's and glbprobe's older -etcd.
func (f *ConnFlags) Register(fs *flag.FlagSet, aliases ...string) {
	eps := "comma-separated etcd endpoints, http:// or https:// URLs (default $ETCDCTL_ENDPOINTS, else " + DefaultEndpoint + ")"
	fs.StringVar(&f.Endpoints, "etcd-endpoints", f.Endpoints, eps)
	for _, a := range aliases {
		fs.StringVar(&f.Endpoints, a, f.Endpoints, "same as -etcd-endpoints")
	}
	fs.StringVar(&f.CACert, "etcd-cacert", f.CACert, "PEM file of the CAs that sign etcd's certificate (default $ETCDCTL_CACERT, else the system's roots); re-read when it changes")
	fs.StringVar(&f.Cert, "etcd-cert", f.Cert, "PEM file of the client certificate for etcd (default $ETCDCTL_CERT); re-read when it changes")
	fs.StringVar(&f.Key, "etcd-key", f.Key, "PEM file of the client certificate's key (default $ETCDCTL_KEY); re-read when it changes")
	fs.StringVar(&f.User, "etcd-user", f.User, "etcd user, \"name\" or \"name:password\" (default $ETCDCTL_USER)")
	fs.StringVar(&f.PasswordFile, "etcd-password-file", f.PasswordFile, "file holding the etcd user's password (default: the password of -etcd-user, else $ETCDCTL_PASSWORD)")
	fs.Var(&f.InsecureSkipVerify, "etcd-insecure-skip-verify", "do not verify etcd's certificate: for a test setup only (default $ETCDCTL_INSECURE_SKIP_TLS_VERIFY, else false)")
}

// Config resolves the flags and env (etcdctl's variables, looked up by
// env) into a Config, reading the password file; errors name the flag or
// variable.
func (f *ConnFlags) Config(env func(string) string) (Config, error) {
	pick := func(flagValue, name string) string {
		if flagValue != "" {
			return flagValue
		}
		return env(name)
	}
	c := Config{
		Endpoints: ResolveEndpoints(f.Endpoints, env("ETCDCTL_ENDPOINTS")),
		CACert:    pick(f.CACert, "ETCDCTL_CACERT"),
		Cert:      pick(f.Cert, "ETCDCTL_CERT"),
		Key:       pick(f.Key, "ETCDCTL_KEY"),
	}
	var errs []error
	if f.InsecureSkipVerify.Given {
		c.InsecureSkipVerify = f.InsecureSkipVerify.Value
	} else if v := env("ETCDCTL_INSECURE_SKIP_TLS_VERIFY"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("$ETCDCTL_INSECURE_SKIP_TLS_VERIFY %q: want true or false", v))
		}
		c.InsecureSkipVerify = b
	}
	var err error
	c.User, c.Password, err = f.credentials(env)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("etcd connection: %w", err)
	}
	return c, nil
}

// credentials resolves the user and password. As with etcdctl, a password
// given on its own (file or $ETCDCTL_PASSWORD) makes the user name the
// whole of -etcd-user; otherwise "name:password" is split. A password
// written in the -etcd-user flag wins over $ETCDCTL_PASSWORD.
func (f *ConnFlags) credentials(env func(string) string) (user, password string, err error) {
	user = f.User
	if user == "" {
		user = env("ETCDCTL_USER")
	}
	name, pw, hasPw := strings.Cut(user, ":")
	switch {
	case f.PasswordFile != "":
		if hasPw && f.User != "" {
			return "", "", errors.New("-etcd-user has a password and -etcd-password-file another: give one")
		}
		b, err := os.ReadFile(f.PasswordFile)
		if err != nil {
			return "", "", fmt.Errorf("-etcd-password-file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
		if password == "" {
			return "", "", fmt.Errorf("-etcd-password-file %q: empty", f.PasswordFile)
		}
		if user == "" {
			return "", "", errors.New("-etcd-password-file: no user (-etcd-user or $ETCDCTL_USER)")
		}
		return user, password, nil
	case hasPw && f.User != "":
		return name, pw, nil
	case env("ETCDCTL_PASSWORD") != "":
		if user == "" {
			return "", "", errors.New("$ETCDCTL_PASSWORD: no user (-etcd-user or $ETCDCTL_USER)")
		}
		return user, env("ETCDCTL_PASSWORD"), nil
	case hasPw:
		return name, pw, nil
	case user != "":
		return "", "", fmt.Errorf("-etcd-user %q: no password; give \"name:password\", -etcd-password-file or $ETCDCTL_PASSWORD", user)
	}
	return "", "", nil
}

// OptBool is a boolean flag that remembers whether it was given.
type OptBool struct{ Value, Given bool }

// String implements flag.Value.
func (b *OptBool) String() string {
	if b == nil {
		return "false"
	}
	return strconv.FormatBool(b.Value)
}

// Set implements flag.Value.
func (b *OptBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.Value, b.Given = v, true
	return nil
}

// IsBoolFlag lets the flag be given without a value.
func (b *OptBool) IsBoolFlag() bool { return true }
