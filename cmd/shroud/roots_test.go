//go:build linux

package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/x509roots/fallback/bundle"

	"github.com/shroud-dev/shroud/internal/awsfake"
)

// rootsProbeEnv makes this test binary a probe of the roots its TLS
// verifies against: the value is the address of a TLS server whose CA no
// root store holds. The probe runs in a process of its own because the
// system pool is chosen once per process, and in this package's binary
// because roots.go links the fallback roots into package main.
const rootsProbeEnv = "SHROUD_ROOTS_PROBE"

func init() {
	if addr := os.Getenv(rootsProbeEnv); addr != "" {
		os.Exit(rootsProbe(addr))
	}
}

// rootsProbe prints what verification uses: whether the system pool is the
// fallback bundle, whether a public root of the bundle (ISRG Root X1, Let's
// Encrypt's) verifies with the default options, and how a handshake with
// the server at addr ends.
func rootsProbe(addr string) int {
	system, err := x509.SystemCertPool()
	if err != nil {
		fmt.Println("system pool:", err)
		return 1
	}
	want, isrg := x509.NewCertPool(), (*x509.Certificate)(nil)
	for root := range bundle.Roots() {
		cert, err := x509.ParseCertificate(root.Certificate)
		if err != nil {
			fmt.Println("bundle:", err)
			return 1
		}
		want.AddCertWithConstraint(cert, root.Constraint)
		if cert.Subject.CommonName == "ISRG Root X1" {
			isrg = cert
		}
	}
	fmt.Printf("fallback=%v\n", system.Equal(want))
	if isrg == nil {
		fmt.Println("public=missing")
	} else if _, err := isrg.Verify(x509.VerifyOptions{}); err != nil {
		fmt.Println("public=" + verifyError(err))
	} else {
		fmt.Println("public=ok")
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{})
	if err != nil {
		fmt.Println("dial=" + verifyError(err))
		return 0
	}
	conn.Close()
	fmt.Println("dial=ok")
	return 0
}

func verifyError(err error) string {
	if errors.As(err, new(x509.UnknownAuthorityError)) {
		return "unknown-authority"
	}
	return err.Error()
}

// noRoots is an environment in which the system has no CA certificates, as
// in a scratch image: SSL_CERT_FILE and SSL_CERT_DIR point at empty places
// (on Linux they replace the system's files and directories).
func noRoots(t *testing.T) (empty []string, dir string) {
	dir = t.TempDir()
	file := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(dir, "certs")
	if err := os.Mkdir(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"SSL_CERT_FILE=" + file, "SSL_CERT_DIR=" + certs}, dir
}

// quietTLSServer is an httptest TLS server that does not log the
// handshakes the tests make fail on purpose.
func quietTLSServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv
}

// writeCA writes the certificate of a test TLS server (it is its own CA)
// as a PEM file.
func writeCA(t *testing.T, dir string, srv *httptest.Server) string {
	path := filepath.Join(dir, "test-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFallbackRootsWithoutSystemRoots(t *testing.T) {
	srv := quietTLSServer(nil)
	defer srv.Close()
	env, dir := noRoots(t)
	ca := writeCA(t, dir, srv)
	addr := strings.TrimPrefix(srv.URL, "https://")

	probe := func(env ...string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append([]string{rootsProbeEnv + "=" + addr, "PATH=" + os.Getenv("PATH")}, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("probe: %v\n%s", err, out)
		}
		return string(out)
	}

	// No system roots: the bundle is the pool, a public root verifies, and a
	// certificate from a CA outside it is still refused.
	got := probe(env...)
	if want := "fallback=true\npublic=ok\ndial=unknown-authority\n"; got != want {
		t.Errorf("with no system roots the probe printed\n%s\nwant\n%s", got, want)
	}

	// SSL_CERT_FILE wins over the fallback: its CA alone is trusted.
	got = probe(env[1], "SSL_CERT_FILE="+ca)
	if want := "fallback=false\npublic=unknown-authority\ndial=ok\n"; got != want {
		t.Errorf("with SSL_CERT_FILE set the probe printed\n%s\nwant\n%s", got, want)
	}
}

// TestTLSRootsOfTheBinary runs shroud itself against AWS over TLS with no
// system roots: a server whose CA is in no root store is refused, and the
// same server is trusted once SSL_CERT_FILE names its CA.
func TestTLSRootsOfTheBinary(t *testing.T) {
	fake := awsfake.New()
	defer fake.Close()
	fake.PutSecretString("us-east-1", "prod/tls-probe", awsCanaryPW)
	srv := quietTLSServer(fake)
	defer srv.Close()
	env, dir := noRoots(t)
	env = append(append(env, fake.Env()...), "AWS_ENDPOINT_URL="+srv.URL, "AWS_REGION=us-east-1")

	r := shroud(t, dir, env, "get", "sm:prod/tls-probe")
	if r.code != 1 || !strings.Contains(r.stderr, "certificate signed by unknown authority") {
		t.Errorf("with no roots: exit %d, stderr %q; want 1 and an unknown authority", r.code, r.stderr)
	}
	noCanary(t, "shroud get without roots", r.stdout, r.stderr)

	env = append(env, "SSL_CERT_FILE="+writeCA(t, dir, srv))
	r = shroud(t, dir, env, "get", "sm:prod/tls-probe")
	if r.code != 0 || r.stdout != awsCanaryPW {
		t.Errorf("with SSL_CERT_FILE: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestNoRootsParsedAtStart: where the system has CA certificates, a start
// parses none, its own or the fallback bundle's: package init allocates
// little. Setting the fallback roots made Go load the system's roots and
// parse the bundle before main, ~650 KB and ~2 ms at every start.
func TestNoRootsParsedAtStart(t *testing.T) {
	srv := quietTLSServer(nil)
	defer srv.Close()
	dir := t.TempDir()
	allocs := initAllocs(t, "SSL_CERT_FILE="+writeCA(t, dir, srv), "SSL_CERT_DIR="+dir+"/none")
	total, roots := 0, 0
	for pkg, bytes := range allocs {
		total += bytes
		if pkg == "main" || strings.Contains(pkg, "x509") {
			roots += bytes
		}
	}
	if total > 1<<20 || roots > 64<<10 {
		t.Errorf("package init allocated %d bytes, %d of them in main and x509 packages; want under 1 MiB and 64 KiB: %v", total, roots, allocs)
	}
}
