// Package aws is shroud's AWS backend: SSM Parameter Store and Secrets
// Manager sources, through the official AWS SDK for Go v2. It is the only
// package of shroud that imports the SDK.
//
// A Session holds what the sources share: the SDK configuration (the
// default credential chain, an optional profile and an optional role
// assumed only to fetch secrets), the default region, and one client per
// service and region. Nothing is loaded until the first AWS reference is
// resolved.
//
// The call strategy and the call-volume arithmetic behind it (batch sizes,
// the published quotas, the fallback from BatchGetSecretValue to parallel
// GetSecretValue) are in docs/aws.md.
package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"

	"github.com/shroud-dev/shroud/internal/backoff"
	"github.com/shroud-dev/shroud/sources"
)

// Defaults of Options.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultCallTimeout = 5 * time.Second
	DefaultMaxAttempts = 5
	DefaultMaxBackoff  = 5 * time.Second
	// throttleMaxBackoff caps the wait after throttling higher (the SDK's
	// own default): a wrapper waiting its turn in a saturated quota asks a
	// quarter as often, and the quota serves the fleet as many calls.
	throttleMaxBackoff = 20 * time.Second
	DefaultParallel    = 10
)

// Options configure a Session. The zero value is usable: the SDK's default
// credential chain and region, and the defaults above.
type Options struct {
	// Region is the default region for references by name (--region or the
	// config's region). Empty: AWS_REGION, AWS_DEFAULT_REGION, the shared
	// config, then ECS task metadata or EC2 instance metadata.
	Region string
	// Profile selects a profile of the shared config and credentials files.
	Profile string
	// RoleARN is a role assumed only to fetch secrets (the ECS execution-role
	// pattern), with the credentials of the default chain or Profile.
	RoleARN     string
	ExternalID  string
	SessionName string
	// Timeout bounds one resolve (Fetch or Versions), retries included:
	// the deadline of the first render and of each refresh.
	Timeout time.Duration
	// CallTimeout bounds one HTTP attempt; a timed-out attempt is retried.
	CallTimeout time.Duration
	// MaxAttempts bounds the attempts of a call that fails with errors
	// other than throttling (throttled calls are retried until Timeout);
	// AWS_MAX_ATTEMPTS overrides it.
	MaxAttempts int
	// Parallel bounds the single GetSecretValue and DescribeSecret calls in
	// flight per region.
	Parallel int
}

// Session is the shared state of the AWS sources. It is safe for concurrent
// use.
type Session struct {
	opts Options

	mu     sync.Mutex
	cfg    *awssdk.Config
	region string // the default region, once known
	// The clients by region (clients.go says why not *ssm.Client).
	ssm map[string]*ssmAPI
	sm  map[string]*smAPI
	// noBatch marks regions where BatchGetSecretValue was denied: the
	// credentials may read secrets one by one only.
	noBatch map[string]bool
}

// New returns a Session; it loads nothing until a reference is resolved.
func New(opts Options) *Session {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	return &Session{
		opts:    opts,
		ssm:     map[string]*ssmAPI{},
		sm:      map[string]*smAPI{},
		noBatch: map[string]bool{},
	}
}

// Register makes the session's sources the resolver's SSM, SSM path and
// Secrets Manager backends.
func (s *Session) Register(r *sources.Resolver) {
	r.Register(sources.SSM, s.SSM())
	r.Register(sources.SSMPath, s.SSMPath())
	r.Register(sources.SecretsManager, s.SecretsManager())
}

// SSM returns the session's Parameter Store source.
func (s *Session) SSM() *SSM { return &SSM{s} }

// SSMPath returns the session's source of SSM path listings.
func (s *Session) SSMPath() *SSMPath { return &SSMPath{s} }

// SecretsManager returns the session's Secrets Manager source.
func (s *Session) SecretsManager() *SecretsManager { return &SecretsManager{s} }

// withDeadline starts the deadline of one resolve.
func (s *Session) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, s.opts.Timeout, errDeadline)
}

var errDeadline = errors.New("[aws] timeout reached")

// config loads the SDK configuration once it succeeds: the default chain
// (environment, shared config and profile, web identity, ECS and EKS Pod
// Identity container credentials, IMDSv2), then the role if one is set.
func (s *Session) config(ctx context.Context) (awssdk.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg != nil {
		return *s.cfg, nil
	}
	load := []func(*config.LoadOptions) error{
		config.WithAppID("shroud"),
		config.WithLogger(debugLogger),
		config.WithClientLogMode(awssdk.LogRetries), // never bodies
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(s.opts.CallTimeout)),
	}
	if s.opts.Region != "" {
		load = append(load, config.WithRegion(s.opts.Region))
	}
	if s.opts.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(s.opts.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	cfg.HTTPClient = bodyRepair{cfg.HTTPClient} // after AWS_CA_BUNDLE, which needs the SDK's own type
	// AWS_MAX_ATTEMPTS (or max_attempts in the profile) wins over
	// Options.MaxAttempts; the clients must not wrap the retryer again.
	maxAttempts := s.opts.MaxAttempts
	if cfg.RetryMaxAttempts > 0 {
		maxAttempts, cfg.RetryMaxAttempts = cfg.RetryMaxAttempts, 0
	}
	cfg.Retryer = func() awssdk.Retryer { return s.retryer(maxAttempts) }
	if s.opts.RoleARN != "" {
		// STS needs a region even when no default region is known (only
		// ARNs are resolved): us-east-1 is where the global endpoint lives.
		stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
			if o.Region == "" {
				o.Region = "us-east-1"
			}
		})
		provider := stscreds.NewAssumeRoleProvider(stsClient, s.opts.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = s.opts.SessionName
			if o.RoleSessionName == "" {
				o.RoleSessionName = "shroud"
			}
			if s.opts.ExternalID != "" {
				o.ExternalID = awssdk.String(s.opts.ExternalID)
			}
		})
		cfg.Credentials = awssdk.NewCredentialsCache(provider)
	}
	s.cfg = &cfg
	return cfg, nil
}

// debugLogger sends the SDK's own log lines (such as the IMDSv1 fallback
// warning) to the debug level of shroud's log instead of stderr. The SDK
// logs no bodies unless told to, and shroud never tells it.
var debugLogger = logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
	slog.Debug("aws sdk: "+fmt.Sprintf(format, v...), "level", string(c))
})

// retryer is the SDK's standard retryer with shroud's policy:
//
//   - throttling errors are retried until the resolve's deadline, however
//     many attempts that takes: a fleet starting at once must wait its turn
//     in the account's quota, not fail;
//   - other retryable errors (5xx, timed-out attempts, connection errors)
//     get MaxAttempts attempts;
//   - backoff is exponential with full jitter: from 1 s up to 20 s for
//     throttling, from 50 ms up to DefaultMaxBackoff for other errors;
//   - no client-side retry quota: the deadline bounds the retries of a
//     resolve, and the quota's shared bucket would fail a large start-up.
//
// It also remembers why each attempt of a call failed, so a deadline error
// can say what the last attempt met.
func (s *Session) retryer(maxAttempts int) awssdk.Retryer {
	throttles := retry.IsErrorThrottles(retry.DefaultThrottles)
	std := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxBackoff = throttleMaxBackoff
		o.RateLimiter = ratelimit.None
		o.Backoff = fullJitter{throttles: throttles}
	})
	return &policyRetryer{RetryerV2: std, throttles: throttles, maxAttempts: maxAttempts}
}

type policyRetryer struct {
	awssdk.RetryerV2
	throttles   retry.IsErrorThrottle
	maxAttempts int
}

// errGaveUp ends the retries of a call whose non-throttling failures used
// up MaxAttempts.
var errGaveUp = errors.New("shroud: no attempts left")

// MaxAttempts is unlimited for the SDK: GetRetryToken applies the limit to
// errors other than throttling.
func (r *policyRetryer) MaxAttempts() int { return 0 }

func (r *policyRetryer) GetRetryToken(ctx context.Context, opErr error) (func(error) error, error) {
	if l, ok := ctx.Value(attemptsKey{}).(*attempts); ok {
		failed := l.record(opErr)
		if r.throttles.IsErrorThrottle(opErr) != awssdk.TrueTernary && failed >= r.maxAttempts {
			return nil, errGaveUp
		}
	}
	return r.RetryerV2.GetRetryToken(ctx, opErr)
}

// fullJitter waits a random time in [0, min(ceiling, base*2^(n-1))]
// before the n-th retry: the "full jitter" of AWS's backoff guidance, so a
// fleet's retries spread out instead of arriving together.
type fullJitter struct {
	throttles retry.IsErrorThrottle
}

func (j fullJitter) BackoffDelay(attempt int, err error) (time.Duration, error) {
	base, ceiling := 50*time.Millisecond, DefaultMaxBackoff
	if j.throttles.IsErrorThrottle(err) == awssdk.TrueTernary {
		base, ceiling = time.Second, throttleMaxBackoff
	}
	// attempt is 1 for the first retry; 0 under AWS_NEW_RETRIES_2026.
	return backoff.FullJitter(max(attempt, 1), backoff.Scale(base), backoff.Scale(ceiling)), nil
}

type attemptsKey struct{}

// attempts is what the retryer saw of one call: its failed attempts and the
// last failure.
type attempts struct {
	mu     sync.Mutex
	failed int
	last   error
}

func (a *attempts) record(err error) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failed++
	a.last = err
	return a.failed
}

func (a *attempts) get() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failed, a.last
}

// defaultRegion returns the region references by name resolve in:
// Options.Region > AWS_REGION > AWS_DEFAULT_REGION > the shared config >
// ECS task metadata > EC2 instance metadata (IMDSv2).
func (s *Session) defaultRegion(ctx context.Context) (string, error) {
	cfg, err := s.config(ctx)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	region := s.region
	s.mu.Unlock()
	if region != "" {
		return region, nil
	}
	region = cfg.Region
	if region == "" {
		region, err = metadataRegion(ctx, cfg)
		if err != nil {
			return "", err
		}
	}
	if !sources.ValidAWSRegion(region) {
		return "", fmt.Errorf("the default AWS region %q is not a region code like us-east-1", region)
	}
	s.mu.Lock()
	s.region = region
	s.mu.Unlock()
	return region, nil
}

var errNoRegion = errors.New("no default AWS region: give --region, region in the config, or AWS_REGION (only a full ARN names its own region)")

// metadataRegion asks the ECS task metadata endpoint, then EC2 instance
// metadata, where shroud runs.
func metadataRegion(ctx context.Context, cfg awssdk.Config) (string, error) {
	if uri := os.Getenv("ECS_CONTAINER_METADATA_URI_V4"); uri != "" {
		region, err := ecsTaskRegion(ctx, uri)
		if err != nil {
			return "", fmt.Errorf("%w; ECS task metadata: %v", errNoRegion, err)
		}
		return region, nil
	}
	if strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		return "", errNoRegion
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := imds.NewFromConfig(cfg).GetRegion(ictx, &imds.GetRegionInput{})
	if err != nil || out.Region == "" {
		return "", errNoRegion
	}
	return out.Region, nil
}

// ecsTaskRegion reads the region from the task ARN of the ECS task metadata
// endpoint (v4).
func ecsTaskRegion(ctx context.Context, uri string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(uri, "/")+"/task", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return taskRegion(io.LimitReader(resp.Body, 1<<20))
}

// taskRegion reads the region of the TaskARN in a task metadata document.
func taskRegion(r io.Reader) (string, error) {
	var task struct {
		TaskARN string `json:"TaskARN"`
	}
	if err := json.NewDecoder(r).Decode(&task); err != nil {
		return "", errors.New("the task metadata is not a JSON object with a TaskARN")
	}
	parts := strings.Split(task.TaskARN, ":")
	if len(parts) < 6 || parts[0] != "arn" || !sources.ValidAWSRegion(parts[3]) {
		return "", errors.New("the task metadata has no TaskARN with a region")
	}
	return parts[3], nil
}

func (s *Session) ssmClient(ctx context.Context, region string) (*ssmAPI, error) {
	cfg, err := s.config(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.ssm[region]
	if !ok {
		c = newSSMAPI(ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.Region = region }))
		s.ssm[region] = c
	}
	return c, nil
}

func (s *Session) smClient(ctx context.Context, region string) (*smAPI, error) {
	cfg, err := s.config(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.sm[region]
	if !ok {
		c = newSMAPI(secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.Region = region }))
		s.sm[region] = c
	}
	return c, nil
}

// group is the references of one region, with their indexes in the
// caller's slice.
type group struct {
	region string
	refs   []sources.Ref
	idx    []int
}

// plan groups references by region: an ARN's own, or the default region
// for a name. References whose region cannot be known fail in out.
func (s *Session) plan(ctx context.Context, refs []sources.Ref, out []sources.Result) []*group {
	var (
		groups    []*group
		byName    = map[string]*group{}
		defRegion string
		defErr    error
		asked     bool
	)
	for i, ref := range refs {
		region := ref.Region
		if region == "" {
			if !asked { // once: a failed metadata lookup is not repeated per name
				defRegion, defErr = s.defaultRegion(ctx)
				asked = true
			}
			if defErr != nil {
				out[i] = sources.Result{Err: defErr}
				continue
			}
			region = defRegion
		}
		groups = addToGroup(groups, byName, region, ref, i)
	}
	return groups
}

// addToGroup adds ref, the i-th object, to the group of region, made and
// appended to groups the first time.
func addToGroup(groups []*group, byRegion map[string]*group, region string, ref sources.Ref, i int) []*group {
	g := byRegion[region]
	if g == nil {
		g = &group{region: region}
		byRegion[region] = g
		groups = append(groups, g)
	}
	g.refs = append(g.refs, ref)
	g.idx = append(g.idx, i)
	return groups
}

// parallel runs fn(0..n-1) with at most limit calls at once.
func parallel(limit, n int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	sem := make(chan struct{}, max(1, limit))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}
