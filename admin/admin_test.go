package admin

import (
	"fmt"
	"net"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestListenAddress(t *testing.T) {
	for in, want := range map[string]string{
		"9090":           "127.0.0.1:9090",
		":9090":          "127.0.0.1:9090",
		"0.0.0.0:9090":   "0.0.0.0:9090",
		"localhost:0":    "localhost:0",
		"[::1]:9090":     "[::1]:9090",
		"10.0.0.5:09090": "10.0.0.5:9090",
	} {
		if got, err := ParseAddress(in); err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "http", "localhost:http", "70000", "-1", "a b:1", "host:", " 9090"} {
		if got, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) = %q, want an error", in, got)
		}
	}
}

// FuzzListenAddress: --listen never panics, and what it accepts is a
// host:port that listens where it says, stable when read again.
func FuzzListenAddress(f *testing.F) {
	for _, s := range []string{"9090", ":9090", "0.0.0.0:9090", "[::1]:0", "localhost:http", "", "::1", "[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := ParseAddress(s)
		if err != nil {
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			t.Fatalf("%q -> %q: %v", s, addr, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			t.Fatalf("%q -> port %q", s, port)
		}
		if again, err := ParseAddress(addr); err != nil || again != addr {
			t.Fatalf("%q -> %q -> %q, %v", s, addr, again, err)
		}
	})
}

// TestRefreshLoopbackOnly: POST /refresh changes state, so it serves
// loopback clients only unless RemoteRefresh; the GET endpoints serve
// everyone.
func TestRefreshLoopbackOnly(t *testing.T) {
	for _, remote := range []bool{false, true} {
		a := &Server{metrics: NewMetrics("test"), remote: remote, refresh: make(chan struct{}, 1)}
		a.watching.Store(true)
		h := a.handler()
		for _, c := range []struct {
			method, path, from string
			want               int
		}{
			{"POST", "/refresh", "127.0.0.1:40000", 202},
			{"POST", "/refresh", "[::1]:40000", 202},
			{"POST", "/refresh", "[::ffff:127.0.0.1]:40000", 202},
			{"POST", "/refresh", "10.1.2.3:40000", map[bool]int{false: 403, true: 202}[remote]},
			{"POST", "/refresh", "[2001:db8::1]:40000", map[bool]int{false: 403, true: 202}[remote]},
			{"POST", "/refresh", "garbage", map[bool]int{false: 403, true: 202}[remote]},
			{"GET", "/healthz", "10.1.2.3:40000", 200},
			{"GET", "/metrics", "10.1.2.3:40000", 200},
		} {
			req := httptest.NewRequest(c.method, c.path, nil)
			req.RemoteAddr = c.from
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != c.want {
				t.Errorf("remote refresh %v: %s %s from %s: %d, want %d (%s)", remote, c.method, c.path, c.from, w.Code, c.want, w.Body)
			}
			if w.Code == 403 && !strings.Contains(w.Body.String(), "--remote-refresh") {
				t.Errorf("403 does not say how to allow it: %s", w.Body)
			}
		}
	}
}

// TestBuildInfo: shroud_build_info{goversion,version} 1, as Prometheus's
// own *_build_info metrics are (labels in client_golang's order), read
// with Prometheus's parser.
func TestBuildInfo(t *testing.T) {
	m := NewMetrics("v1.2.3")
	w := httptest.NewRecorder()
	m.reg.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	// What the client library writes for the same gauge, line for line.
	theirs := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "shroud_build_info",
		Help: "A metric with a constant '1' value labeled by the version of shroud and of Go that built it."}, []string{"version", "goversion"})
	g.WithLabelValues("v1.2.3", runtime.Version()).Set(1)
	theirs.MustRegister(g)
	var text strings.Builder
	mfs, _ := theirs.Gather()
	expfmt.NewEncoder(&text, expfmt.NewFormat(expfmt.TypeTextPlain)).Encode(mfs[0])
	for _, want := range strings.Split(strings.TrimSpace(text.String()), "\n") {
		if !slices.Contains(strings.Split(w.Body.String(), "\n"), want) {
			t.Errorf("no line %s (client_golang's) in:\n%s", want, w.Body)
		}
	}
	want := fmt.Sprintf(`shroud_build_info{goversion=%q,version="v1.2.3"} 1`, runtime.Version())
	if !slices.Contains(strings.Split(w.Body.String(), "\n"), want) {
		t.Fatalf("no line %s in:\n%s", want, w.Body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	parsed, err := p.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	bi := parsed["shroud_build_info"]
	if bi.GetType() != dto.MetricType_GAUGE || len(bi.Metric) != 1 || bi.Metric[0].GetGauge().GetValue() != 1 {
		t.Errorf("shroud_build_info = %v", bi)
	}
}
