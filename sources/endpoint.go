package sources

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ParseEndpoint splits a service endpoint setting (such as [alibaba]
// endpoint) into the scheme and the host[:port] a client dials. A bare host
// means HTTPS. A URL may say https, or http for a loopback host only (a
// local fake or proxy): secrets never travel unencrypted over a network.
func ParseEndpoint(s string) (scheme, host string, err error) {
	if !strings.Contains(s, "://") {
		if s == "" || strings.ContainsAny(s, "/?#@ \t\n") {
			return "", "", fmt.Errorf("endpoint %q is not a host name such as kms.cn-hangzhou.aliyuncs.com or a URL such as https://host:port", s)
		}
		return "https", s, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("endpoint %q: want https:// (or http:// to a loopback address) with a host and an optional port, and no path", s)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "", "", fmt.Errorf("endpoint %q: http:// is allowed only for a loopback address (a local fake); use https:// so secrets are encrypted in transit", s)
	}
	return u.Scheme, u.Host, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
