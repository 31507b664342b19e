package main

// The fallback roots make TLS work where the system has no CA certificates
// (a scratch image). They are used only when the system pool is empty:
// SSL_CERT_FILE, SSL_CERT_DIR, the system's files and the configured
// ca_file all win over them.
import _ "golang.org/x/crypto/x509roots/fallback"
