package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// authenticateMethod is etcd's Authenticate RPC, the one call made
// without a token.
const authenticateMethod = "/etcdserverpb.Auth/Authenticate"

// tokenAuth keeps an etcd auth token for a user and password and attaches
// it to every request. clientv3 can do this itself, but it authenticates
// inside clientv3.New and fails there when etcd is down, which would stop
// glbd from starting on its cache file; this does the same on first use
// instead.
//
// Freshness, as clientv3 does it: a token etcd no longer accepts (simple
// tokens expire after --auth-token-ttl unused, JWTs at their exp) comes
// back as ErrInvalidAuthToken on a unary call; the token is dropped, and
// clientv3's retry interceptor, which retries that error, repeats the call
// with a new one. Streams (watches, lease keepalives) are authorised when
// they open, so each stream opens with a token fetched just before; an
// open watch is never touched by a token's expiry, and one that is
// reopened carries a valid token, so there is no gap.
type tokenAuth struct {
	user, password string
	client         atomic.Pointer[clientv3.Client] // set once clientv3.New returns

	authMu sync.Mutex // held while authenticating, so that one call refreshes for all

	mu    sync.Mutex // guards token and have; never held across a request
	token string
	have  bool // token is current ("" and true: auth is off in etcd)
}

// authTimeout bounds one Authenticate call: a stream may be opened under a
// context without a deadline, and requests wait for the refresh.
const authTimeout = 5 * time.Second

// dialOptions attach the token and watch for its rejection.
func (a *tokenAuth) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithPerRPCCredentials(a),
		grpc.WithChainUnaryInterceptor(a.unary),
		grpc.WithChainStreamInterceptor(a.stream),
	}
}

type authenticatingKey struct{}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (a *tokenAuth) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if ctx.Value(authenticatingKey{}) != nil {
		return nil, nil
	}
	a.mu.Lock()
	tok := a.token
	a.mu.Unlock()
	if tok == "" {
		return nil, nil
	}
	return map[string]string{rpctypes.TokenFieldNameGRPC: tok}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials. etcd
// accepts passwords over plain http; NewClient warns about it.
func (a *tokenAuth) RequireTransportSecurity() bool { return false }

// refresh authenticates unless the token is current, or always when force
// is set.
func (a *tokenAuth) refresh(ctx context.Context, force bool) error {
	a.authMu.Lock()
	defer a.authMu.Unlock()
	a.mu.Lock()
	have := a.have
	a.mu.Unlock()
	if have && !force {
		return nil
	}
	c := a.client.Load()
	if c == nil {
		return errors.New("etcd client not ready")
	}
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, authenticatingKey{}, true), authTimeout)
	defer cancel()
	resp, err := c.Auth.Authenticate(ctx, a.user, a.password)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case errors.Is(err, rpctypes.ErrAuthNotEnabled):
		a.token, a.have = "", true
		return nil
	case IsDenied(err):
		return &DeniedError{Operation: OpAuthenticate, Key: a.user, Err: err}
	case err != nil:
		return fmt.Errorf("authenticate etcd user %q: %w", a.user, err)
	}
	a.token, a.have = resp.Token, true
	return nil
}

// drop forgets tok if it is still the current token.
func (a *tokenAuth) drop(tok string) {
	a.mu.Lock()
	if a.token == tok {
		a.token, a.have = "", false
	}
	a.mu.Unlock()
}

func (a *tokenAuth) current() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.token
}

// unary fetches a token when there is none and drops one etcd refused.
// It runs inside clientv3's retry interceptor, which then tries again.
func (a *tokenAuth) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if method == authenticateMethod {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	if err := a.refresh(ctx, false); err != nil {
		return err
	}
	tok := a.current()
	err := invoker(ctx, method, req, reply, cc, opts...)
	if staleToken(err) {
		a.drop(tok)
	}
	return err
}

// stream opens each stream with a token fetched just before, as clientv3
// does, since a stream keeps the token it opened with. When the refresh
// fails for another reason than a refusal, a token still held is tried:
// it may well be valid, and the stream's own error says more.
func (a *tokenAuth) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if err := a.refresh(ctx, true); err != nil && (IsDenied(err) || a.current() == "") {
		return nil, err
	}
	return streamer(ctx, desc, cc, method, opts...)
}

// staleToken reports whether etcd refused a request for its token rather
// than for what it asked.
func staleToken(err error) bool {
	if err == nil {
		return false
	}
	e := rpctypes.Error(err)
	return errors.Is(e, rpctypes.ErrInvalidAuthToken) || errors.Is(e, rpctypes.ErrUserEmpty) ||
		errors.Is(e, rpctypes.ErrAuthOldRevision)
}
