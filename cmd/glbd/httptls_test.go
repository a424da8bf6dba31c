package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// testPKI is a CA made for one test, with a server certificate for
// 127.0.0.1 and a client certificate, as PEM files in a directory.
type testPKI struct {
	t               *testing.T
	dir             string
	caCert          *x509.Certificate
	caKey           *ecdsa.PrivateKey
	pool            *x509.CertPool
	ca, cert, key   string // file paths
	clientCert      tls.Certificate
	clientKey       string // the client's key file: not the server certificate's key
	otherClientCert tls.Certificate
}

func newTestPKI(t *testing.T, dir string) *testPKI {
	t.Helper()
	p := &testPKI{t: t, dir: dir}
	p.caKey = newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1000), Subject: pkix.Name{CommonName: "glb test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.caCert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.caCert)
	p.ca = writeFile(t, filepath.Join(dir, "ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	p.cert, p.key = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	p.issueServer(1)
	var keyPEM string
	p.clientCert, _, keyPEM = p.issue(p.caCert, p.caKey, 50, "glbctl", x509.ExtKeyUsageClientAuth)
	p.clientKey = writeFile(t, filepath.Join(dir, "client-key.pem"), keyPEM)
	// A client certificate from a CA glbd does not trust.
	otherKey := newKey(t)
	other := &x509.Certificate{SerialNumber: big.NewInt(2000), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	p.otherClientCert, _, _ = p.issue(other, otherKey, 60, "intruder", x509.ExtKeyUsageClientAuth)
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue signs a certificate with serial and returns it, and it and its
// key as PEM.
func (p *testPKI) issue(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, serial int64, cn string,
	usage x509.ExtKeyUsage) (c tls.Certificate, certPEM, keyPEM string) {
	p.t.Helper()
	k := newKey(p.t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		p.t.Fatal(err)
	}
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	if c, err = tls.X509KeyPair([]byte(certPEM), []byte(keyPEM)); err != nil {
		p.t.Fatal(err)
	}
	return c, certPEM, keyPEM
}

// issueServer writes a new server certificate with serial, and its key,
// over the files glbd reads: the key first, as a careless rotation might,
// so that glbd sees a certificate and key that do not match in between.
func (p *testPKI) issueServer(serial int64) {
	p.t.Helper()
	_, certPEM, keyPEM := p.issue(p.caCert, p.caKey, serial, "glbd", x509.ExtKeyUsageServerAuth)
	writeFile(p.t, p.key, keyPEM)
	writeFile(p.t, p.cert, certPEM)
}

// servedSerial connects to addr and returns the serial number of the
// certificate it presents.
func servedSerial(t *testing.T, p *testPKI, addr string) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestHTTPTLSRotation serves -http over TLS, replaces the certificate on
// disk, and polls until the new serial number is served: within the
// re-read interval, and without a restart.
func TestHTTPTLSRotation(t *testing.T) {
	p := newTestPKI(t, t.TempDir())
	a := startApp(t, Config{Etcd: seededEtcd(t).Endpoints(),
		HTTP: httpFlags{TLSCert: p.cert, TLSKey: p.key, reload: 100 * time.Millisecond}})
	addr := a.httpLn.Addr().String()
	if got := servedSerial(t, p, addr); got != 1 {
		t.Fatalf("serial %d served, want 1", got)
	}
	c := tlsClient(t, p, nil)
	if resp := httpGet(t, c, "https://"+addr, "/healthz", ""); resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("GET /healthz over TLS: %s", resp.Status)
	}
	// Plain HTTP to the TLS port gets no page.
	if resp, err := http.Get("http://" + addr + "/status.json"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP on the TLS listener: %s %q", resp.Status, body)
		}
	}
	// HTTP/2 too, as curl and browsers ask: ALPN reads the configuration
	// the handshake was given.
	h2 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}, ForceAttemptHTTP2: true}}
	if resp := httpGet(t, h2, "https://"+addr, "/healthz", ""); resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Errorf("GET /healthz asking for HTTP/2: %s over %s", resp.Status, resp.Proto)
	}
	p.issueServer(2)
	took := waitFor(t, 10*time.Second, "the rotated certificate served", func() bool { return servedSerial(t, p, addr) == 2 })
	t.Logf("new certificate served %s after it was written", took)
	if resp := httpGet(t, c, "https://"+addr, "/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz with the new certificate: %s", resp.Status)
	}
}

// TestHTTPMutualTLS requires client certificates: a client without one, or
// with one from another CA, is refused at the handshake; the right one is
// served, and with a token the path still needs it.
func TestHTTPMutualTLS(t *testing.T) {
	p := newTestPKI(t, t.TempDir())
	tokenFile := writeFile(t, filepath.Join(t.TempDir(), "token"), "mtls-token\n")
	a := startApp(t, Config{Etcd: seededEtcd(t).Endpoints(),
		HTTP: httpFlags{TLSCert: p.cert, TLSKey: p.key, ClientCA: p.ca, TokenFile: tokenFile}})
	base := "https://" + a.httpLn.Addr().String()
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
	}{
		{"no client certificate", nil},
		{"a certificate from another CA", &p.otherClientCert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+"/healthz", nil)
			resp, err := tlsClient(t, p, tc.cert).Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("served %s without a trusted client certificate", resp.Status)
			}
			t.Logf("refused: %v", err)
		})
	}
	c := tlsClient(t, p, &p.clientCert)
	if resp := httpGet(t, c, base, "/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz with the client certificate: %s, want 200", resp.Status)
	}
	if resp := httpGet(t, c, base, "/status.json", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/status.json with the client certificate, no token: %s, want 401", resp.Status)
	}
	if resp := httpGet(t, c, base, "/status.json", "Bearer mtls-token"); resp.StatusCode != http.StatusOK {
		t.Errorf("/status.json with the client certificate and the token: %s, want 200", resp.Status)
	}
}
