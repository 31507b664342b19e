// Package awsfake is an in-process fake of the AWS APIs shroud calls:
// Secrets Manager and SSM Parameter Store (JSON 1.1, X-Amz-Target
// "secretsmanager.*" and "AmazonSSM.*") and STS AssumeRole (query protocol).
//
// It speaks the real wire protocol, so tests drive shroud through the real
// AWS SDK clients, pointed at it with the SDK's standard endpoint overrides
// (AWS_ENDPOINT_URL). Every request must carry a valid SigV4 signature made
// with the fake's credentials (or with credentials it issued through
// AssumeRole); the region of the signature's scope selects the region's
// store, so one fake serves every region.
//
// Knobs inject what a fleet meets in production: latency, throttling (a
// token bucket per quota, account and region, as AWS applies its request
// quotas; or a fixed fraction of calls), 5xx answers and calls that never
// answer. Counters and a call log let tests
// assert how many calls shroud made and which of them overlapped.
//
// The package is for tests and benchmarks only; the shroud binary never
// imports it.
package awsfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"
)

// Default identity of the fake's account and its long-term credentials.
const (
	Account         = "123456789012"
	AccessKeyID     = "AKIDSHROUDFAKE000001"
	SecretAccessKey = "fake-secret-access-key-for-tests-only"
)

// Fake is the fake AWS endpoint. Create it with New; its zero value is not
// usable.
type Fake struct {
	srv *httptest.Server

	mu      sync.Mutex
	regions map[string]*region
	creds   map[string]credential // access key id -> credential
	roles   map[string]string     // role ARN -> required external id ("" = none)
	faults  map[string]Faults     // API ("" = every API) -> faults
	limits  map[string]*Quota     // API -> the quota it counts against
	buckets map[string]*bucket    // account + " " + region + " " + quota name -> bucket
	seq     map[string]int        // API -> calls seen, for fractions
	calls   []Call
	flight  map[string]int // API -> calls in flight
	maxIn   map[string]int // API -> most calls in flight at once
	nextID  int
	iam     iamState // policies: iam.go
}

// Call is one request the fake received, as the call log keeps it.
type Call struct {
	// API is "Service.Operation", such as "secretsmanager.GetSecretValue",
	// "AmazonSSM.GetParameters" or "sts.AssumeRole".
	API    string
	Region string
	// Principal is "user" for the long-term credentials, or the ARN of the
	// role whose temporary credentials signed the request.
	Principal string
	// Code is the error code answered, empty on success.
	Code       string
	Start, End time.Time
	// Size is the number of names or ids in a batch call.
	Size int
	// Conn is the client's address: calls on one kept-alive connection
	// share it.
	Conn string
}

// Faults are the failures and delays injected into the calls of an API.
// Fractions are applied deterministically: with ThrottleFraction 0.5,
// every second call of the API is throttled.
type Faults struct {
	Latency           time.Duration
	ThrottleFraction  float64
	ServerErrFraction float64
	// ServerErrPage, when set, is the body of those 5xx answers, as HTML
	// with no AWS error code: what a proxy, a load balancer or moto's
	// server answers when it fails, instead of AWS's JSON error.
	ServerErrPage string
	// HangFraction of calls never answer: the fake holds them until the
	// client gives up.
	HangFraction float64
	// BatchOmit leaves the last n secrets out of every BatchGetSecretValue
	// answer, in neither SecretValues nor Errors.
	BatchOmit int
}

type credential struct {
	secret, token, principal string
}

// New returns a fake serving on a loopback port. Close it when done.
func New() *Fake {
	f := &Fake{
		regions: map[string]*region{},
		creds:   map[string]credential{AccessKeyID: {secret: SecretAccessKey, principal: "user"}},
		roles:   map[string]string{},
		faults:  map[string]Faults{},
		limits:  map[string]*Quota{},
		buckets: map[string]*bucket{},
		seq:     map[string]int{},
		flight:  map[string]int{},
		maxIn:   map[string]int{},
	}
	f.srv = httptest.NewServer(f)
	return f
}

// URL is the endpoint to give the SDK (AWS_ENDPOINT_URL).
func (f *Fake) URL() string { return f.srv.URL }

// Close stops the server.
func (f *Fake) Close() { f.srv.Close() }

// Env is the environment that points the AWS SDK at the fake, with the
// fake's credentials, no shared config files and no instance metadata.
func (f *Fake) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + f.URL(),
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/nonexistent/aws-config",
		"AWS_SHARED_CREDENTIALS_FILE=/nonexistent/aws-credentials",
	}
}

// SetFaults sets the faults of api ("secretsmanager.GetSecretValue"); the
// api "" applies to every API that has no faults of its own.
func (f *Fake) SetFaults(api string, ft Faults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[api] = ft
}

// SetRateLimit throttles api to rate calls a second with bursts of burst,
// per account and region, as AWS quotas apply. A rate of 0 removes the
// limit. It is SetQuota with a quota of api alone.
func (f *Fake) SetRateLimit(api string, rate float64, burst int) {
	f.SetQuota(Quota{Name: api, APIs: []string{api}, Rate: rate, Burst: burst})
}

// Quota is a request quota: calls of its APIs, together, at most Rate a
// second with bursts of Burst, in each account and region (a token
// bucket). A call over it is answered as AWS throttles: ThrottlingException
// "Rate exceeded" (sts: Throttling), and spends no token.
type Quota struct {
	// Name identifies the quota; APIs that share a quota ("Combined rate
	// of DescribeSecret and GetSecretValue") name it once.
	Name  string
	APIs  []string
	Rate  float64
	Burst int
}

// SetQuota makes the quota's APIs count against it, replacing any quota
// they had; a Rate of 0 removes their limits. Buckets start full.
func (f *Fake) SetQuota(q Quota) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, api := range q.APIs {
		if old := f.limits[api]; old != nil {
			f.dropBuckets(old.Name)
		}
		delete(f.limits, api)
		if q.Rate > 0 {
			f.limits[api] = &q
		}
	}
	f.dropBuckets(q.Name)
}

func (f *Fake) dropBuckets(quota string) {
	for k := range f.buckets {
		if strings.HasSuffix(k, " "+quota) {
			delete(f.buckets, k)
		}
	}
}

// Throttled returns how many calls of api were throttled by a quota or a
// throttle fraction (in region, when not "").
func (f *Fake) Throttled(api, region string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.API == api && (region == "" || c.Region == region) && (c.Code == "ThrottlingException" || c.Code == "Throttling") {
			n++
		}
	}
	return n
}

// AllowRole lets the fake's credentials assume roleARN; externalID, when
// not empty, must be given.
func (f *Fake) AllowRole(roleARN, externalID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roles[roleARN] = externalID
}

// Calls returns the call log, in the order calls ended.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Count returns how many calls of api were made (in region, when not "").
func (f *Fake) Count(api, region string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.API == api && (region == "" || c.Region == region) {
			n++
		}
	}
	return n
}

// Counts returns the number of calls of each API.
func (f *Fake) Counts() map[string]int {
	out := map[string]int{}
	for _, c := range f.Calls() {
		out[c.API]++
	}
	return out
}

// MaxInFlight returns the most calls of api that were in flight at once.
func (f *Fake) MaxInFlight(api string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxIn[api]
}

// Reset clears the call log and the counters; stores and knobs stay.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
	f.seq = map[string]int{}
	f.maxIn = map[string]int{}
	f.buckets = map[string]*bucket{}
}

// region is one region's stores.
type region struct {
	name    string
	params  map[string]*parameter
	secrets []*secret
	// authz authorizes the request being handled (iam.go); nil allows all.
	authz *authorizer
}

func (f *Fake) region(name string) *region {
	r, ok := f.regions[name]
	if !ok {
		r = &region{name: name, params: map[string]*parameter{}}
		f.regions[name] = r
	}
	return r
}

// apiError is an error answer of the AWS API.
type apiError struct {
	status int
	code   string
	msg    string
	page   string // an HTML body instead of the JSON error
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func clientErr(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// request is one verified request on its way to an operation.
type request struct {
	api       string
	region    string
	principal string
	body      []byte
	form      map[string][]string // query protocol parameters
}

func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading body", http.StatusBadRequest)
		return
	}
	req := &request{body: body}
	call := Call{Start: time.Now(), Conn: r.RemoteAddr}

	service, region, principal, verr := f.verify(r, body)
	req.region, req.principal = region, principal
	switch service {
	case "sts":
		form, _ := parseForm(body)
		req.form = form
		req.api = "sts." + first(form["Action"])
	default:
		target := r.Header.Get("X-Amz-Target")
		switch {
		case strings.HasPrefix(target, "secretsmanager."), strings.HasPrefix(target, "AmazonSSM."):
			req.api = target
		default:
			req.api = "unknown." + target
		}
	}
	call.API, call.Region, call.Principal = req.api, region, principal

	f.begin(req.api)
	var (
		out  any
		aerr *apiError
	)
	if verr != nil {
		aerr = verr
	} else {
		out, aerr = f.handle(r.Context(), req, &call)
	}
	f.end(req.api)

	if aerr != nil {
		call.Code = aerr.code
	}
	call.End = time.Now()
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()

	if aerr != nil && aerr.code == "" {
		return // hung up: the client gave up
	}
	if strings.HasPrefix(req.api, "sts.") || service == "sts" {
		writeQuery(w, req.api, out, aerr)
		return
	}
	writeJSON(w, out, aerr)
}

// handle applies the knobs, then runs the operation.
func (f *Fake) handle(ctx context.Context, req *request, call *Call) (any, *apiError) {
	ft, fault := f.draw(req.api, req.region, accountOf(req.principal))
	if ft.Latency > 0 {
		select {
		case <-time.After(ft.Latency):
		case <-ctx.Done():
			return nil, &apiError{}
		}
	}
	switch fault {
	case "hang":
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Minute):
		}
		return nil, &apiError{}
	case "throttle":
		if strings.HasPrefix(req.api, "sts.") {
			return nil, clientErr("Throttling", "Rate exceeded")
		}
		return nil, clientErr("ThrottlingException", "Rate exceeded")
	case "5xx":
		code := "InternalServiceError"
		if strings.HasPrefix(req.api, "AmazonSSM.") {
			code = "InternalServerError"
		}
		return nil, &apiError{status: http.StatusInternalServerError, code: code, msg: "An internal error occurred (injected by the fake)", page: ft.ServerErrPage}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	reg := f.region(req.region)
	reg.authz = f.authorizer(req.principal)
	switch req.api {
	case "secretsmanager.GetSecretValue":
		return decodeAnd(req.body, func(in getSecretValueInput) (any, *apiError) { return reg.getSecretValue(in, req.principal) })
	case "secretsmanager.BatchGetSecretValue":
		return decodeAnd(req.body, func(in batchGetSecretValueInput) (any, *apiError) {
			call.Size = len(in.SecretIDList)
			return reg.batchGetSecretValue(in, req.principal, ft.BatchOmit)
		})
	case "secretsmanager.DescribeSecret":
		return decodeAnd(req.body, func(in describeSecretInput) (any, *apiError) { return reg.describeSecret(in, req.principal) })
	case "AmazonSSM.GetParameters":
		return decodeAnd(req.body, func(in getParametersInput) (any, *apiError) {
			call.Size = len(in.Names)
			return reg.getParameters(in, req.principal)
		})
	case "AmazonSSM.GetParametersByPath":
		return decodeAnd(req.body, func(in getParametersByPathInput) (any, *apiError) { return reg.getParametersByPath(in, req.principal) })
	case "AmazonSSM.DescribeParameters":
		return decodeAnd(req.body, reg.describeParameters)
	case "sts.AssumeRole":
		return f.assumeRole(req)
	case "sts.GetCallerIdentity":
		return callerIdentity(req.principal), nil
	}
	if strings.HasPrefix(req.api, "sts.") {
		return nil, clientErr("InvalidAction", "Could not find operation %s", strings.TrimPrefix(req.api, "sts."))
	}
	return nil, clientErr("UnknownOperationException", "the fake does not implement %q", req.api)
}

func decodeAnd[In any](body []byte, op func(In) (any, *apiError)) (any, *apiError) {
	var in In
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, clientErr("SerializationException", "cannot decode the request: %v", err)
	}
	return op(in)
}

// draw decides the fault of one call: a quota first, then the fractions,
// in that order.
func (f *Fake) draw(api, region, account string) (Faults, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft, ok := f.faults[api]
	if !ok {
		ft = f.faults[""]
	}
	n := f.seq[api]
	f.seq[api]++
	if q := f.limits[api]; q != nil {
		key := account + " " + region + " " + q.Name
		b := f.buckets[key]
		if b == nil {
			b = &bucket{tokens: float64(q.Burst), last: time.Now()}
			f.buckets[key] = b
		}
		if !b.take(q.Rate, float64(q.Burst), time.Now()) {
			return ft, "throttle"
		}
	}
	hit := func(p float64) bool { return p > 0 && math.Floor(float64(n+1)*p) > math.Floor(float64(n)*p) }
	switch {
	case hit(ft.HangFraction):
		return ft, "hang"
	case hit(ft.ThrottleFraction):
		return ft, "throttle"
	case hit(ft.ServerErrFraction):
		return ft, "5xx"
	}
	return ft, ""
}

func (f *Fake) begin(api string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flight[api]++
	if f.flight[api] > f.maxIn[api] {
		f.maxIn[api] = f.flight[api]
	}
}

func (f *Fake) end(api string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flight[api]--
}

// bucket is a token bucket: burst tokens, refilled at rate a second.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(rate, burst float64, now time.Time) bool {
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// writeJSON answers in the JSON 1.1 protocol.
func writeJSON(w http.ResponseWriter, out any, aerr *apiError) {
	if aerr != nil && aerr.page != "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(aerr.status)
		io.WriteString(w, aerr.page)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", requestID())
	if aerr != nil {
		w.Header().Set("X-Amzn-Errortype", aerr.code)
		w.WriteHeader(aerr.status)
		json.NewEncoder(w).Encode(map[string]string{"__type": aerr.code, "message": aerr.msg})
		return
	}
	json.NewEncoder(w).Encode(out)
}

var (
	idMu sync.Mutex
	idN  int
)

func requestID() string {
	idMu.Lock()
	defer idMu.Unlock()
	idN++
	return fmt.Sprintf("00000000-fake-4000-8000-%012d", idN)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
