package etcdtest

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EnableAuth turns on etcd's password authentication, as an operator
// would: it creates the user root with rootPassword, grants it the root
// role (etcd refuses to enable auth without both) and enables auth. From
// then on Put and Get act as root.
func (s *Server) EnableAuth(t testing.TB, rootPassword string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := s.ownClient(t)
	if _, err := c.UserAdd(ctx, "root", rootPassword); err != nil {
		t.Fatalf("etcdtest: add user root: %v", err)
	}
	if _, err := c.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatalf("etcdtest: grant root role: %v", err)
	}
	if _, err := c.AuthEnable(ctx); err != nil {
		t.Fatalf("etcdtest: enable auth: %v", err)
	}
	root := s.UserClient(t, "root", rootPassword)
	s.mu.Lock()
	s.client = root
	s.mu.Unlock()
}

// UserClient returns a client that logs in as user with password, closed
// when the test ends. It fails the test if the login is refused.
func (s *Server) UserClient(t testing.TB, user, password string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints: s.Endpoints(),
		// The login is part of the dial, on a loaded machine under -race.
		DialTimeout: 15 * time.Second,
		Username:    user,
		Password:    password,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("etcdtest: client as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
