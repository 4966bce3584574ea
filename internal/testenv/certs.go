package testenv

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
	"testing"
	"time"
)

// writeCerts makes a CA and a server certificate for 127.0.0.1 and
// localhost signed by it, writes the server's pair into dir as MinIO
// expects (public.crt, private.key) and the CA as ca.pem beside dir, and
// returns the CA's path.
func writeCerts(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "berth test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	caFile := filepath.Join(filepath.Dir(dir), "ca.pem")
	for path, block := range map[string]*pem.Block{
		caFile:                            {Type: "CERTIFICATE", Bytes: caDER},
		filepath.Join(dir, "public.crt"):  {Type: "CERTIFICATE", Bytes: leafDER},
		filepath.Join(dir, "private.key"): {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return "", err
		}
	}
	return caFile, nil
}

// ServerCerts writes a CA and a server certificate for 127.0.0.1 and
// localhost signed by it into a temporary directory of tb, and returns the
// PEM files of the certificate, its key and the CA.
func ServerCerts(tb testing.TB) (cert, key, ca string) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "tls")
	ca, err := writeCerts(dir)
	if err != nil {
		tb.Fatalf("test certificates: %v", err)
	}
	return filepath.Join(dir, "public.crt"), filepath.Join(dir, "private.key"), ca
}
