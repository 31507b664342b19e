package alibaba

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/internal/kmsfake"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/sources"
)

// cloud is the fake Alibaba Cloud every test talks to. It is also the
// process's HTTP and HTTPS proxy, so the credential chain's fixed addresses
// (ECS metadata, sts.aliyuncs.com) reach it: Go reads the proxy variables
// once per process, so there is one fake for the package.
var cloud *kmsfake.Server

const (
	home    = "cn-hangzhou"
	away    = "cn-shanghai"
	akID    = "LTAIfakeKeyId0001"
	akSec   = "fake-access-key-secret-0001"
	canary  = "canary-kms-Jr7wQ3"
	account = "1234567890123456"
)

func TestMain(m *testing.M) {
	var err error
	cloud, err = kmsfake.New(home)
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "alibaba-test-")
	if err != nil {
		panic(err)
	}
	ca, err := cloud.CAFile(dir)
	if err != nil {
		panic(err)
	}
	// Hermetic: no developer profile, every fixed address goes to the fake.
	for _, kv := range [][2]string{
		{"HOME", dir}, {"SSL_CERT_FILE", ca},
		{"HTTP_PROXY", cloud.URL()}, {"HTTPS_PROXY", cloud.URL()}, {"NO_PROXY", ""},
	} {
		os.Setenv(kv[0], kv[1])
	}
	for _, k := range []string{"ALIBABA_CLOUD_REGION_ID", "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
		"ALIBABA_CLOUD_SECURITY_TOKEN", "ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
		"ALIBABA_CLOUD_PROFILE", "ALIBABA_CLOUD_CREDENTIALS_FILE", "ALIBABA_CLOUD_CONFIG_FILE", "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED",
		"ALIBABA_CLOUD_STS_REGION", "ALIBABA_CLOUD_ECS_METADATA", "ALIBABA_CLOUD_ECS_METADATA_DISABLED", "DEBUG"} {
		os.Unsetenv(k)
	}
	cloud.AddAccessKey(akID, akSec)
	code := m.Run()
	cloud.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// envKeys puts the test AccessKey in the environment.
func envKeys(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", akID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", akSec)
}

// newSource reads both test regions from the shared fake, without backoff
// waits.
func newSource(opts Options) *Source { return sourceOn(cloud, opts) }

// sourceOn reads both test regions from fake, without backoff waits.
func sourceOn(fake *kmsfake.Server, opts Options) *Source {
	if opts.Region == "" {
		opts.Region = home
	}
	if opts.Endpoint == "" {
		opts.Endpoint = fake.URL()
	}
	if opts.Endpoints == nil {
		opts.Endpoints = map[string]string{away: fake.RegionURL(away)}
	}
	s := New(opts)
	s.backoff = func(int, bool) time.Duration { return 0 }
	return s
}

// ownCloud is a fake for one test that counts calls, expects version ids or
// denies an action: no other test, nor an earlier run of the same test
// (-count), leaves anything in it. The SDK sends every KMS request through
// the proxy, which routes only to the shared cloud, so the new fake's
// endpoints are exempt from it (tea reads NO_PROXY on every request).
// Only the credential chain's fixed addresses need the shared cloud.
func ownCloud(t *testing.T) *kmsfake.Server {
	t.Helper()
	fake, err := kmsfake.New(home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	fake.AddAccessKey(akID, akSec)
	var direct []string
	for _, u := range []string{fake.URL(), fake.RegionURL(away)} {
		direct = append(direct, strings.TrimPrefix(u, "http://"))
	}
	t.Setenv("NO_PROXY", strings.Join(direct, ","))
	return fake
}

func parse(t *testing.T, refs ...string) []sources.Ref {
	t.Helper()
	out := make([]sources.Ref, len(refs))
	for i, r := range refs {
		ref, err := sources.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = ref
	}
	return out
}

func resolve(t *testing.T, src *Source, refs ...string) ([]sources.Result, error) {
	t.Helper()
	r := sources.NewResolver()
	r.Register(sources.KMS, src)
	return r.Resolve(context.Background(), parse(t, refs...))
}

func noLeak(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Fatalf("error leaks a secret value: %v", err)
	}
}

func TestFetchReferenceForms(t *testing.T) {
	envKeys(t)
	cloud := ownCloud(t)
	db := "fetch/db"
	v1 := cloud.Put(home, db, []byte(`{"AccountName":"app_a","AccountPassword":"`+canary+`-a"}`), kmsfake.WithType(kmsfake.TypeRds, "DoubleUsers"))
	v2 := cloud.Put(home, db, []byte(`{"AccountName":"app_b","AccountPassword":"`+canary+`-b","port":5432}`))
	cloud.Put(home, db, []byte(`{"AccountName":"app_c"}`), kmsfake.WithStages("ACSPending"))
	cloud.Put(home, db, []byte(`{"AccountName":"app_d"}`), kmsfake.WithStages("blue"))
	cloud.Put(away, "fetch/remote", []byte(canary+"-remote"))
	ram := "acs/ram/user/fetch-app"
	cloud.Put(home, ram, []byte(`{"AccessKeyId":"LTAIuser","AccessKeySecret":"`+canary+`-ram","GenerateTimestamp":"2026-01-02 03:04:05"}`), kmsfake.WithType(kmsfake.TypeRAM, "RamUserAccessKey"))
	blob := []byte{0, 1, 2, 0xff, 'x'}
	cloud.Put(home, "fetch/blob", blob, kmsfake.Binary())

	tests := []struct{ ref, want, version, region string }{
		{"kms:" + db, `{"AccountName":"app_b","AccountPassword":"` + canary + `-b","port":5432}`, v2, home},
		{"kms:" + db + ":AccountName", "app_b", v2, home},
		{"kms:" + db + ":port", "5432", v2, home},
		{"kms:" + db + ":AccountPassword:ACSPrevious:", canary + "-a", v1, home},
		{"kms:" + db + ":AccountName::" + v1, "app_a", v1, home},
		{"kms:" + db + ":AccountName:ACSPending", "app_c", "v3", home},
		{"kms:" + db + ":AccountName:blue", "app_d", "v4", home},
		{"acs:kms:" + home + ":" + account + ":secret/" + db + ":AccountName", "app_b", v2, home},
		{"acs:kms:" + away + ":" + account + ":secret/fetch/remote", canary + "-remote", "v1", away},
		{"acs:kms:" + home + ":" + account + ":secret/" + ram + ":AccessKeyId", "LTAIuser", "v1", home},
		{"kms:" + ram + ":AccessKeySecret", canary + "-ram", "v1", home},
		{"kms:fetch/blob", string(blob), "v1", home},
	}
	refs := make([]string, len(tests))
	for i, tt := range tests {
		refs[i] = tt.ref
	}
	before := cloud.Calls("GetSecretValue")
	res, err := resolve(t, sourceOn(cloud, Options{}), refs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		v := res[i].Value
		if string(v.Data) != tt.want || v.Version != tt.version || v.Region != tt.region {
			t.Errorf("%s = %q version %q region %q, want %q %q %q", tt.ref, v.Data, v.Version, v.Region, tt.want, tt.version, tt.region)
		}
	}
	// The resolver asks once per object: the key-only variants share a call.
	if n := cloud.Calls("GetSecretValue") - before; n != 10 {
		t.Errorf("%d GetSecretValue calls, want 10", n)
	}
}

func TestFetchErrors(t *testing.T) {
	envKeys(t)
	cloud := ownCloud(t)
	cloud.Put(home, "err/ok", []byte(`{"a":"`+canary+`"}`))
	cloud.Put(home, "err/denied", []byte(canary))
	cloud.Deny(home, "err/denied")
	cloud.Put(home, "acs/ecs/i-big/root", bytes.Repeat([]byte("k"), 30721), kmsfake.WithType(kmsfake.TypeECS, "SSHKey"))
	cloud.Put(home, "acs/ecs/i-fits/root", []byte(`{"UserName":"root","PrivateKey":"`+strings.Repeat("k", 30000)+`"}`), kmsfake.WithType(kmsfake.TypeECS, "SSHKey"))
	cloud.Put(away, "err/elsewhere", []byte(canary))

	res, err := resolve(t, sourceOn(cloud, Options{}),
		"kms:err/missing", "kms:err/elsewhere", "kms:err/ok:b", "kms:err/ok::ACSPrevious", "kms:err/ok:a::v9",
		"kms:err/denied", "kms:acs/ecs/i-big/root", "kms:acs/ecs/i-fits/root:UserName",
		"acs:kms:"+away+":999999999999:secret/err/elsewhere")
	noLeak(t, err)
	if res[7].Err != nil || string(res[7].Value.Data) != "root" {
		t.Errorf("an ECS secret within the limit: %+v", res[7])
	}
	want := []string{
		`reference "kms:err/missing" (kms, cn-hangzhou): KMS GetSecretValue: Forbidden.ResourceNotFound (HTTP 404): The resource not exists (request id req-`,
		`the secret err/missing does not exist in region cn-hangzhou; a kms: name is looked up in the default region only: for a secret in another region or account, use its full ARN acs:kms:REGION:ACCOUNT:secret/NAME`,
		`reference "kms:err/elsewhere" (kms, cn-hangzhou): KMS GetSecretValue: Forbidden.ResourceNotFound`,
		`reference "kms:err/ok:b" (kms, cn-hangzhou): key "b" not found; the json object has keys "a"`,
		`the secret err/ok with stage ACSPrevious does not exist in region cn-hangzhou`,
		`the secret err/ok with version id v9 does not exist in region cn-hangzhou`,
		`reference "kms:err/denied" (kms, cn-hangzhou): KMS GetSecretValue: Forbidden.NoPermission (HTTP 403)`,
		`the credentials (credentials-go default chain) may not read this secret; grant kms:GetSecretValue on its ARN in a RAM policy`,
		`reference "kms:acs/ecs/i-big/root" (kms, cn-hangzhou): the ECS secret (SSHKey) value is 30721 bytes, over KMS's limit of 30720 bytes for ECS secrets`,
		`reference "acs:kms:cn-shanghai:999999999999:secret/err/elsewhere" (kms, cn-shanghai): KMS GetSecretValue: Forbidden.NoPermission`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("errors lack %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "acs:kms:cn-shanghai:999999999999:secret/err/elsewhere\" (kms, cn-shanghai): KMS GetSecretValue: Forbidden.ResourceNotFound") {
		t.Error("an ARN error must not suggest the ARN")
	}
	var apiErr *APIError
	if !errors.As(res[0].Err, &apiErr) || apiErr.Code != "Forbidden.ResourceNotFound" || apiErr.Status != 404 {
		t.Errorf("errors.As APIError: %+v", apiErr)
	}
}

func TestNoDefaultRegion(t *testing.T) {
	envKeys(t)
	src := New(Options{Endpoint: cloud.URL()})
	res := src.Fetch(context.Background(), parse(t, "kms:x"))
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "no default Alibaba Cloud region for kms: names: set [alibaba] region in the config or ALIBABA_CLOUD_REGION_ID") {
		t.Fatalf("err = %v", res[0].Err)
	}
	// ALIBABA_CLOUD_REGION_ID is the fallback.
	t.Setenv("ALIBABA_CLOUD_REGION_ID", home)
	cloud.Put(home, "region/env", []byte("ok"))
	res = New(Options{Endpoint: cloud.URL()}).Fetch(context.Background(), parse(t, "kms:region/env"))
	if res[0].Err != nil || res[0].Value.Region != home {
		t.Fatalf("result = %+v", res[0])
	}
}

func TestRetriesThrottlingAnd5xx(t *testing.T) {
	envKeys(t)
	cloud.Put(home, "retry/x", []byte("v"))
	src := newSource(Options{})
	var waits []int
	src.backoff = func(attempt int, _ bool) time.Duration { waits = append(waits, attempt); return 0 }

	before := cloud.Calls("GetSecretValue")
	cloud.ThrottleNext(2)
	cloud.FailNext(http.StatusServiceUnavailable)
	res := src.Fetch(context.Background(), parse(t, "kms:retry/x"))
	if res[0].Err != nil || string(res[0].Value.Data) != "v" {
		t.Fatalf("result = %+v", res[0])
	}
	if n := cloud.Calls("GetSecretValue") - before; n != 4 || !slices.Equal(waits, []int{1, 2, 3}) {
		t.Fatalf("%d calls, backoffs %v; want 4 calls after backoffs 1, 2, 3", n, waits)
	}

	// Throttling is retried past MaxAttempts: the quota is waited for.
	before = cloud.Calls("GetSecretValue")
	cloud.ThrottleNext(DefaultMaxAttempts + 2)
	res = src.Fetch(context.Background(), parse(t, "kms:retry/x"))
	if res[0].Err != nil || cloud.Calls("GetSecretValue")-before != DefaultMaxAttempts+3 {
		t.Fatalf("throttled %d times: %v after %d calls, want the value after %d", DefaultMaxAttempts+2, res[0].Err, cloud.Calls("GetSecretValue")-before, DefaultMaxAttempts+3)
	}
	// 5xx answers are not: the last error, with the attempt count.
	cloud.FailNext(500, 500, 500, 500, 500)
	res = src.Fetch(context.Background(), parse(t, "kms:retry/x"))
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "InternalFailure (HTTP 500)") || !strings.Contains(res[0].Err.Error(), "(after 5 attempts)") {
		t.Fatalf("err = %v", res[0].Err)
	}
	// Throttled until the deadline: the deadline's error. A fake of its
	// own: the call the deadline abandons may still arrive after it.
	own := ownCloud(t)
	own.Put(home, "retry/x", []byte("v"))
	own.ThrottleNext(1 << 20)
	short := sourceOn(own, Options{Timeout: 300 * time.Millisecond})
	short.backoff = func(int, bool) time.Duration { return 10 * time.Millisecond }
	res = short.Fetch(context.Background(), parse(t, "kms:retry/x"))
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "Rejected.Throttling") || !strings.Contains(res[0].Err.Error(), "deadline") {
		t.Fatalf("throttled until the deadline: err = %v", res[0].Err)
	}
	// Not retried: a client error.
	before = cloud.Calls("GetSecretValue")
	src.Fetch(context.Background(), parse(t, "kms:retry/missing"))
	if n := cloud.Calls("GetSecretValue") - before; n != 1 {
		t.Fatalf("a 404 was tried %d times", n)
	}
}

// TestRetriesWaitWithJitter measures the waits between the attempts of a
// call that meets 503s at the fake: each is a random time up to
// 100ms·2^attempt (full jitter), so they add up to far more than the round
// trips alone, and two calls do not wait alike. (Throttling waits longer,
// from 1 s: TestFullJitter.)
func TestRetriesWaitWithJitter(t *testing.T) {
	envKeys(t)
	cloud := ownCloud(t)
	cloud.Put(home, "jitter/x", []byte("v"))
	src := New(Options{Region: home, Endpoint: cloud.URL()}) // the real backoff
	const retries = 3
	var gaps [2][retries]time.Duration
	for run := range gaps {
		before := len(cloud.CallTimes("GetSecretValue"))
		cloud.FailNext(503, 503, 503)
		if v, err := fetchOne(t, src, "kms:jitter/x"); err != nil || v != "v" {
			t.Fatalf("%q %v", v, err)
		}
		at := cloud.CallTimes("GetSecretValue")[before:]
		if len(at) != retries+1 {
			t.Fatalf("%d attempts, want %d", len(at), retries+1)
		}
		for i := range retries {
			gaps[run][i] = at[i+1].Sub(at[i])
		}
	}
	t.Logf("waits between attempts: %v", gaps)
	var total time.Duration
	same := true
	for i := range retries {
		ceiling := 100 * time.Millisecond << (i + 1)
		for run := range gaps {
			total += gaps[run][i]
			// Generous: a loaded machine adds to every wait.
			if gaps[run][i] > ceiling+2*time.Second {
				t.Errorf("wait before retry %d: %v, over its ceiling %v", i+1, gaps[run][i], ceiling)
			}
		}
		same = same && (gaps[0][i]-gaps[1][i]).Abs() < 5*time.Millisecond
	}
	// The waits are uniform on [0, 200ms], [0, 400ms], [0, 800ms], twice:
	// 1.4 s on average, under 150 ms with a probability of about 4e-6.
	if total < 150*time.Millisecond {
		t.Errorf("the six waits add up to %v: retries are not backing off", total)
	}
	// Without jitter the same attempt would wait the same time in both
	// calls (a probability of about 2e-5 with it).
	if same {
		t.Errorf("both calls waited alike %v: no jitter", gaps)
	}
}

func TestFullJitter(t *testing.T) {
	for attempt := 1; attempt <= 12; attempt++ {
		for _, throttled := range []bool{false, true} {
			base, most := 100*time.Millisecond, 5*time.Second
			if throttled {
				base, most = time.Second, 20*time.Second
			}
			ceiling := min(base<<attempt, most)
			for range 50 {
				if d := fullJitter(attempt, throttled); d < 0 || d > ceiling {
					t.Fatalf("fullJitter(%d, %v) = %v, want within [0, %v]", attempt, throttled, d, ceiling)
				}
			}
		}
	}
}

func TestDeadline(t *testing.T) {
	envKeys(t)
	cloud.Put(home, "slow/x", []byte("v"))
	cloud.SetLatency(3 * time.Second)
	defer cloud.SetLatency(0)
	src := newSource(Options{Timeout: 200 * time.Millisecond})
	start := time.Now()
	res := src.Fetch(context.Background(), parse(t, "kms:slow/x"))
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "no answer from KMS within the 200ms deadline ([alibaba] timeout)") {
		t.Fatalf("err = %v", res[0].Err)
	}
	// Generous bound: the deadline, not the fake's latency, ended the call.
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Fatalf("took %v", d)
	}
	// A per-call timeout shorter than the latency fails the call itself.
	src = newSource(Options{CallTimeout: 300 * time.Millisecond, MaxAttempts: 1})
	res = src.Fetch(context.Background(), parse(t, "kms:slow/x"))
	if res[0].Err == nil {
		t.Fatal("no error")
	}
}

func TestVersions(t *testing.T) {
	envKeys(t)
	cloud := ownCloud(t)
	name := "versions/db"
	v1 := cloud.Put(home, name, []byte(canary))
	src := sourceOn(cloud, Options{})
	refs := parse(t, "kms:"+name, "kms:"+name+"::ACSPrevious", "kms:"+name+":::"+v1, "kms:versions/none")
	check := func(wantCurrent, wantPrevious string) {
		t.Helper()
		res := src.Versions(context.Background(), refs)
		if res[0].Value.Version != wantCurrent || len(res[0].Value.Data) != 0 || res[0].Value.Region != home {
			t.Errorf("current = %+v, want version %q and no data", res[0], wantCurrent)
		}
		if wantPrevious == "" {
			if res[1].Err == nil || !strings.Contains(res[1].Err.Error(), "Forbidden.ResourceNotFound") {
				t.Errorf("previous = %+v, want not found", res[1])
			}
		} else if res[1].Value.Version != wantPrevious {
			t.Errorf("previous = %+v, want %q", res[1], wantPrevious)
		}
		if res[2].Value.Version != v1 || res[2].Err != nil {
			t.Errorf("pinned = %+v", res[2])
		}
		if res[3].Err == nil || !strings.Contains(res[3].Err.Error(), "does not exist in region cn-hangzhou") {
			t.Errorf("missing = %+v", res[3])
		}
		noLeak(t, res[1].Err)
	}
	listBefore, getBefore := cloud.Calls("ListSecretVersionIds"), cloud.Calls("GetSecretValue")
	check(v1, "")
	v2 := cloud.Put(home, name, []byte(canary+"2")) // rotation: v2 current, v1 previous
	check(v2, v1)
	if n := cloud.Calls("ListSecretVersionIds") - listBefore; n != 6 {
		t.Errorf("%d ListSecretVersionIds calls, want 6 (the pinned reference needs none)", n)
	}
	// GetSecretValue only for what the listing did not find, so the error
	// is the one Fetch would give: the missing ACSPrevious once, the missing
	// secret twice.
	if n := cloud.Calls("GetSecretValue") - getBefore; n != 3 {
		t.Errorf("Versions called GetSecretValue %d times, want 3", n)
	}

	// A policy with only kms:GetSecretValue: polled with GetSecretValue.
	cloud.DenyAction("ListSecretVersionIds")
	getBefore = cloud.Calls("GetSecretValue")
	check(v2, v1)
	if n := cloud.Calls("GetSecretValue") - getBefore; n != 3 {
		t.Errorf("%d GetSecretValue calls in the fallback, want 3", n)
	}
}

// TestSignatureChecked makes sure the fake rejects what it should: a wrong
// secret, a security token that belongs to no key.
func TestSignatureChecked(t *testing.T) {
	cloud.Put(home, "sig/x", []byte(canary))
	for _, tc := range []struct {
		env  map[string]string
		code string
	}{
		{map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": akID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "wrong"}, "SignatureDoesNotMatch"},
		{map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIunknown", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": akSec}, "InvalidAccessKeyId.NotFound"},
		{map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": akID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": akSec, "ALIBABA_CLOUD_SECURITY_TOKEN": "forged"}, "InvalidSecurityToken.MismatchWithAccessKey"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		res := newSource(Options{Credentials: Credentials{Type: "env"}}).Fetch(context.Background(), parse(t, "kms:sig/x"))
		var apiErr *APIError
		if !errors.As(res[0].Err, &apiErr) || apiErr.Code != tc.code {
			t.Errorf("%v: err = %v, want %s", tc.env, res[0].Err, tc.code)
		}
		noLeak(t, res[0].Err)
		os.Unsetenv("ALIBABA_CLOUD_SECURITY_TOKEN")
	}
}

// TestInstanceCA reads over HTTPS from an endpoint whose certificate only
// the configured CA file vouches for, as a KMS instance endpoint's.
func TestInstanceCA(t *testing.T) {
	envKeys(t)
	cloud.Put(home, "tls/x", []byte("over-tls"))
	dir := t.TempDir()
	ca, err := cloud.CAFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := newSource(Options{Endpoint: cloud.TLSURL(), CAFile: ca}).Fetch(context.Background(), parse(t, "kms:tls/x"))
	if res[0].Err != nil || string(res[0].Value.Data) != "over-tls" {
		t.Fatalf("result = %+v", res[0])
	}
	other := filepath.Join(dir, "other.pem")
	must.Succeed(t, os.WriteFile(other, []byte("not a certificate"), 0o600))
	res = newSource(Options{Endpoint: cloud.TLSURL(), CAFile: other}).Fetch(context.Background(), parse(t, "kms:tls/x"))
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "holds no PEM certificate") {
		t.Fatalf("err = %v", res[0].Err)
	}
}

func TestLazy(t *testing.T) {
	// New does nothing observable: no credentials, no client, no call.
	before := fmt.Sprint(cloud.Calls("GetSecretValue"), cloud.Calls("AssumeRoleWithOIDC"), cloud.Calls("metadata:token"))
	src := New(Options{Region: home, CAFile: "/nonexistent", Credentials: Credentials{Type: "rrsa"}})
	if src.cred != nil || len(src.pools) != 0 {
		t.Fatal("New set something up")
	}
	if after := fmt.Sprint(cloud.Calls("GetSecretValue"), cloud.Calls("AssumeRoleWithOIDC"), cloud.Calls("metadata:token")); after != before {
		t.Fatal("New called the cloud")
	}
}

// TestRegionalEndpoints: without an override, the SDK's regional endpoint,
// or its VPC variant; overrides per region. No call is made.
func TestRegionalEndpoints(t *testing.T) {
	envKeys(t)
	endpoint := func(opts Options, ref string) string {
		t.Helper()
		_, p, err := New(opts).clientsFor(parse(t, ref)[0])
		if err != nil {
			t.Fatal(err)
		}
		c, _ := p.get()
		defer p.put(c)
		return c.endpoint
	}
	for _, tc := range []struct {
		opts      Options
		ref, want string
	}{
		{Options{Region: home}, "kms:x", "://kms.cn-hangzhou.aliyuncs.com"},
		{Options{Region: home, VPC: true}, "kms:x", "://kms-vpc.cn-hangzhou.aliyuncs.com"},
		{Options{Region: home, VPC: true}, "acs:kms:cn-beijing:1:secret/x", "://kms-vpc.cn-beijing.aliyuncs.com"},
		{Options{Region: home, Endpoint: "kst-a.cryptoservice.kms.aliyuncs.com"}, "kms:x", "https://kst-a.cryptoservice.kms.aliyuncs.com"},
		{Options{Region: home, Endpoint: "kst-a.cryptoservice.kms.aliyuncs.com"}, "acs:kms:cn-beijing:1:secret/x", "://kms.cn-beijing.aliyuncs.com"},
		{Options{Region: home, Endpoints: map[string]string{"cn-beijing": "http://127.0.0.1:9"}}, "acs:kms:cn-beijing:1:secret/x", "http://127.0.0.1:9"},
	} {
		if got := endpoint(tc.opts, tc.ref); !strings.HasSuffix(got, tc.want) {
			t.Errorf("%+v %s: endpoint %s, want %s", tc.opts, tc.ref, got, tc.want)
		}
	}
	t.Setenv("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "true")
	if got := endpoint(Options{Region: home}, "kms:x"); got != "://kms-vpc.cn-hangzhou.aliyuncs.com" {
		t.Errorf("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED: endpoint %s", got)
	}
}

// TestMalformedAnswer: an answer that is not valid JSON is an error that
// quotes nothing of it.
func TestMalformedAnswer(t *testing.T) {
	envKeys(t)
	cloud.Put(home, "malformed/x", []byte(`{"password":"`+canary+canary+`"}`))
	cloud.MalformNext(1)
	res := newSource(Options{}).Fetch(context.Background(), parse(t, "kms:malformed/x"))
	if res[0].Err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(res[0].Err.Error(), "KMS GetSecretValue: the answer could not be decoded") {
		t.Errorf("err = %v", res[0].Err)
	}
	if strings.Contains(res[0].Err.Error(), canary[:8]) || strings.Contains(res[0].Err.Error(), "password") {
		t.Fatalf("error quotes the answer: %v", res[0].Err)
	}
}

// TestPlanCalls: one GetSecretValue a secret, in its ARN's region or the
// default one, as Fetch makes them.
func TestPlanCalls(t *testing.T) {
	var objs []sources.Ref
	for _, s := range []string{"kms:a", "kms:b", "acs:kms:cn-shanghai:1234567890123456:secret/c"} {
		ref, err := sources.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, ref)
	}
	got := New(Options{Region: home}).PlanCalls(objs)
	want := []sources.PlannedCall{{Region: home, Op: "GetSecretValue", Count: 2}, {Region: away, Op: "GetSecretValue", Count: 1}}
	if !slices.Equal(got, want) {
		t.Errorf("PlanCalls = %v, want %v", got, want)
	}
}
