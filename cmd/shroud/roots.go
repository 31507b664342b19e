package main

import (
	"crypto/x509"
	"os"
	"strings"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The fallback roots make TLS work where the system has no CA certificates
// (a scratch image). They are used only when the system has none:
// SSL_CERT_FILE, SSL_CERT_DIR, the system's files and the configured
// ca_file all win over them.
//
// Setting them costs every start ~2 ms and 650 KB, TLS or not: Go loads
// and parses the system's roots at once, and the bundle's ~150 roots are
// parsed to make the pool. So they are set only where a look at the
// system's files, which parses nothing, finds no certificate.
func init() {
	if !systemRoots() {
		x509.SetFallbackRoots(fallbackPool())
	}
}

// systemRoots reports whether crypto/x509 will find CA certificates where
// it looks on Linux (its root_linux.go and root_unix.go; SSL_CERT_FILE and
// SSL_CERT_DIR replace its lists): the first of the files that exists is
// not empty, or a directory holds a file that is not empty. A file that is
// not empty but holds no certificate would leave TLS failing closed.
func systemRoots() bool {
	files := []string{
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem",
		"/etc/pki/tls/cacert.pem",
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		"/etc/ssl/cert.pem",
	}
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		files = []string{f}
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			if fi.Size() > 0 {
				return true
			}
			break // crypto/x509 reads the first file it can
		}
	}
	dirs := []string{"/etc/ssl/certs", "/etc/pki/tls/certs"}
	if d := os.Getenv("SSL_CERT_DIR"); d != "" {
		dirs = strings.Split(d, ":")
	}
	for _, d := range dirs {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if fi, err := os.Stat(d + "/" + e.Name()); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
				return true
			}
		}
	}
	return false
}

// fallbackPool is the pool of golang.org/x/crypto/x509roots/fallback, made
// as its init would make it.
func fallbackPool() *x509.CertPool {
	p := x509.NewCertPool()
	for root := range bundle.Roots() {
		cert, err := x509.ParseCertificate(root.Certificate)
		if err != nil {
			panic(err)
		}
		p.AddCertWithConstraint(cert, root.Constraint)
	}
	return p
}
