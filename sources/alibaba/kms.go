// Package alibaba is the Alibaba Cloud KMS secrets backend: it resolves
// kms:NAME and acs:kms: references with Alibaba's Go SDK (kms-20160120,
// darabonba-openapi) and credentials from credentials-go.
//
// It is the only package of shroud that imports Alibaba's SDKs. Nothing is
// set up before the first KMS reference is resolved: no credential chain,
// no client, no file read.
package alibaba

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"

	// Hides DEBUG from the SDK's initializers: DEBUG=tea would print
	// request headers, the STS security token among them.
	"github.com/shroud-dev/shroud/internal/bounded"
	_ "github.com/shroud-dev/shroud/internal/sdkdebug"
	"github.com/shroud-dev/shroud/sources"
)

// Defaults for Options.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultCallTimeout = 10 * time.Second
	DefaultMaxAttempts = 5

	// maxECSSecretSize is KMS's limit on the value of an ECS secret.
	maxECSSecretSize = 30720
	// parallel bounds the GetSecretValue calls in flight per resolve.
	parallel = 8
	// stageCurrent is the stage a reference without stage or version reads.
	stageCurrent = "ACSCurrent"
)

// Options configures the KMS backend; the zero value reads names in
// ALIBABA_CLOUD_REGION_ID from the regional endpoints with the
// credentials-go default chain.
type Options struct {
	// Region is the default region of kms:NAME references; empty means
	// ALIBABA_CLOUD_REGION_ID. An ARN is always read in its own region.
	Region string
	// Endpoint replaces the KMS endpoint of the default region: a host, such
	// as a KMS instance endpoint (kst-xxx.cryptoservice.kms.aliyuncs.com),
	// or a URL (https://host:port, or http:// for a local fake).
	Endpoint string
	// Endpoints replaces the endpoints of other regions, by region ID.
	Endpoints map[string]string
	// CAFile is a PEM file with the CA certificates trusted for HTTPS to
	// Endpoint and Endpoints (a KMS instance's CA). The regional endpoints
	// are verified with the system's roots.
	CAFile string
	// VPC selects the VPC endpoints, kms-vpc.REGION.aliyuncs.com; it is also
	// set by ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED=true, as credentials-go does
	// for STS.
	VPC bool
	// Credentials selects where credentials come from.
	Credentials Credentials
	// Timeout bounds one Fetch or Versions: every call and retry of one
	// resolve. Zero means DefaultTimeout.
	Timeout time.Duration
	// CallTimeout bounds one API call. Zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// MaxAttempts bounds the calls for one reference when KMS fails with a
	// 5xx status or the network fails; throttled calls are retried until
	// Timeout. Zero means DefaultMaxAttempts.
	MaxAttempts int
}

// Source reads KMS secrets. It is safe for concurrent use. Clients are
// created on first use, per region, and reused.
type Source struct {
	opts    Options
	region  string
	backoff func(attempt int, throttled bool) time.Duration

	credOnce sync.Once
	cred     *credential
	credErr  error

	mu    sync.Mutex
	pools map[string]*pool // by region

	// listDenied is set once ListSecretVersionIds is refused: a policy that
	// grants only kms:GetSecretValue is polled with GetSecretValue.
	listDenied atomic.Bool
}

var _ sources.Versioner = (*Source)(nil)

// New returns a Source. It does no I/O: credentials and clients are set up
// when the first reference is fetched.
func New(opts Options) *Source {
	if opts.Region == "" {
		opts.Region = os.Getenv("ALIBABA_CLOUD_REGION_ID")
	}
	if strings.EqualFold(os.Getenv("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"), "true") {
		opts.VPC = true
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	return &Source{opts: opts, region: opts.Region, backoff: fullJitter, pools: map[string]*pool{}}
}

// Fetch reads each reference with GetSecretValue, several at a time. The
// version is the KMS version id; binary values are decoded to their bytes.
func (s *Source) Fetch(ctx context.Context, refs []sources.Ref) []sources.Result {
	return s.each(ctx, refs, s.fetch)
}

// Versions reports the version id each reference currently points at,
// without reading values: ListSecretVersionIds gives the stage labels of a
// secret's versions. A pinned version id needs no call. Where a policy
// grants only kms:GetSecretValue, it falls back to GetSecretValue.
func (s *Source) Versions(ctx context.Context, refs []sources.Ref) []sources.Result {
	return s.each(ctx, refs, s.version)
}

func (s *Source) each(ctx context.Context, refs []sources.Ref, one func(context.Context, sources.Ref) sources.Result) []sources.Result {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	out := make([]sources.Result, len(refs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = one(ctx, ref)
		})
	}
	wg.Wait()
	return out
}

func (s *Source) fetch(ctx context.Context, ref sources.Ref) sources.Result {
	region, clients, err := s.clientsFor(ref)
	if err != nil {
		return sources.Result{Value: sources.Value{Region: region}, Err: err}
	}
	fail := func(err error) sources.Result {
		return sources.Result{Value: sources.Value{Region: region}, Err: err}
	}
	req := &kms.GetSecretValueRequest{SecretName: tea.String(ref.ID), FetchExtendedConfig: tea.Bool(true)}
	if ref.VersionID != "" {
		req.VersionId = tea.String(ref.VersionID)
	} else {
		req.VersionStage = tea.String(stageOf(ref))
	}
	resp, err := call(ctx, s, clients, "GetSecretValue", func(c *client) (*kms.GetSecretValueResponse, error) {
		return c.GetSecretValue(req, s.runtime())
	})
	if err != nil {
		return fail(s.explain(err, ref, region))
	}
	if resp == nil || resp.Body == nil || resp.Body.SecretData == nil {
		return fail(errors.New("KMS GetSecretValue answered without SecretData"))
	}
	body := resp.Body
	data := []byte(*body.SecretData)
	if tea.StringValue(body.SecretDataType) == "binary" {
		if data, err = base64.StdEncoding.DecodeString(*body.SecretData); err != nil {
			return fail(errors.New("KMS returned a binary secret whose SecretData is not valid base64"))
		}
	}
	if typ := tea.StringValue(body.SecretType); typ == "ECS" && len(data) > maxECSSecretSize {
		kind := "ECS secret"
		if sub := subType(body.ExtendedConfig); sub != "" {
			kind += " (" + sub + ")"
		}
		return fail(fmt.Errorf("the %s value is %d bytes, over KMS's limit of %d bytes for ECS secrets; refusing it", kind, len(data), maxECSSecretSize))
	}
	return sources.Result{Value: sources.Value{Data: data, Version: tea.StringValue(body.VersionId), Region: region}}
}

func (s *Source) version(ctx context.Context, ref sources.Ref) sources.Result {
	if ref.VersionID != "" && (ref.Region != "" || s.region != "") {
		return sources.Result{Value: sources.Value{Version: ref.VersionID, Region: cmp.Or(ref.Region, s.region)}}
	}
	region, clients, err := s.clientsFor(ref)
	if err != nil {
		return sources.Result{Value: sources.Value{Region: region}, Err: err}
	}
	if !s.listDenied.Load() {
		v, err := s.listVersion(ctx, clients, ref)
		var apiErr *APIError
		switch {
		case err == nil:
			return sources.Result{Value: sources.Value{Version: v, Region: region}}
		case !errors.As(err, &apiErr) || retryable(err):
			return sources.Result{Value: sources.Value{Region: region}, Err: s.explain(err, ref, region)}
		case apiErr.Code == "Forbidden.NoPermission":
			s.listDenied.Store(true)
		}
		// Refused or not found: GetSecretValue decides, and its error is
		// the one a person can act on.
	}
	res := s.fetch(ctx, ref)
	res.Value.Data = nil // versions only: values are read by Fetch
	return res
}

// listVersion finds the version that carries ref's stage.
func (s *Source) listVersion(ctx context.Context, clients *pool, ref sources.Ref) (string, error) {
	stage := stageOf(ref)
	for page := int32(1); ; page++ {
		req := &kms.ListSecretVersionIdsRequest{SecretName: tea.String(ref.ID), PageNumber: tea.Int32(page), PageSize: tea.Int32(100)}
		resp, err := call(ctx, s, clients, "ListSecretVersionIds", func(c *client) (*kms.ListSecretVersionIdsResponse, error) {
			return c.ListSecretVersionIds(req, s.runtime())
		})
		if err != nil {
			return "", err
		}
		if resp == nil || resp.Body == nil {
			return "", errors.New("KMS ListSecretVersionIds answered without a body")
		}
		var listed int
		if ids := resp.Body.VersionIds; ids != nil {
			listed = len(ids.VersionId)
			for _, v := range ids.VersionId {
				if v == nil || v.VersionStages == nil {
					continue
				}
				for _, st := range v.VersionStages.VersionStage {
					if tea.StringValue(st) == stage {
						return tea.StringValue(v.VersionId), nil
					}
				}
			}
		}
		if listed == 0 || int(page)*100 >= int(tea.Int32Value(resp.Body.TotalCount)) {
			return "", &APIError{Action: "ListSecretVersionIds", Code: "Forbidden.ResourceNotFound", Message: "no version of the secret has stage " + stage}
		}
	}
}

func stageOf(ref sources.Ref) string {
	if ref.Stage != "" {
		return ref.Stage
	}
	return stageCurrent
}

// subType reads SecretSubType from a secret's ExtendedConfig, which holds
// metadata only, never the value.
func subType(extended *string) string {
	var cfg struct{ SecretSubType string }
	if extended == nil || json.Unmarshal([]byte(*extended), &cfg) != nil {
		return ""
	}
	return cfg.SecretSubType
}

// runtime is the per-call HTTP options. The SDK's own retries stay off:
// call retries, with jitter and throttling codes the SDK does not know.
func (s *Source) runtime() *util.RuntimeOptions {
	return &util.RuntimeOptions{Autoretry: tea.Bool(false)}
}

// clientsFor returns the region a reference is read in and that region's
// clients, setting them up on first use.
func (s *Source) clientsFor(ref sources.Ref) (string, *pool, error) {
	region := cmp.Or(ref.Region, s.region)
	if region == "" {
		return "", nil, errors.New("no default Alibaba Cloud region for kms: names: set [alibaba] region in the config or ALIBABA_CLOUD_REGION_ID, or use the full ARN acs:kms:REGION:ACCOUNT:secret/NAME")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pools[region]; p != nil {
		return region, p, nil
	}
	cfg, err := s.config(region)
	if err != nil {
		return region, nil, err
	}
	p, err := newPool(cfg, parallel)
	if err != nil {
		return region, nil, fmt.Errorf("creating the KMS client for %s: %v", region, err)
	}
	s.pools[region] = p
	return region, p, nil
}

// config is the SDK configuration of one region's clients.
func (s *Source) config(region string) (*openapi.Config, error) {
	cred, err := s.credential()
	if err != nil {
		return nil, err
	}
	cfg := &openapi.Config{
		RegionId:       tea.String(region),
		Credential:     cred,
		UserAgent:      tea.String("shroud"),
		ReadTimeout:    tea.Int(int(s.opts.CallTimeout / time.Millisecond)),
		ConnectTimeout: tea.Int(int(min(s.opts.CallTimeout, 5*time.Second) / time.Millisecond)),
	}
	if s.opts.VPC {
		cfg.Network = tea.String("vpc")
	}
	endpoint := s.opts.Endpoints[region]
	if endpoint == "" && region == s.region {
		endpoint = s.opts.Endpoint
	}
	if endpoint == "" {
		return cfg, nil // the SDK's regional endpoint
	}
	scheme, host, err := sources.ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	cfg.Endpoint, cfg.Protocol = tea.String(host), tea.String(scheme)
	if s.opts.CAFile != "" && scheme == "https" {
		pem, _, err := bounded.ReadFile(s.opts.CAFile, bounded.MaxPEM)
		if err != nil {
			return nil, fmt.Errorf("[alibaba] ca_file: %w", err)
		}
		if !strings.Contains(string(pem), "-----BEGIN CERTIFICATE-----") {
			return nil, fmt.Errorf("[alibaba] ca_file %s holds no PEM certificate", s.opts.CAFile)
		}
		cfg.Ca = tea.String(string(pem))
	}
	return cfg, nil
}

// pool lends a region's clients, one per call in flight. The SDK's clients
// are not safe for concurrent calls: darabonba-openapi writes the client on
// every call (GetRpcHeaders), and tea shares one http.Client per endpoint
// and timeout, whose Timeout it sets on every call. So each pooled client
// has its own read timeout, a millisecond apart, which gives it its own
// http.Client, and serves one call at a time.
type pool struct {
	slots chan *client // nil: not created yet
	cfg   openapi.Config
	made  atomic.Int32
}

func newPool(cfg *openapi.Config, size int) (*pool, error) {
	p := &pool{slots: make(chan *client, size), cfg: *cfg}
	first, err := p.create() // reports a bad configuration now
	if err != nil {
		return nil, err
	}
	p.slots <- first
	for range size - 1 {
		p.slots <- nil
	}
	return p, nil
}

func (p *pool) create() (*client, error) {
	cfg := p.cfg
	cfg.ReadTimeout = tea.Int(tea.IntValue(cfg.ReadTimeout) + int(p.made.Add(1)) - 1)
	c, err := kms.NewClient(&cfg)
	if err != nil {
		return nil, err
	}
	return &client{
		GetSecretValue:       c.GetSecretValueWithOptions,
		ListSecretVersionIds: c.ListSecretVersionIdsWithOptions,
		endpoint:             strings.ToLower(tea.StringValue(c.Protocol)) + "://" + tea.StringValue(c.Endpoint),
	}, nil
}

// client is what shroud calls of a KMS client, as method values: the pool
// does not hold *kms.Client, whose 190 exported methods the linker would
// keep (sources/aws/clients.go says why).
type client struct {
	GetSecretValue       func(*kms.GetSecretValueRequest, *util.RuntimeOptions) (*kms.GetSecretValueResponse, error)
	ListSecretVersionIds func(*kms.ListSecretVersionIdsRequest, *util.RuntimeOptions) (*kms.ListSecretVersionIdsResponse, error)
	// endpoint is the URL the SDK made of the configuration: "://HOST"
	// when it chooses the scheme.
	endpoint string
}

// get waits for a free client.
func (p *pool) get() (*client, error) {
	c := <-p.slots
	if c != nil {
		return c, nil
	}
	c, err := p.create()
	if err != nil {
		p.slots <- nil
		return nil, err
	}
	return c, nil
}

func (p *pool) put(c *client) { p.slots <- c }

var _ sources.Planner = (*Source)(nil)

// PlanCalls implements sources.Planner: one GetSecretValue a secret.
func (s *Source) PlanCalls(objects []sources.Ref) []sources.PlannedCall {
	var calls []sources.PlannedCall
	for _, ref := range objects {
		calls = sources.CountCalls(calls, cmp.Or(ref.Region, s.region, "default"), "GetSecretValue", 1)
	}
	return calls
}
