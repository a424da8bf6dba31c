package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a test certificate authority, made in the test with crypto/x509:
// no key or certificate is ever checked in.
type CA struct {
	// CertFile is the CA's certificate, PEM: what -etcd-cacert names.
	CertFile string
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	dir      string
	serial   atomic.Int64
}

// NewCA makes a CA whose files live in a temporary directory of t.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("etcdtest: CA key: %v", err)
	}
	ca := &CA{key: key, dir: t.TempDir()}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "etcdtest CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("etcdtest: CA certificate: %v", err)
	}
	if ca.cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	ca.serial.Store(1)
	ca.CertFile = filepath.Join(ca.dir, "ca.pem")
	writeFile(t, ca.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return ca
}

// Issue makes a client certificate for cn (etcd's user name under
// client-certificate auth), valid from an hour ago for a day, and returns
// its certificate and key files.
func (ca *CA) Issue(t testing.TB, cn string) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(ca.dir, cn+"-"+big.NewInt(ca.serial.Add(1)).String()+".pem")
	keyFile = certFile[:len(certFile)-len(".pem")] + "-key.pem"
	ca.WriteCert(t, certFile, keyFile, cn, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	return certFile, keyFile
}

// WriteCert writes a client certificate for cn valid from notBefore to
// notAfter, with a new key, to certFile and keyFile, replacing them as a
// rotation does: each file is written aside and renamed into place.
func (ca *CA) WriteCert(t testing.TB, certFile, keyFile, cn string, notBefore, notAfter time.Time) {
	t.Helper()
	ca.write(t, certFile, keyFile, &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// serverCert writes etcd's certificate for 127.0.0.1 and localhost.
func (ca *CA) serverCert(t testing.TB) (certFile, keyFile string) {
	certFile, keyFile = filepath.Join(ca.dir, "server.pem"), filepath.Join(ca.dir, "server-key.pem")
	ca.write(t, certFile, keyFile, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "etcdtest server"},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
	})
	return certFile, keyFile
}

func (ca *CA) write(t testing.TB, certFile, keyFile string, tmpl *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("etcdtest: key: %v", err)
	}
	tmpl.SerialNumber = big.NewInt(ca.serial.Add(1))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("etcdtest: certificate for %q: %v", tmpl.Subject.CommonName, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// writeFile replaces path atomically, so a reader never sees half a file.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
}
