// Package admin is shroud's admin listener: liveness, readiness,
// Prometheus metrics (the watch loop's events) and POST /refresh.
package admin

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/promtext"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/watch"
)

// ParseAddress reads --listen: HOST:PORT, or a port alone (":9090" or
// "9090"), which listens on loopback only: exposing the admin listener to
// the network is a choice the user writes out (0.0.0.0:9090).
func ParseAddress(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = "", s
	}
	n, perr := strconv.Atoi(port)
	if perr != nil || n < 0 || n > 65535 || strings.TrimSpace(port) != port || port == "" {
		return "", fmt.Errorf("--listen %q: want HOST:PORT or a port such as 9090", s)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if strings.ContainsAny(host, " /") {
		return "", fmt.Errorf("--listen %q: %q is not a host", s, host)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// Options configure the admin listener.
type Options struct {
	// Listen is --listen, checked by ParseAddress; "" means no listener.
	Listen string
	// RemoteRefresh serves POST /refresh to every client; without it, to
	// loopback clients only. The GET endpoints serve every client.
	RemoteRefresh bool
	// Version is shroud's version, for shroud_build_info.
	Version string
}

// Server is the admin listener: liveness, readiness, Prometheus metrics and
// a way to ask for a refresh now.
type Server struct {
	metrics *Metrics
	remote  bool // POST /refresh from any client
	ready   atomic.Bool
	refresh chan struct{}
	// watching is set while a watch loop reads refresh.
	watching atomic.Bool
	srv      *http.Server
	addr     net.Addr
}

// Start listens on opts.Listen and serves in the background, reporting to
// m (new metrics when nil). Without a listen address it returns nil: a nil
// *Server accepts every call and does nothing.
func Start(opts Options, m *Metrics) (*Server, error) {
	if opts.Listen == "" {
		return nil, nil
	}
	addr, err := ParseAddress(opts.Listen)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	if m == nil {
		m = NewMetrics(opts.Version)
	}
	a := &Server{metrics: m, remote: opts.RemoteRefresh, refresh: make(chan struct{}, 1), addr: ln.Addr()}
	a.srv = &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("admin listener stopped", "error", err)
		}
	}()
	reach := "this host only (a port alone binds 127.0.0.1)"
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		reach = "the network; POST /refresh from loopback only"
		if opts.RemoteRefresh {
			reach = "the network, POST /refresh too (--remote-refresh)"
		}
	}
	slog.Info("admin listener: /healthz /readyz /metrics POST /refresh", "address", ln.Addr().String(), "reachable_from", reach)
	return a, nil
}

// handler serves the endpoints.
func (a *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready: the first render has not completed", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", a.metrics.reg)
	mux.HandleFunc("POST /refresh", a.postRefresh)
	return mux
}

// postRefresh asks the watch loop to check every backend now. It changes
// state, so only loopback clients may, unless RemoteRefresh; and requests
// coalesce: one is pending at most, and the watch loop spaces the checks
// they cause (watch.MinRefreshSpacing), so a flood of POSTs costs the
// backends a few calls.
func (a *Server) postRefresh(w http.ResponseWriter, r *http.Request) {
	if !a.remote && !loopback(r.RemoteAddr) {
		http.Error(w, "POST /refresh is served to loopback clients only; start shroud with --remote-refresh to allow others", http.StatusForbidden)
		return
	}
	if !a.watching.Load() {
		http.Error(w, "rotation is off: nothing is watched (add a [rotation] table to the config)", http.StatusConflict)
		return
	}
	select {
	case a.refresh <- struct{}{}:
	default: // one is pending already
	}
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "refresh requested\n")
}

// loopback reports whether a client's address (host:port) is on this
// host's loopback interface.
func loopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SetReady marks the first render done.
func (a *Server) SetReady() {
	if a != nil {
		a.metrics.lastSuccess.Set(now())
		a.ready.Store(true)
	}
}

// Refreshes is the channel of POST /refresh, nil without a listener; the
// watch loop that takes it reads it until shroud exits.
func (a *Server) Refreshes() <-chan struct{} {
	if a == nil {
		return nil
	}
	a.watching.Store(true)
	return a.refresh
}

// Close stops serving.
func (a *Server) Close() {
	if a != nil {
		a.srv.Close()
	}
}

// Events is what the watch loop reports to: the metrics, or nothing.
func (a *Server) Events() watch.Events {
	if a == nil {
		return watch.NoEvents{}
	}
	return a.metrics
}

// Metrics are shroud's Prometheus metrics. Labels are backends, calls,
// results and policies: never a value, and never a reference, whose name
// may say more than it should and whose number is unbounded.
type Metrics struct {
	reg            *promtext.Registry
	refreshes      promtext.Counter
	versionChanges promtext.Counter
	restarts       promtext.Counter
	actions        promtext.Counter
	notifications  promtext.Counter
	lastSuccess    promtext.Gauge
	calls          promtext.Counter
	latency        promtext.Histogram
}

var _ watch.Events = (*Metrics)(nil)

// NewMetrics registers shroud's metrics, shroud_build_info for version,
// and the standard process and Go ones.
func NewMetrics(version string) *Metrics {
	r := &promtext.Registry{}
	r.RegisterProcess()
	// The convention of Prometheus's own *_build_info: a gauge of 1 whose
	// labels say what runs, in the order client_golang writes them.
	r.Gauge("shroud_build_info", "A metric with a constant '1' value labeled by the version of shroud and of Go that built it.",
		"goversion", "version").Set(1, runtime.Version(), version)
	return &Metrics{
		reg: r,
		refreshes: r.Counter("shroud_refreshes_total",
			"Checks of a backend for new secret versions, by result: changed, unchanged or failed.", "result"),
		versionChanges: r.Counter("shroud_version_changes_total",
			"Secrets seen at a new version, by backend.", "backend"),
		restarts: r.Counter("shroud_child_restarts_total",
			"Restarts of the child for a rotation."),
		actions: r.Counter("shroud_policy_actions_total",
			"Change policies carried out (signal, restart, exit), by result.", "policy", "result"),
		notifications: r.Counter("shroud_notifications_total",
			"Notifications of the application by shroud sidecar, by method (signal, url, command) and result.", "method", "result"),
		lastSuccess: r.Gauge("shroud_last_success_timestamp_seconds",
			"When a check of the backends last succeeded (Unix time)."),
		calls: r.Counter("shroud_backend_calls_total",
			"Batched calls to a backend by the watch loop: versions (a cheap version poll) or fetch (values), by result.", "backend", "call", "result"),
		latency: r.Histogram("shroud_backend_call_duration_seconds",
			"Duration of batched calls to a backend by the watch loop.",
			[]float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "backend", "call"),
	}
}

func (m *Metrics) BackendCall(b sources.Backend, call string, took time.Duration, err error) {
	m.calls.Inc(b.String(), call, outcome(err))
	m.latency.Observe(took.Seconds(), b.String(), call)
}

func (m *Metrics) VersionChanged(b sources.Backend) {
	m.versionChanges.Inc(b.String())
}

func (m *Metrics) Refreshed(res string) {
	m.refreshes.Inc(res)
	if res != "failed" {
		m.lastSuccess.Set(now())
	}
}

func (m *Metrics) Acted(p config.Policy, err error) {
	m.actions.Inc(string(p), outcome(err))
	if p == config.PolicyRestart && err == nil {
		m.restarts.Inc()
	}
}

func (m *Metrics) Notified(method string, err error) {
	m.notifications.Inc(method, outcome(err))
}

// now is the current Unix time in seconds, for timestamp gauges.
func now() float64 { return float64(time.Now().UnixNano()) / 1e9 }

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
