// Package sdkdebug keeps the Alibaba Cloud SDK's debug output off.
//
// The SDK (tea, dara, credentials-go) turns on request tracing when the
// environment variable DEBUG names it (DEBUG=tea,credential), and then
// prints every request header to stdout, the STS security token among
// them. It reads DEBUG once, when its packages are initialized. This
// package hides DEBUG from those initializers and gives it back, for the
// child, once main runs (Restore).
//
// It must be initialized before the SDK's packages. Go initializes, among
// the packages whose imports are all initialized, the one with the
// lexically smallest import path first (Go spec, "Package
// initialization"). This package imports only os, so it is ready long
// before the SDK's packages, which need net/http: every package whose path
// sorts after this one waits for it, net/http included. TestKMSDebugEnvHidden
// (cmd/shroud) checks it through the built binary.
package sdkdebug

import "os"

var saved, wasSet = os.LookupEnv("DEBUG")

func init() {
	if wasSet {
		os.Unsetenv("DEBUG")
	}
}

// Restore gives DEBUG back its value, so the child sees the environment
// shroud was started with. The SDK has read it by then.
func Restore() {
	if wasSet {
		os.Setenv("DEBUG", saved)
	}
}
