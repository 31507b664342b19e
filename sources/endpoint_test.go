package sources

import (
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct{ in, scheme, host string }{
		{"kst-hzz62ee817bvyyr5x.cryptoservice.kms.aliyuncs.com", "https", "kst-hzz62ee817bvyyr5x.cryptoservice.kms.aliyuncs.com"},
		{"http://127.0.0.1:8080", "http", "127.0.0.1:8080"},
		{"http://[::1]:8080", "http", "[::1]:8080"},
		{"http://localhost:8080/", "http", "localhost:8080"},
		{"https://kms.cn-hangzhou.aliyuncs.com/", "https", "kms.cn-hangzhou.aliyuncs.com"},
	} {
		scheme, host, err := ParseEndpoint(tc.in)
		if err != nil || scheme != tc.scheme || host != tc.host {
			t.Errorf("ParseEndpoint(%q) = %q %q %v", tc.in, scheme, host, err)
		}
	}
	for bad, why := range map[string]string{
		"":                             "not a host name",
		"ftp://x":                      "want https://",
		"http://":                      "want https://",
		"https://h/path":               "no path",
		"host/path":                    "not a host name",
		"http://u:p@h":                 "want https://",
		"https://h?q":                  "want https://",
		"http://kms.example.com":       "only for a loopback address",
		"http://10.0.0.5:8080":         "only for a loopback address",
		"http://localhost.example.com": "only for a loopback address",
	} {
		if _, _, err := ParseEndpoint(bad); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseEndpoint(%q) = %v, want an error saying %q", bad, err, why)
		}
	}
}

// FuzzParseEndpoint: an accepted endpoint is a scheme the clients speak and
// a bare host[:port]; plain http only ever reaches a loopback host.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"kms.cn-hangzhou.aliyuncs.com", "http://127.0.0.1:8080", "https://h/", "https://u@h", "h:1", "http://[::1]:80", "http://h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		scheme, host, err := ParseEndpoint(s)
		if err != nil {
			return
		}
		if (scheme != "http" && scheme != "https") || host == "" || strings.ContainsAny(host, "/?#@ ") {
			t.Fatalf("ParseEndpoint(%q) = %q, %q", s, scheme, host)
		}
		if scheme == "http" {
			h := host
			if i := strings.LastIndex(h, ":"); i >= 0 && !strings.HasSuffix(h, "]") {
				h = h[:i]
			}
			if !isLoopback(strings.Trim(h, "[]")) {
				t.Fatalf("ParseEndpoint(%q) allows http to %q", s, host)
			}
		}
	})
}
