package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shroud-dev/shroud/internal/awsfake"
	"github.com/shroud-dev/shroud/internal/kmsfake"
)

// Params scale a real fleet down to the simulated one: Fleet/K wrappers,
// every quota divided by K, and time compressed C times (intervals,
// deadlines and retry schedules C times shorter, quotas C times higher).
// A simulated rate r is r·K/C in the real fleet, against the same quota.
type Params struct {
	Fleet    int     // wrappers of the real fleet
	K        float64 // the fleet and every quota divided by K
	C        float64 // time compressed C times
	Secrets  int     // references per wrapper
	Interval time.Duration
	Jitter   float64
}

// N is the number of simulated wrappers.
func (p Params) N() int { return max(1, int(math.Round(float64(p.Fleet)/p.K))) }

// Sim is a real duration in simulated time; Real the other way.
func (p Params) Sim(d time.Duration) time.Duration  { return time.Duration(float64(d) / p.C) }
func (p Params) Real(d time.Duration) time.Duration { return time.Duration(float64(d) * p.C) }

// rate is a real quota in simulated calls a second; burst its bucket: one
// simulated second of it (B·c/k), at least one token. A bucket of one real
// second (B/k) would hold a token or less, and each simulated wrapper
// stands for k real ones acting together: a fleet of independent wrappers
// would look throttled by its own granularity. One simulated second is c
// times more lenient to a burst than the real bucket; a sustained excess,
// a storm, drains it in a simulated second and is throttled as the quota
// says.
func (p Params) rate(q float64) float64 { return q * p.C / p.K }
func (p Params) burst(b int) int        { return max(1, int(math.Round(float64(b)*p.C/p.K))) }

// world is one scenario's cloud: a fake with quotas and the fleet's
// secrets, replicated in two regions, and what every value ever was, so
// that a child's view can be checked.
type world struct {
	p       Params
	backend string // "aws" or "kms"
	dir     string
	aws     *awsfake.Fake
	kms     *kmsfake.Server
	regions []string
	keys    []string          // the file's keys, in order
	refs    map[string]string // key -> reference
	quota   map[string]string // API -> the name of its quota, for the table
	limit   map[string]float64

	mu      sync.Mutex
	history map[string]map[string]bool // key -> every value it had
	current map[string]string
}

// Quota sets, as published (docs/aws.md and docs/alibaba.md cite each).
// Bursts are one second of the rate: AWS and Alibaba publish none. A
// simulated bucket also holds at least what one wrapper asks for at once
// (a real one is far larger: 20 calls against 450): wrapperBurst, and for
// KMS one call per secret.
var (
	wrapperBurst = map[string]int{"GetSecretValue+DescribeSecret": 10, "BatchGetSecretValue": 1, "SSM standard": 1, "SSM higher": 1}

	smCombined = []awsfake.Quota{
		{Name: "GetSecretValue+DescribeSecret", APIs: []string{"secretsmanager.GetSecretValue", "secretsmanager.DescribeSecret"}, Rate: 10000, Burst: 10000},
		{Name: "BatchGetSecretValue", APIs: []string{"secretsmanager.BatchGetSecretValue"}, Rate: 100, Burst: 100},
	}
	ssmStandard = []awsfake.Quota{
		{Name: "SSM standard", APIs: []string{"AmazonSSM.GetParameter", "AmazonSSM.GetParameters", "AmazonSSM.GetParametersByPath"}, Rate: 40, Burst: 40},
	}
	ssmHigher = []awsfake.Quota{
		{Name: "SSM higher", APIs: []string{"AmazonSSM.GetParameter", "AmazonSSM.GetParameters"}, Rate: 3000, Burst: 3000},
		{Name: "GetParametersByPath", APIs: []string{"AmazonSSM.GetParametersByPath"}, Rate: 100, Burst: 100},
	}
	kmsReads    = []string{"GetSecretValue", "ListSecretVersionIds"}
	kmsGateway  = []kmsfake.Quota{{Name: "KMS gateway", Actions: kmsReads, Rate: 450, Burst: 450}}
	kmsInstance = []kmsfake.Quota{{Name: "KMS instance", Actions: kmsReads, Rate: 1000, Burst: 1000, PerInstance: true}}
	awsAccount  = "210987654321"
	kmsAccount  = "5678901234567890"
)

func newWorld(p Params, backend string, aws []awsfake.Quota, kms []kmsfake.Quota) (*world, error) {
	dir, err := os.MkdirTemp("", "shroud-fleet-")
	if err != nil {
		return nil, err
	}
	w := &world{p: p, backend: backend, dir: dir, refs: map[string]string{}, quota: map[string]string{},
		limit: map[string]float64{}, history: map[string]map[string]bool{}, current: map[string]string{}}
	switch backend {
	case "aws":
		err = w.setupAWS(aws)
	case "kms":
		err = w.setupKMS(kms)
	}
	if err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *world) close() {
	if w.aws != nil {
		w.aws.Close()
	}
	if w.kms != nil {
		w.kms.Close()
	}
	os.RemoveAll(w.dir)
}

// setupAWS: half the references are SSM parameters, half Secrets Manager
// secrets, by name, in each wrapper's home region; every wrapper has an
// IAM user of its own in one account, in a profile of the shared
// credentials file.
func (w *world) setupAWS(quotas []awsfake.Quota) error {
	w.aws = awsfake.New()
	w.regions = []string{"us-east-1", "eu-west-1"}
	half := w.p.Secrets / 2
	for i := range w.p.Secrets {
		key, ref := fmt.Sprintf("S%02d", i), fmt.Sprintf("sm:fleet/s%02d", i)
		if i >= w.p.Secrets-half {
			key, ref = fmt.Sprintf("P%02d", i), fmt.Sprintf("/fleet/p%02d", i)
		}
		w.keys = append(w.keys, key)
		w.refs[key] = ref
		w.put(key, key+"-v1")
	}
	for _, q := range quotas {
		for _, api := range q.APIs {
			w.quota[api] = q.Name
		}
		w.limit[q.Name] = q.Rate
		q.Rate, q.Burst = w.p.rate(q.Rate), max(w.p.burst(q.Burst), wrapperBurst[q.Name])
		w.aws.SetQuota(q)
	}
	var creds strings.Builder
	for i := range w.p.N() {
		akid, secret := w.aws.AddAccountUser(awsAccount, wrapperName(i))
		fmt.Fprintf(&creds, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n", wrapperName(i), akid, secret)
	}
	file := filepath.Join(w.dir, "aws-credentials")
	if err := os.WriteFile(file, []byte(creds.String()), 0o600); err != nil {
		return err
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE", "AWS_MAX_ATTEMPTS"} {
		os.Unsetenv(k)
	}
	os.Setenv("AWS_ENDPOINT_URL", w.aws.URL())
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	os.Setenv("AWS_CONFIG_FILE", filepath.Join(w.dir, "no-aws-config"))
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return nil
}

// setupKMS: every reference is a KMS secret by name in the wrapper's home
// region, read through that region's endpoint (the shared gateway, or the
// region's KMS instance); every wrapper has an AccessKey of its own in one
// account, in a profile of the credentials file.
func (w *world) setupKMS(quotas []kmsfake.Quota) error {
	var err error
	if w.kms, err = kmsfake.New("cn-hangzhou"); err != nil {
		return err
	}
	w.regions = []string{"cn-hangzhou", "cn-shanghai"}
	for i := range w.p.Secrets {
		key := fmt.Sprintf("K%02d", i)
		w.keys = append(w.keys, key)
		w.refs[key] = fmt.Sprintf("kms:fleet/k%02d", i)
		w.put(key, key+"-v1")
	}
	for _, q := range quotas {
		for _, a := range q.Actions {
			w.quota[a] = q.Name
		}
		w.limit[q.Name] = q.Rate
		q.Rate, q.Burst = w.p.rate(q.Rate), max(w.p.burst(q.Burst), w.p.Secrets)
		w.kms.SetQuota(q)
	}
	var creds strings.Builder
	for i := range w.p.N() {
		id, secret := fmt.Sprintf("LTAIfleet%06d", i), fmt.Sprintf("fleet-secret-%06d", i)
		w.kms.AddAccountAccessKey(kmsAccount, id, secret)
		fmt.Fprintf(&creds, "[%s]\nenable = true\ntype = access_key\naccess_key_id = %s\naccess_key_secret = %s\n\n", wrapperName(i), id, secret)
	}
	file := filepath.Join(w.dir, "alibaba-credentials")
	if err := os.WriteFile(file, []byte(creds.String()), 0o600); err != nil {
		return err
	}
	for _, k := range []string{"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN", "ALIBABA_CLOUD_PROFILE", "ALIBABA_CLOUD_REGION_ID", "ALIBABA_CLOUD_ROLE_ARN"} {
		os.Unsetenv(k)
	}
	os.Setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", file)
	return nil
}

func wrapperName(i int) string { return fmt.Sprintf("w%04d", i) }

// put stores a new value of key in every region, as a replicated secret
// is rotated, and remembers it.
func (w *world) put(key, value string) {
	w.mu.Lock()
	if w.history[key] == nil {
		w.history[key] = map[string]bool{}
	}
	w.history[key][value] = true
	w.current[key] = value
	w.mu.Unlock()
	ref := w.refs[key]
	for _, r := range w.regions {
		switch {
		case w.kms != nil:
			w.kms.Put(r, strings.TrimPrefix(ref, "kms:"), []byte(value))
		case strings.HasPrefix(ref, "sm:"):
			w.aws.PutSecretString(r, strings.TrimPrefix(ref, "sm:"), value)
		default:
			w.aws.PutParameter(r, ref, awsfake.SecureString, value)
		}
	}
}

// rotate gives key a new value and returns it.
func (w *world) rotate(key string) string {
	w.mu.Lock()
	v := fmt.Sprintf("%s-v%d", key, len(w.history[key])+1)
	w.mu.Unlock()
	w.put(key, v)
	return v
}

// known reports whether value is one key ever had.
func (w *world) known(key, value string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.history[key][value]
}

// outage makes every call fail with a 5xx answer, or ends that.
func (w *world) outage(on bool) {
	ft := awsfake.Faults{}
	if on {
		ft.ServerErrFraction = 1
	}
	w.aws.SetFaults("", ft)
}

type (
	awsfakeQuota = awsfake.Quota
	kmsfakeQuota = kmsfake.Quota
)
