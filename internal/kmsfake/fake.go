// Package kmsfake is an in-process Alibaba Cloud for tests: the KMS secrets
// API as Alibaba's Go SDK sends it (RPC style over the ACS3-HMAC-SHA256
// signature of darabonba-openapi), STS AssumeRole and AssumeRoleWithOIDC
// (RRSA), and the ECS instance metadata credential endpoints. Every signed
// request is verified; secrets are kept per region with versions and stage
// labels, and knobs add latency, throttling and server errors.
//
// A Server is reachable three ways, so that unmodified clients find it:
//   - directly: URL and RegionURL serve KMS over plain HTTP, TLSURL over
//     HTTPS with a certificate from the fake's own CA (CAFile);
//   - as an HTTP proxy (HTTP_PROXY=URL): absolute-form requests for the ECS
//     metadata address 100.100.100.200 are answered by the fake;
//   - as an HTTPS proxy (HTTPS_PROXY=URL): CONNECT requests, for example to
//     sts.aliyuncs.com:443, are answered with TLS for that host signed by the
//     fake's CA (trusted through SSL_CERT_FILE=CAFile).
//
// Test code only: the shroud binary never imports it.
package kmsfake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Stage labels of the KMS secret model.
const (
	StageCurrent  = "ACSCurrent"
	StagePrevious = "ACSPrevious"
	StagePending  = "ACSPending"
)

// Secret types of the KMS secret model.
const (
	TypeGeneric = "Generic"
	TypeRds     = "Rds"
	TypeRAM     = "RAMCredentials"
	TypeECS     = "ECS"
)

// MetadataHost is the ECS instance metadata address credentials-go calls.
const MetadataHost = "100.100.100.200"

// Server is a fake Alibaba Cloud. Its zero value is not usable: call New.
type Server struct {
	// Account is the numeric account that owns the secrets; ARNs naming
	// another account are refused with Forbidden.NoPermission.
	Account string

	ca *authority

	mu         sync.Mutex
	region     string                        // served by URL and TLSURL
	listeners  map[string]string             // "127.0.0.1:port" -> region, for proxied requests
	regionURLs map[string]string             // region -> its plain HTTP endpoint
	servers    []*http.Server                // closed by Close
	secrets    map[string]map[string]*secret // region -> name -> secret
	keys       map[string]*accessKey         // AccessKey ID -> key
	nonces     map[string]bool
	calls      map[string]int
	arrived    map[string][]time.Time
	log        []Call
	denied     map[string]bool    // region+"/"+name, or "action:"+Action
	throttle   int                // next KMS calls answered Rejected.Throttling
	quotas     map[string]*Quota  // action -> the quota it counts against
	buckets    map[string]*bucket // scope + " " + quota name -> bucket
	failures   []int              // next KMS calls answered with these 5xx codes
	malformed  int                // next GetSecretValue answers cut short
	latency    time.Duration

	oidcRoles  map[string]string // role ARN -> OIDC provider ARN
	oidcTokens map[string]bool   // tokens the OIDC provider accepts
	seenTokens []string          // OIDC tokens in the order STS received them
	roles      map[string]bool   // role ARNs AssumeRole may assume
	stsTTL     time.Duration
	instance   string // ECS instance RAM role name; "" = none attached
	imdsTokens map[string]bool

	url, tlsURL string
	ram         ramState // policies: ram.go
}

type accessKey struct {
	account string // "" is the fake's Account
	secret  string
	token   string    // STS security token; "" for a long-term AccessKey
	expiry  time.Time // zero for a long-term AccessKey
}

type secret struct {
	name, typ, subType, dataType string
	versions                     []*version // in creation order
}

type version struct {
	id      string
	data    []byte
	stages  []string
	created time.Time
}

// New starts a fake whose URL serves KMS for region.
func New(region string) (*Server, error) {
	ca, err := newAuthority()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Account:    "1234567890123456",
		ca:         ca,
		region:     region,
		listeners:  map[string]string{},
		regionURLs: map[string]string{},
		secrets:    map[string]map[string]*secret{},
		keys:       map[string]*accessKey{},
		nonces:     map[string]bool{},
		calls:      map[string]int{},
		arrived:    map[string][]time.Time{},
		denied:     map[string]bool{},
		quotas:     map[string]*Quota{},
		buckets:    map[string]*bucket{},
		oidcRoles:  map[string]string{},
		oidcTokens: map[string]bool{},
		roles:      map[string]bool{},
		stsTTL:     time.Hour,
		imdsTokens: map[string]bool{},
	}
	if s.url, err = s.listen(region, false); err != nil {
		s.Close()
		return nil, err
	}
	s.regionURLs[region] = s.url
	if s.tlsURL, err = s.listen(region, true); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// listen serves region on a new loopback port.
func (s *Server) listen(region string, useTLS bool) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	// Handshakes that clients refuse are expected in tests: not logged.
	srv := &http.Server{Handler: s.handler(region), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	scheme := "http"
	if useTLS {
		scheme = "https"
		srv.TLSConfig = s.ca.serverConfig()
	}
	s.mu.Lock()
	s.listeners[addr] = region
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	go func() {
		if useTLS {
			srv.ServeTLS(ln, "", "")
		} else {
			srv.Serve(ln)
		}
	}()
	return scheme + "://" + addr, nil
}

// Close stops every listener.
func (s *Server) Close() {
	s.mu.Lock()
	servers := s.servers
	s.servers = nil
	s.mu.Unlock()
	for _, srv := range servers {
		srv.Close()
	}
}

// URL serves KMS for the fake's region over HTTP; it is also the proxy
// address for HTTP_PROXY and HTTPS_PROXY.
func (s *Server) URL() string { return s.url }

// TLSURL serves KMS for the fake's region over HTTPS, with a certificate for
// 127.0.0.1 issued by the fake's CA. It also answers STS, so its host:port is
// an STS endpoint.
func (s *Server) TLSURL() string { return s.tlsURL }

// RegionURL returns an HTTP endpoint that serves KMS for region, starting it
// on first use. KMS requests carry no region, so each region has its own
// endpoint, as the real regional endpoints do.
func (s *Server) RegionURL(region string) string {
	s.mu.Lock()
	u, ok := s.regionURLs[region]
	s.mu.Unlock()
	if ok {
		return u
	}
	u, err := s.listen(region, false)
	if err != nil {
		panic(fmt.Sprintf("kmsfake: listening for %s: %v", region, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if first, ok := s.regionURLs[region]; ok {
		return first // another caller won the race; its URL stays the one
	}
	s.regionURLs[region] = u
	return u
}

// CAPEM returns the fake's CA certificate, which signs every certificate it
// serves.
func (s *Server) CAPEM() []byte { return s.ca.certPEM }

// CAFile writes the CA certificate into dir and returns its path.
func (s *Server) CAFile(dir string) (string, error) {
	p := filepath.Join(dir, "kmsfake-ca.pem")
	return p, os.WriteFile(p, s.ca.certPEM, 0o644)
}

// AddAccessKey registers a long-term AccessKey pair.
func (s *Server) AddAccessKey(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[id] = &accessKey{secret: secret}
}

// AddAccountAccessKey registers a long-term AccessKey pair of another
// account: its calls count against that account's quotas.
func (s *Server) AddAccountAccessKey(account, id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[id] = &accessKey{account: account, secret: secret}
}

// AddSTSToken registers a temporary STS credential, as if issued by STS.
func (s *Server) AddSTSToken(id, secret, token string, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[id] = &accessKey{secret: secret, token: token, expiry: time.Now().Add(ttl)}
}

// AddOIDCRole lets AssumeRoleWithOIDC assume roleARN with tokens of the OIDC
// provider providerARN (RRSA on ACK).
func (s *Server) AddOIDCRole(roleARN, providerARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oidcRoles[roleARN] = providerARN
}

// AcceptOIDCToken makes the OIDC provider accept token, as if it were a
// valid service account token.
func (s *Server) AcceptOIDCToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oidcTokens[token] = true
}

// OIDCTokens returns the OIDC tokens STS received, in order.
func (s *Server) OIDCTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seenTokens)
}

// AddRole lets AssumeRole assume roleARN.
func (s *Server) AddRole(roleARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleARN] = true
}

// SetSTSDuration sets how long STS and metadata credentials are valid.
// credentials-go refreshes credentials that expire within three minutes, so
// a duration under that makes every call fetch new ones.
func (s *Server) SetSTSDuration(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stsTTL = d
}

// SetInstanceRole attaches a RAM role to the fake ECS instance; its
// metadata service hands out credentials for it.
func (s *Server) SetInstanceRole(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instance = name
}

// SetLatency delays every KMS answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Quota is a QPS quota of KMS: calls of its Actions, together, at most
// Rate a second with bursts of Burst (a token bucket). On the shared
// gateway (the regional endpoint) a quota applies to each account in each
// region; PerInstance applies it to the KMS instance instead, whoever
// calls, as a dedicated gateway's computing performance does. The fake's
// endpoint of a region stands for the region's gateway or its instance.
// A call over it is answered HTTP 429 Rejected.Throttling and spends no
// token.
type Quota struct {
	Name        string
	Actions     []string
	Rate        float64
	Burst       int
	PerInstance bool
}

// SetQuota makes the quota's actions count against it, replacing any quota
// they had; a Rate of 0 removes their limits. Buckets start full.
func (s *Server) SetQuota(q Quota) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range q.Actions {
		delete(s.quotas, a)
		if q.Rate > 0 {
			s.quotas[a] = &q
		}
	}
	s.buckets = map[string]*bucket{}
}

// withinQuota takes a token for one call of action, or reports that the
// call is over its quota; the caller holds s.mu.
func (s *Server) withinQuota(action, region, account string) bool {
	q := s.quotas[action]
	if q == nil {
		return true
	}
	scope := "account " + account + " " + region
	if q.PerInstance {
		scope = "instance " + region
	}
	key := scope + " " + q.Name
	b := s.buckets[key]
	now := time.Now()
	if b == nil {
		b = &bucket{tokens: float64(q.Burst), last: now}
		s.buckets[key] = b
	}
	b.tokens = min(float64(q.Burst), b.tokens+now.Sub(b.last).Seconds()*q.Rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Call is one signed KMS call as the call log keeps it: its action, the
// region of the endpoint it reached, when it came, and the error code of
// an injected fault or a quota (Rejected.Throttling), if any.
type Call struct {
	Action, Region string
	At             time.Time
	Code           string
}

// CallLog returns every signed KMS call, in the order they came.
func (s *Server) CallLog() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Throttled counts the calls of a KMS action answered Rejected.Throttling
// because they were over a quota.
func (s *Server) Throttled(action string) int { return s.Calls("throttled:" + action) }

// ThrottleNext answers the next n KMS calls with Rejected.Throttling.
func (s *Server) ThrottleNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// FailNext answers the next KMS calls with these HTTP 5xx statuses, one each.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, statuses...)
}

// MalformNext cuts the next n GetSecretValue answers short, mid-value: a
// client must not quote what it could not parse.
func (s *Server) MalformNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.malformed = n
}

// Deny makes KMS answer Forbidden.NoPermission for the secret name in
// region.
func (s *Server) Deny(region, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[region+"/"+name] = true
}

// DenyAction makes KMS answer Forbidden.NoPermission for every call of the
// action, e.g. "ListSecretVersionIds" for a policy that grants only
// kms:GetSecretValue.
func (s *Server) DenyAction(action string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied["action:"+action] = true
}

// Calls counts the requests of one kind: a KMS or STS action
// ("GetSecretValue", "ListSecretVersionIds", "AssumeRole",
// "AssumeRoleWithOIDC"), "metadata:token", "metadata:role" or
// "metadata:credentials". Rejected requests count too.
func (s *Server) Calls(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[kind]
}

// CallTimes returns when each request of one kind (as Calls counts them)
// arrived, in order: tests measure the waits between retries with it.
func (s *Server) CallTimes(kind string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.arrived[kind])
}

// PutOption adjusts a new secret version.
type PutOption func(*putOptions)

type putOptions struct {
	typ, subType, versionID string
	binary                  bool
	stages                  []string
}

// WithType sets the secret's type (TypeRds, TypeRAM, TypeECS) and subtype
// (e.g. "DoubleUsers", "RamUserAccessKey", "SSHKey").
func WithType(typ, subType string) PutOption {
	return func(o *putOptions) { o.typ, o.subType = typ, subType }
}

// WithVersionID names the new version; by default versions are v1, v2, ...
func WithVersionID(id string) PutOption { return func(o *putOptions) { o.versionID = id } }

// Binary stores the value with SecretDataType binary.
func Binary() PutOption { return func(o *putOptions) { o.binary = true } }

// WithStages labels the new version with these stages instead of moving
// ACSCurrent to it (e.g. StagePending, or a custom stage).
func WithStages(stages ...string) PutOption {
	return func(o *putOptions) { o.stages = stages }
}

// Put stores a new version of the secret name in region and returns its
// version id. By default the new version becomes ACSCurrent, the version
// that was ACSCurrent becomes ACSPrevious, and the old ACSPrevious loses its
// label, as a rotation does.
func (s *Server) Put(region, name string, value []byte, opts ...PutOption) string {
	var o putOptions
	for _, f := range opts {
		f(&o)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets[region] == nil {
		s.secrets[region] = map[string]*secret{}
	}
	sec := s.secrets[region][name]
	if sec == nil {
		sec = &secret{name: name, typ: TypeGeneric, dataType: "text"}
		s.secrets[region][name] = sec
	}
	if o.typ != "" {
		sec.typ, sec.subType = o.typ, o.subType
	}
	if o.binary {
		sec.dataType = "binary"
	}
	id := o.versionID
	if id == "" {
		id = fmt.Sprintf("v%d", len(sec.versions)+1)
	}
	v := &version{id: id, data: slices.Clone(value), created: time.Now().UTC()}
	stages := o.stages
	if stages == nil {
		stages = []string{StageCurrent}
		for _, old := range sec.versions {
			old.stages = slices.DeleteFunc(old.stages, func(st string) bool { return st == StagePrevious })
			if slices.Contains(old.stages, StageCurrent) {
				old.stages = slices.DeleteFunc(old.stages, func(st string) bool { return st == StageCurrent })
				old.stages = append(old.stages, StagePrevious)
			}
		}
	}
	for _, st := range stages {
		for _, old := range sec.versions {
			old.stages = slices.DeleteFunc(old.stages, func(x string) bool { return x == st })
		}
	}
	v.stages = slices.Clone(stages)
	sec.versions = append(sec.versions, v)
	return id
}

func (s *Server) count(kind string) {
	s.mu.Lock()
	s.calls[kind]++
	s.arrived[kind] = append(s.arrived[kind], time.Now())
	s.mu.Unlock()
}

func newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
