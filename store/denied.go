package store

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// The operations glb_etcd_denied_total counts, by what the caller tried.
const (
	OpList         = "list"         // read a prefix (glbd's and glbprobe's watcher)
	OpWatch        = "watch"        // watch a prefix
	OpRead         = "read"         // glbctl's reads
	OpWrite        = "write"        // a put or delete, or a transaction of them
	OpLeaseGrant   = "lease_grant"  // a prober's lease
	OpAuthenticate = "authenticate" // user and password refused
	opDeniedOther  = "other"        // anything else; keeps the label set bounded
)

var deniedOps = []string{OpList, OpWatch, OpRead, OpWrite, OpLeaseGrant, OpAuthenticate, opDeniedOther}

// IsDenied reports whether err is etcd refusing the credential rather
// than failing: a permission its role lacks, a wrong password, or no user
// at all where auth is on.
func IsDenied(err error) bool {
	if err == nil {
		return false
	}
	e := rpctypes.Error(err)
	for _, d := range []error{rpctypes.ErrPermissionDenied, rpctypes.ErrUserEmpty, rpctypes.ErrAuthFailed,
		rpctypes.ErrUserNotFound} {
		if errors.Is(err, d) || errors.Is(e, d) {
			return true
		}
	}
	return false
}

// DeniedError is an operation etcd refused to a credential; it names the
// operation and the key or prefix.
type DeniedError struct {
	Operation string // one of the Op constants
	Key       string // the key, prefix or user it was about
	Prefix    bool   // Key is a prefix
	Err       error  // etcd's error
}

func (e *DeniedError) Error() string {
	what := "key"
	if e.Prefix {
		what = "prefix"
	}
	if e.Operation == OpAuthenticate {
		what = "user"
	}
	return fmt.Sprintf("etcd denied %s of %s %q: %s", e.Operation, what, e.Key, e.Err.Error())
}

func (e *DeniedError) Unwrap() error { return e.Err }

// denied returns a DeniedError for err when etcd denied it, else err.
func denied(op, key string, prefix bool, err error) error {
	if IsDenied(err) {
		return &DeniedError{Operation: op, Key: key, Prefix: prefix, Err: err}
	}
	return err
}

// deniedCounter returns glb_etcd_denied_total from reg, registering it on
// first use: the Watcher's and the Publisher's metrics share it.
func deniedCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glb", Subsystem: "etcd", Name: "denied_total",
		Help: "Operations etcd refused to this process's credential, by operation.",
	}, []string{"operation"})
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			panic(err)
		}
		c = are.ExistingCollector.(*prometheus.CounterVec)
	}
	for _, op := range deniedOps {
		c.WithLabelValues(op)
	}
	return c
}

// reportDenied logs a denied operation at Warn, with the key or prefix,
// and counts it; it reports whether err was a denial.
func reportDenied(log *slog.Logger, c *prometheus.CounterVec, op, key string, prefix bool, err error) bool {
	if !IsDenied(err) {
		return false
	}
	keyAttr := "key"
	if prefix {
		keyAttr = "prefix"
	}
	log.Warn("etcd denied the operation to this credential", "operation", op, keyAttr, key, "err", err)
	c.WithLabelValues(op).Inc()
	return true
}
