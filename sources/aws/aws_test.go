package aws_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/internal/awsfake"
	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// canary is planted in every value; no error may contain it.
const canary = "canary-aws-Qm7Zt4"

// newFake starts a fake and points the SDK at it through the environment,
// with the default region us-east-1.
func newFake(t *testing.T) *awsfake.Fake {
	t.Helper()
	f := awsfake.New()
	t.Cleanup(f.Close)
	for _, kv := range f.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_MAX_ATTEMPTS", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", "")
	return f
}

func resolver(opts awssrc.Options) *sources.Resolver {
	r := sources.NewResolver()
	awssrc.New(opts).Register(r)
	return r
}

func parse(t *testing.T, refs ...string) []sources.Ref {
	t.Helper()
	out := make([]sources.Ref, len(refs))
	for i, s := range refs {
		r, err := sources.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = r
	}
	return out
}

func resolve(t *testing.T, r *sources.Resolver, refs ...string) ([]sources.Result, error) {
	t.Helper()
	res, err := r.Resolve(context.Background(), parse(t, refs...))
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Fatalf("an error leaks a value:\n%v", err)
	}
	return res, err
}

func mustResolve(t *testing.T, r *sources.Resolver, refs ...string) []sources.Result {
	t.Helper()
	res, err := resolve(t, r, refs...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// errorsOf maps each failing reference to its message.
func errorsOf(t *testing.T, err error) map[string]string {
	t.Helper()
	var merr *multierror.Error
	if !errors.As(err, &merr) {
		t.Fatalf("want a multierror, got %v", err)
	}
	out := map[string]string{}
	for _, e := range merr.Errors {
		var se *sources.Error
		if !errors.As(e, &se) {
			t.Fatalf("entry %v is not a *sources.Error", e)
		}
		out[se.Ref.Raw] = e.Error()
	}
	return out
}

func TestSSMReferenceForms(t *testing.T) {
	f := newFake(t)
	f.PutParameter("us-east-1", "/prod/db/password", awsfake.SecureString, canary+"-pw")
	f.PutParameter("us-east-1", "plain", awsfake.String, canary+"-v1")
	f.PutParameter("us-east-1", "plain", awsfake.String, canary+"-v2")
	f.PutParameter("us-east-1", "plain", awsfake.String, canary+"-v3")
	f.LabelParameterVersion("us-east-1", "plain", 2, "blue")
	f.PutParameter("us-east-1", "/prod/hosts", awsfake.StringList, "a,b,c")
	f.PutSecretString("us-east-1", "prod/api", canary+"-api")
	f.PutParameter("us-west-2", "/prod/db", awsfake.SecureString, canary+"-west")

	r := resolver(awssrc.Options{})
	refs := []string{
		"/prod/db/password",
		"plain",
		"plain:1",
		"plain:blue",
		"/prod/hosts",
		"/aws/reference/secretsmanager/prod/api",
		"arn:aws:ssm:us-east-1:123456789012:parameter/prod/db/password",
		"arn:aws:ssm:us-east-1:123456789012:parameter/plain:2",
		"arn:aws:ssm:us-west-2:123456789012:parameter/prod/db",
	}
	want := []struct{ value, version, region string }{
		{canary + "-pw", "1", "us-east-1"},
		{canary + "-v3", "3", "us-east-1"},
		{canary + "-v1", "1", "us-east-1"},
		{canary + "-v2", "2", "us-east-1"},
		{"a,b,c", "1", "us-east-1"},
		{canary + "-api", "", "us-east-1"},
		{canary + "-pw", "1", "us-east-1"},
		{canary + "-v2", "2", "us-east-1"},
		{canary + "-west", "1", "us-west-2"},
	}
	res := mustResolve(t, r, refs...)
	for i, w := range want {
		v := res[i].Value
		if string(v.Data) != w.value || v.Region != w.region || (w.version != "" && v.Version != w.version) {
			t.Errorf("%s = %q version %q region %q, want %q %q %q", refs[i], v.Data, v.Version, v.Region, w.value, w.version, w.region)
		}
	}
	if res[5].Value.Version == "" {
		t.Errorf("/aws/reference has no version")
	}
	// Same name and selector by name and by ARN go to separate calls, so
	// the answers cannot be confused: 7 us-east-1 references, 2 calls.
	if n := f.Count("AmazonSSM.GetParameters", "us-east-1"); n != 2 {
		t.Errorf("us-east-1 GetParameters calls = %d, want 2", n)
	}
	if n := f.Count("AmazonSSM.GetParameters", "us-west-2"); n != 1 {
		t.Errorf("us-west-2 GetParameters calls = %d, want 1", n)
	}
}

func TestSSMBatchesOfTen(t *testing.T) {
	f := newFake(t)
	var refs []string
	for i := range 25 {
		name := fmt.Sprintf("/app/p%02d", i)
		f.PutParameter("us-east-1", name, awsfake.SecureString, fmt.Sprintf("%s-%d", canary, i))
		refs = append(refs, name)
	}
	res := mustResolve(t, resolver(awssrc.Options{}), refs...)
	for i := range refs {
		if got := string(res[i].Value.Data); got != fmt.Sprintf("%s-%d", canary, i) {
			t.Errorf("%s = %q", refs[i], got)
		}
	}
	// Full batches of ten, the rest in one: fewer would be more calls in a
	// larger config, more would be refused by SSM.
	if got := batchSizes(f, "AmazonSSM.GetParameters"); !slices.Equal(got, []int{10, 10, 5}) {
		t.Errorf("25 names: GetParameters calls of %v names, want [10 10 5]", got)
	}
}

// batchSizes are the sizes of the calls of api in the fake's log, largest
// first.
func batchSizes(f *awsfake.Fake, api string) []int {
	var sizes []int
	for _, c := range f.Calls() {
		if c.API == api {
			sizes = append(sizes, c.Size)
		}
	}
	slices.Sort(sizes)
	slices.Reverse(sizes)
	return sizes
}

// TestRegionsInParallel: one group per region, the groups at once.
func TestRegionsInParallel(t *testing.T) {
	f := newFake(t)
	f.SetFaults("", awsfake.Faults{Latency: 500 * time.Millisecond}) // generous: the calls of both regions must overlap even on a loaded machine
	f.PutParameter("us-east-1", "/app/a", awsfake.String, "a")
	f.PutParameter("eu-west-1", "/app/b", awsfake.String, "b")
	f.PutSecretString("us-east-1", "app/c", "c")
	f.PutSecretString("eu-west-1", "app/d", "d")
	res := mustResolve(t, resolver(awssrc.Options{}),
		"/app/a", "arn:aws:ssm:eu-west-1:123456789012:parameter/app/b",
		"sm:app/c", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/d")
	for i, want := range []string{"a", "b", "c", "d"} {
		if string(res[i].Value.Data) != want {
			t.Errorf("value %d = %q", i, res[i].Value.Data)
		}
	}
	regions := map[string]int{}
	for _, c := range f.Calls() {
		regions[c.Region]++
	}
	if regions["us-east-1"] != 2 || regions["eu-west-1"] != 2 {
		t.Errorf("calls per region = %v, want 2 and 2", regions)
	}
	if n := f.MaxInFlight("AmazonSSM.GetParameters"); n != 2 {
		t.Errorf("GetParameters calls of the two regions in flight at once = %d, want 2", n)
	}
	if n := f.MaxInFlight("secretsmanager.GetSecretValue"); n != 2 {
		t.Errorf("GetSecretValue calls of the two regions in flight at once = %d, want 2", n)
	}
	assertOverlap(t, f.Calls())
}

// assertOverlap checks that every call started before any call ended: one
// round of parallel calls.
func assertOverlap(t *testing.T, calls []awsfake.Call) {
	t.Helper()
	var lastStart, firstEnd time.Time
	for i, c := range calls {
		if i == 0 || c.Start.After(lastStart) {
			lastStart = c.Start
		}
		if i == 0 || c.End.Before(firstEnd) {
			firstEnd = c.End
		}
	}
	if lastStart.After(firstEnd) {
		t.Errorf("calls ran in more than one round: the last started %v after the first ended", lastStart.Sub(firstEnd))
	}
}

func TestSecretsManager45InOneRound(t *testing.T) {
	f := newFake(t)
	f.SetFaults("", awsfake.Faults{Latency: 400 * time.Millisecond})
	var refs []string
	for i := range 45 {
		name := fmt.Sprintf("app/s%02d", i)
		f.PutSecretString("us-east-1", name, fmt.Sprintf(`{"password":"%s-%d"}`, canary, i))
		refs = append(refs, "sm:"+name+":password")
	}
	res := mustResolve(t, resolver(awssrc.Options{}), refs...)
	for i := range refs {
		if got := string(res[i].Value.Data); got != fmt.Sprintf("%s-%d", canary, i) {
			t.Errorf("%s = %q", refs[i], got)
		}
	}
	counts := f.Counts()
	if counts["secretsmanager.BatchGetSecretValue"] != 3 || len(counts) != 1 {
		t.Errorf("calls = %v, want 3 BatchGetSecretValue only", counts)
	}
	if got := batchSizes(f, "secretsmanager.BatchGetSecretValue"); !slices.Equal(got, []int{20, 20, 5}) {
		t.Errorf("45 secrets: BatchGetSecretValue calls of %v ids, want [20 20 5]", got)
	}
	if n := f.MaxInFlight("secretsmanager.BatchGetSecretValue"); n != 3 {
		t.Errorf("%d batch calls in flight at once, want 3", n)
	}
	assertOverlap(t, f.Calls())
}

// TestBatchThrottledFallsBack: a throttled BatchGetSecretValue is not
// retried; its secrets are read with bounded parallel GetSecretValue.
func TestBatchThrottledFallsBack(t *testing.T) {
	f := newFake(t)
	f.SetFaults("secretsmanager.BatchGetSecretValue", awsfake.Faults{ThrottleFraction: 1})
	f.SetFaults("secretsmanager.GetSecretValue", awsfake.Faults{Latency: 50 * time.Millisecond})
	var refs []string
	for i := range 45 {
		name := fmt.Sprintf("app/s%02d", i)
		f.PutSecretString("us-east-1", name, fmt.Sprintf("%s-%d", canary, i))
		refs = append(refs, "sm:"+name)
	}
	res := mustResolve(t, resolver(awssrc.Options{Parallel: 8}), refs...)
	for i := range refs {
		if got := string(res[i].Value.Data); got != fmt.Sprintf("%s-%d", canary, i) {
			t.Errorf("%s = %q", refs[i], got)
		}
	}
	counts := f.Counts()
	if counts["secretsmanager.BatchGetSecretValue"] != 3 || counts["secretsmanager.GetSecretValue"] != 45 {
		t.Errorf("calls = %v, want 3 throttled batches then 45 single reads", counts)
	}
	if n := f.MaxInFlight("secretsmanager.GetSecretValue"); n > 8 || n < 2 {
		t.Errorf("%d single reads in flight at once, want 2..8 (Parallel)", n)
	}

	// Denied batches fall back too, and later resolves skip batching.
	f.Reset()
	f.SetFaults("secretsmanager.BatchGetSecretValue", awsfake.Faults{})
	f.SetRateLimit("secretsmanager.BatchGetSecretValue", 0, 0)
	r := resolver(awssrc.Options{})
	f.SetFaults("secretsmanager.BatchGetSecretValue", awsfake.Faults{ServerErrFraction: 1})
	mustResolve(t, r, refs[:5]...)
	if c := f.Counts(); c["secretsmanager.BatchGetSecretValue"] != 1 || c["secretsmanager.GetSecretValue"] != 5 {
		t.Errorf("after a 5xx batch: calls = %v", c)
	}
}

func TestBatchOmissionIsNotFound(t *testing.T) {
	f := newFake(t)
	f.SetFaults("secretsmanager.BatchGetSecretValue", awsfake.Faults{BatchOmit: 1})
	for _, n := range []string{"a", "b", "c"} {
		f.PutSecretString("us-east-1", n, canary)
	}
	res, err := resolve(t, resolver(awssrc.Options{}), "sm:a", "sm:b", "sm:c")
	if res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("a, b: %v %v", res[0].Err, res[1].Err)
	}
	msg := errorsOf(t, err)["sm:c"]
	for _, want := range []string{"ResourceNotFoundException", "secret c not found in us-east-1", "neither in SecretValues nor in Errors"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
}

func TestSecretsManagerReferenceForms(t *testing.T) {
	f := newFake(t)
	arn, v1 := f.PutSecretString("us-east-1", "prod/db", `{"user":"app","password":"`+canary+`-1","port":5432}`)
	_, v2 := f.PutSecretString("us-east-1", "prod/db", `{"user":"app","password":"`+canary+`-2","port":5432}`)
	_, v3 := f.PutSecretPending("us-east-1", "prod/db", `{"password":"`+canary+`-3"}`)
	f.PutSecretBinary("us-east-1", "prod/tls", []byte{0, 1, 2, 0xff})
	westARN, _ := f.PutSecretString("eu-west-1", "prod/db", canary+"-west")
	partial := strings.TrimSuffix(arn, arn[len(arn)-7:])

	r := resolver(awssrc.Options{})
	refs := []string{
		arn,
		arn + ":password::",
		arn + ":port::",
		arn + "::AWSPREVIOUS:",
		arn + ":password::" + v1,
		partial + ":password",
		"sm:prod/db:user",
		"sm:prod/db:password:AWSPENDING:",
		"sm:prod/db:password::" + v2,
		"sm:prod/tls",
		westARN,
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db",
	}
	res := mustResolve(t, r, refs...)
	want := []struct{ value, version string }{
		{`{"user":"app","password":"` + canary + `-2","port":5432}`, v2},
		{canary + "-2", v2},
		{"5432", v2},
		{`{"user":"app","password":"` + canary + `-1","port":5432}`, v1},
		{canary + "-1", v1},
		{canary + "-2", v2},
		{"app", v2},
		{canary + "-3", v3},
		{canary + "-2", v2},
		{"\x00\x01\x02\xff", ""},
		{canary + "-west", ""},
		{canary + "-west", ""},
	}
	for i, w := range want {
		v := res[i].Value
		if string(v.Data) != w.value || (w.version != "" && v.Version != w.version) {
			t.Errorf("%s = %q version %q, want %q %q", refs[i], v.Data, v.Version, w.value, w.version)
		}
	}
	// One read per secret and version, however many keys select from it:
	// the AWSCURRENT reads of us-east-1 (full ARN, partial ARN, name, tls)
	// go in one batch; AWSPREVIOUS, AWSPENDING and the two version ids are
	// single reads; eu-west-1 has one batch of two ids.
	counts := f.Counts()
	if counts["secretsmanager.BatchGetSecretValue"] != 2 || counts["secretsmanager.GetSecretValue"] != 4 {
		t.Errorf("calls = %v, want 2 batches and 4 single reads", counts)
	}
}

func TestNotFoundNamesTheRegion(t *testing.T) {
	f := newFake(t)
	f.PutParameter("eu-west-1", "/only/west", awsfake.SecureString, canary)
	f.PutSecretString("eu-west-1", "only/west", canary)
	f.PutSecretString("us-east-1", "here", canary)
	f.PutParameter("us-east-1", "/here", awsfake.String, canary)
	_, err := resolve(t, resolver(awssrc.Options{}),
		"/only/west", "sm:only/west", "sm:only/west::AWSPREVIOUS:", "/here:7", "/here:green",
		"arn:aws:ssm:us-west-2:123456789012:parameter/only/west", "sm:here")
	msgs := errorsOf(t, err)
	for ref, wants := range map[string][]string{
		"/only/west":                 {`reference "/only/west" (ssm, us-east-1)`, "GetParameters: ParameterNotFound", "parameter /only/west not found in us-east-1, the default region", "needs the full ARN"},
		"sm:only/west":               {`(secretsmanager, us-east-1)`, "ResourceNotFoundException", "secret only/west not found in us-east-1, the default region", "needs the full ARN"},
		"sm:only/west::AWSPREVIOUS:": {"GetSecretValue: ResourceNotFoundException", "staging label AWSPREVIOUS of secret only/west"},
		"/here:7":                    {"version 7 of parameter /here not found"},
		"/here:green":                {`label "green" of parameter /here not found`},
		"arn:aws:ssm:us-west-2:123456789012:parameter/only/west": {"(ssm, us-west-2)", "not found in us-west-2"},
	} {
		for _, want := range wants {
			if !strings.Contains(msgs[ref], want) {
				t.Errorf("%s: error lacks %q: %q", ref, want, msgs[ref])
			}
		}
	}
	if strings.Contains(msgs["arn:aws:ssm:us-west-2:123456789012:parameter/only/west"], "default region") {
		t.Errorf("an ARN's error speaks of the default region")
	}
	if len(msgs) != 6 {
		t.Errorf("want 6 failures at once, got %d: %v", len(msgs), msgs)
	}
}

func TestAPIErrorsAllAtOnce(t *testing.T) {
	f := newFake(t)
	for i := range 5 {
		f.PutParameter("us-east-1", fmt.Sprintf("/app/ok%d", i), awsfake.SecureString, canary)
	}
	f.PutParameter("us-east-1", "/app/denied", awsfake.SecureString, canary)
	f.DenyParameter("us-east-1", "/app/denied")
	f.PutSecretString("us-east-1", "locked", canary)
	f.BreakSecretKey("us-east-1", "locked")
	f.PutSecretString("us-east-1", "forbidden", canary)
	f.DenySecret("us-east-1", "forbidden")
	f.PutSecretString("us-east-1", "fine", canary)

	res, err := resolve(t, resolver(awssrc.Options{}),
		"/app/ok0", "/app/ok1", "/app/denied", "/app/ok2", "/app/ok3", "/app/ok4",
		"sm:locked", "sm:forbidden", "sm:fine", "sm:locked::AWSCURRENT:")
	msgs := errorsOf(t, err)
	for ref, want := range map[string]string{
		"/app/denied":            "GetParameters: AccessDeniedException",
		"sm:locked":              "DecryptionFailure",
		"sm:forbidden":           "AccessDeniedException",
		"sm:locked::AWSCURRENT:": "DecryptionFailure",
	} {
		if !strings.Contains(msgs[ref], want) {
			t.Errorf("%s: %q lacks %q", ref, msgs[ref], want)
		}
	}
	if len(msgs) != 4 {
		t.Errorf("want exactly 4 failures, got %v", msgs)
	}
	// A denied name fails alone: the batch is asked again name by name.
	for _, i := range []int{0, 1, 3, 4, 5, 8} {
		if res[i].Err != nil || string(res[i].Value.Data) != canary {
			t.Errorf("result %d: %v", i, res[i].Err)
		}
	}
}

func TestThrottlingHalfTheCalls(t *testing.T) {
	f := newFake(t)
	f.SetFaults("", awsfake.Faults{ThrottleFraction: 0.5})
	var refs []string
	for i := range 30 {
		f.PutParameter("us-east-1", fmt.Sprintf("/t/p%d", i), awsfake.String, "v")
		f.PutSecretString("us-east-1", fmt.Sprintf("t/s%d", i), "v")
		refs = append(refs, fmt.Sprintf("/t/p%d", i), fmt.Sprintf("sm:t/s%d", i))
	}
	mustResolve(t, resolver(awssrc.Options{}), refs...)
	throttled := 0
	for _, c := range f.Calls() {
		if c.Code == "ThrottlingException" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("nothing was throttled")
	}
}

func TestServerErrorsFailClearly(t *testing.T) {
	f := newFake(t)
	f.SetFaults("", awsfake.Faults{ServerErrFraction: 1})
	f.PutParameter("us-east-1", "/x", awsfake.String, canary)
	f.PutSecretString("us-east-1", "x", canary)
	start := time.Now()
	_, err := resolve(t, resolver(awssrc.Options{MaxAttempts: 3, Timeout: 30 * time.Second}), "/x", "sm:x")
	msgs := errorsOf(t, err)
	if !strings.Contains(msgs["/x"], "GetParameters: InternalServerError") || !strings.Contains(msgs["/x"], "(after 3 attempts)") {
		t.Errorf("/x: %s", msgs["/x"])
	}
	if !strings.Contains(msgs["sm:x"], "GetSecretValue: InternalServiceError") {
		t.Errorf("sm:x: %s", msgs["sm:x"])
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v, past the deadline", d)
	}
}

// TestRetriesWaitWithJitter measures, at the fake, the waits between the
// attempts of a call that keeps failing with 5xx: each is a random time up
// to 50ms·2^(retry-1) (full jitter), so they add up to far more than the
// client's own time between an answer and its next request, and two calls
// do not wait alike.
func TestRetriesWaitWithJitter(t *testing.T) {
	f := newFake(t)
	f.PutParameter("us-east-1", "/x", awsfake.String, "v")
	f.SetFaults("", awsfake.Faults{ServerErrFraction: 1})
	const attempts = 6
	var gaps [2][attempts - 1]time.Duration
	for run := range gaps {
		f.Reset()
		if _, err := resolve(t, resolver(awssrc.Options{MaxAttempts: attempts}), "/x"); err == nil {
			t.Fatal("no error")
		}
		calls := f.Calls()
		if len(calls) != attempts {
			t.Fatalf("%d attempts, want %d", len(calls), attempts)
		}
		for i := range attempts - 1 {
			gaps[run][i] = calls[i+1].Start.Sub(calls[i].End)
		}
	}
	t.Logf("waits between attempts: %v", gaps)
	var total time.Duration
	same := true
	for i := range attempts - 1 {
		ceiling := 50 * time.Millisecond << i
		for run := range gaps {
			total += gaps[run][i]
			// Generous: a loaded machine adds to every wait.
			if gaps[run][i] > ceiling+2*time.Second {
				t.Errorf("wait before retry %d: %v, over its ceiling %v", i+1, gaps[run][i], ceiling)
			}
		}
		same = same && (gaps[0][i]-gaps[1][i]).Abs() < 5*time.Millisecond
	}
	// Uniform on [0, 50ms] ... [0, 800ms], twice: 1.55 s on average, under
	// 80 ms with a probability far below 1e-6.
	if total < 80*time.Millisecond {
		t.Errorf("the waits add up to %v: retries are not backing off", total)
	}
	// Without jitter the same retry would wait the same time in both calls.
	if same {
		t.Errorf("both calls waited alike %v: no jitter", gaps)
	}
}

func TestTimeouts(t *testing.T) {
	f := newFake(t)
	f.PutParameter("us-east-1", "/slow", awsfake.String, canary)
	f.SetFaults("", awsfake.Faults{HangFraction: 1})

	// Each attempt times out, and is retried; then the call fails.
	_, err := resolve(t, resolver(awssrc.Options{CallTimeout: 200 * time.Millisecond, MaxAttempts: 2}), "/slow")
	if msg := errorsOf(t, err)["/slow"]; !strings.Contains(msg, "no answer within the call timeout of 200ms") || !strings.Contains(msg, "after 2 attempts") {
		t.Errorf("call timeout: %s", msg)
	}

	// The resolve's deadline ([aws] timeout) cuts retries short and says
	// what the last attempt met.
	_, err = resolve(t, resolver(awssrc.Options{CallTimeout: 300 * time.Millisecond, Timeout: 1500 * time.Millisecond, MaxAttempts: 50}), "/slow")
	if msg := errorsOf(t, err)["/slow"]; !strings.Contains(msg, "no answer within the deadline of 1.5s ([aws] timeout)") || !strings.Contains(msg, "[aws] timeout") {
		t.Errorf("deadline: %s", msg)
	}

	// One hung attempt out of two: the retry answers.
	f.SetFaults("", awsfake.Faults{HangFraction: 0.5})
	f.Reset()
	res := mustResolve(t, resolver(awssrc.Options{CallTimeout: 200 * time.Millisecond}), "/slow")
	if string(res[0].Value.Data) != canary {
		t.Errorf("after a hung attempt: %q", res[0].Value.Data)
	}
}

func TestWrongSecretKeyIsRefused(t *testing.T) {
	f := newFake(t)
	f.PutParameter("us-east-1", "/x", awsfake.String, canary)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-key")
	_, err := resolve(t, resolver(awssrc.Options{}), "/x")
	if msg := errorsOf(t, err)["/x"]; !strings.Contains(msg, "InvalidSignatureException") || !strings.Contains(msg, "credentials are invalid") {
		t.Errorf("wrong key: %s", msg)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDUNKNOWN")
	_, err = resolve(t, resolver(awssrc.Options{}), "/x")
	if msg := errorsOf(t, err)["/x"]; !strings.Contains(msg, "UnrecognizedClientException") {
		t.Errorf("unknown key id: %s", msg)
	}
}

func TestAssumeRoleOnlyForSecrets(t *testing.T) {
	f := newFake(t)
	const role = "arn:aws:iam::123456789012:role/app-secrets-reader"
	f.AllowRole(role, "ext-42")
	f.PutParameter("us-east-1", "/x", awsfake.String, canary)
	f.PutSecretString("us-east-1", "x", canary)
	mustResolve(t, resolver(awssrc.Options{RoleARN: role, ExternalID: "ext-42", SessionName: "shroud-test"}), "/x", "sm:x")
	calls := f.Calls()
	if calls[0].API != "sts.AssumeRole" || calls[0].Principal != "user" {
		t.Errorf("first call = %+v, want AssumeRole by the base credentials", calls[0])
	}
	for _, c := range calls[1:] {
		if c.Principal != role {
			t.Errorf("%s was made by %q, want the role", c.API, c.Principal)
		}
	}
	if n := f.Count("sts.AssumeRole", ""); n != 1 {
		t.Errorf("AssumeRole calls = %d, want 1 (credentials cached)", n)
	}

	_, err := resolve(t, resolver(awssrc.Options{RoleARN: role, ExternalID: "wrong"}), "sm:x")
	if msg := errorsOf(t, err)["sm:x"]; !strings.Contains(msg, "AccessDenied") || !strings.Contains(msg, role) {
		t.Errorf("wrong external id: %s", msg)
	}
}

func TestVersions(t *testing.T) {
	f := newFake(t)
	_, v1 := f.PutSecretString("us-east-1", "rot", canary+"-1")
	f.PutParameter("us-east-1", "/rot", awsfake.String, canary)
	s := awssrc.New(awssrc.Options{})
	r := sources.NewResolver()
	s.Register(r)
	refs := parse(t, "sm:rot", "sm:rot::AWSPREVIOUS:", "sm:rot:::"+v1)
	var versioner sources.Versioner = s.SecretsManager()
	res := versioner.Versions(context.Background(), refs)
	if res[0].Err != nil || res[0].Value.Version != v1 || len(res[0].Value.Data) != 0 {
		t.Errorf("current = %+v", res[0])
	}
	if res[1].Err == nil || !strings.Contains(res[1].Err.Error(), "no version of secret rot has the staging label AWSPREVIOUS") {
		t.Errorf("previous = %v", res[1].Err)
	}
	if res[2].Value.Version != v1 {
		t.Errorf("pinned = %+v", res[2])
	}
	if c := f.Counts(); c["secretsmanager.DescribeSecret"] != 1 || c["secretsmanager.GetSecretValue"] != 0 {
		t.Errorf("calls = %v, want one DescribeSecret and no value read", c)
	}

	_, v2 := f.PutSecretString("us-east-1", "rot", canary+"-2")
	res = versioner.Versions(context.Background(), refs)
	if res[0].Value.Version != v2 || res[1].Value.Version != v1 || res[2].Value.Version != v1 {
		t.Errorf("after rotation: %+v", res)
	}

	f.PutParameter("us-east-1", "/rot", awsfake.String, canary+"-2")
	pres := s.SSM().Versions(context.Background(), parse(t, "/rot", "/rot:1"))
	if pres[0].Value.Version != "2" || pres[1].Value.Version != "1" {
		t.Errorf("ssm versions: %+v", pres)
	}
}

func TestPathListing(t *testing.T) {
	f := newFake(t)
	for i := range 23 {
		f.PutParameter("us-east-1", fmt.Sprintf("/prod/app/k%02d", i), awsfake.SecureString, fmt.Sprintf("%s-%d", canary, i))
	}
	f.PutParameter("us-east-1", "/prod/app/db/password", awsfake.SecureString, canary+"-db")
	f.PutParameter("us-east-1", "/prod/other", awsfake.String, "no")
	r := resolver(awssrc.Options{})
	res, err := r.Resolve(context.Background(), []sources.Ref{sources.PathRef("/prod/app/"), sources.PathRef("/nothing/here")})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	fields, ferr := sources.ObjectFields(res[0].Value.Data)
	if ferr != nil || len(fields) != 24 || string(fields["db/password"]) != canary+"-db" || string(fields["k07"]) != canary+"-7" {
		t.Errorf("listing has %d fields: %v", len(fields), ferr)
	}
	if n := f.Count("AmazonSSM.GetParametersByPath", ""); n != 3+1 {
		t.Errorf("24 parameters and an empty path: %d pages, want 3+1", n)
	}
	if !strings.HasPrefix(res[0].Value.Version, "list-") {
		t.Errorf("version %q", res[0].Value.Version)
	}
	if msg := errorsOf(t, err)["/nothing/here"]; !strings.Contains(msg, "no parameter under /nothing/here in us-east-1") {
		t.Errorf("empty path: %s", msg)
	}
	// The version moves when a parameter under the path changes.
	before := res[0].Value.Version
	f.PutParameter("us-east-1", "/prod/app/k00", awsfake.SecureString, "new")
	res, _ = r.Resolve(context.Background(), []sources.Ref{sources.PathRef("/prod/app/")})
	if res[0].Value.Version == before {
		t.Error("the listing's version did not change")
	}
}

func TestDefaultRegion(t *testing.T) {
	f := newFake(t)
	f.PutParameter("ap-south-1", "/x", awsfake.String, "from-ecs")
	f.PutParameter("ap-south-1", "x", awsfake.String, "by-arn")
	f.PutParameter("eu-central-1", "/x", awsfake.String, "from-env")
	f.PutParameter("sa-east-1", "/x", awsfake.String, "from-options")

	// The option wins over AWS_REGION.
	t.Setenv("AWS_REGION", "eu-central-1")
	if res := mustResolve(t, resolver(awssrc.Options{Region: "sa-east-1"}), "/x"); string(res[0].Value.Data) != "from-options" {
		t.Errorf("option: %q", res[0].Value.Data)
	}
	if res := mustResolve(t, resolver(awssrc.Options{}), "/x"); string(res[0].Value.Data) != "from-env" {
		t.Errorf("AWS_REGION: %q", res[0].Value.Data)
	}
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "eu-central-1")
	if res := mustResolve(t, resolver(awssrc.Options{}), "/x"); string(res[0].Value.Data) != "from-env" {
		t.Errorf("AWS_DEFAULT_REGION: %q", res[0].Value.Data)
	}

	// ECS task metadata, when nothing else names a region.
	t.Setenv("AWS_DEFAULT_REGION", "")
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4/task" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"Cluster":"c","TaskARN":"arn:aws:ecs:ap-south-1:123456789012:task/c/abc","AvailabilityZone":"ap-south-1a"}`)
	}))
	defer meta.Close()
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", meta.URL+"/v4")
	if res := mustResolve(t, resolver(awssrc.Options{}), "/x"); string(res[0].Value.Data) != "from-ecs" {
		t.Errorf("ECS metadata: %q", res[0].Value.Data)
	}

	// No region at all: names fail with the fix, ARNs still resolve.
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", "")
	res, err := resolve(t, resolver(awssrc.Options{}), "/x", "arn:aws:ssm:ap-south-1:123456789012:parameter/x")
	if msg := errorsOf(t, err)["/x"]; !strings.Contains(msg, "no default AWS region") {
		t.Errorf("no region: %s", msg)
	}
	if res[1].Err != nil {
		t.Errorf("an ARN needs no default region: %v", res[1].Err)
	}
}

// TestClientsReused: a session keeps one client per service and region, so
// later resolves (the watch loop's) reuse its connections. The transport
// returns a connection to its idle pool asynchronously, so a call right
// after another may still dial anew, more so on a loaded machine; resolves
// here are spaced as the watch loop's are, and a client per resolve would
// dial every time.
func TestClientsReused(t *testing.T) {
	f := newFake(t)
	f.PutParameter("us-east-1", "/x", awsfake.String, "v")
	r := resolver(awssrc.Options{})
	const resolves = 10
	for range resolves {
		mustResolve(t, r, "/x")
		time.Sleep(20 * time.Millisecond)
	}
	conns := map[string]bool{}
	for _, c := range f.Calls() {
		conns[c.Conn] = true
	}
	if len(f.Calls()) != resolves || len(conns) > resolves/2 {
		t.Errorf("%d resolves made %d calls over %d connections: the session does not reuse its client", resolves, len(f.Calls()), len(conns))
	}
	mustResolve(t, resolver(awssrc.Options{}), "/x")
	calls := f.Calls()
	if last := calls[len(calls)-1]; conns[last.Conn] {
		t.Errorf("a new session reused another session's connection")
	}
}

// TestLazy: a session makes no call and loads nothing until an AWS
// reference is resolved.
func TestLazy(t *testing.T) {
	f := newFake(t)
	t.Setenv("AWS_PROFILE", "no-such-profile") // loading the config would fail
	r := resolver(awssrc.Options{})
	if _, err := r.Resolve(context.Background(), parse(t, "env:HOME")); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("%d calls for a local reference", n)
	}
	_, err := resolve(t, r, "sm:x")
	if msg := errorsOf(t, err)["sm:x"]; !strings.Contains(msg, "no-such-profile") {
		t.Errorf("bad profile: %s", msg)
	}
}

// TestServiceEndpointsAndProfile: the per-service endpoint overrides win
// over AWS_ENDPOINT_URL, and [aws] profile selects the shared config's
// region and credentials.
func TestServiceEndpointsAndProfile(t *testing.T) {
	ssmFake := newFake(t)
	smFake := awsfake.New()
	t.Cleanup(smFake.Close)
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // nothing listens there
	t.Setenv("AWS_ENDPOINT_URL_SSM", ssmFake.URL())
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", smFake.URL())
	ssmFake.PutParameter("ca-central-1", "/p", awsfake.String, "from-ssm-endpoint")
	smFake.PutSecretString("ca-central-1", "s", "from-sm-endpoint")

	dir := t.TempDir()
	writeFile(t, dir+"/config", "[profile team]\nregion = ca-central-1\n")
	writeFile(t, dir+"/credentials", "[team]\naws_access_key_id = "+awsfake.AccessKeyID+"\naws_secret_access_key = "+awsfake.SecretAccessKey+"\n")
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_REGION", "")

	res := mustResolve(t, resolver(awssrc.Options{Profile: "team"}), "/p", "sm:s")
	if string(res[0].Value.Data) != "from-ssm-endpoint" || string(res[1].Value.Data) != "from-sm-endpoint" || res[0].Value.Region != "ca-central-1" {
		t.Errorf("got %q (%s), %q", res[0].Value.Data, res[0].Value.Region, res[1].Value.Data)
	}
	if ssmFake.Count("AmazonSSM.GetParameters", "ca-central-1") != 1 || smFake.Count("secretsmanager.GetSecretValue", "ca-central-1") != 1 {
		t.Errorf("calls: ssm endpoint %v, secrets manager endpoint %v", ssmFake.Counts(), smFake.Counts())
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestUndecodableAnswerNamesStatus: an error answer that is not AWS's JSON
// (a proxy's or moto's HTML 500) is reported with its HTTP status, never
// its body, in one line.
func TestUndecodableAnswerNamesStatus(t *testing.T) {
	f := newFake(t)
	f.SetFaults("", awsfake.Faults{ServerErrFraction: 1, ServerErrPage: "<html><body>Internal Server Error " + canary + "</body></html>"})
	f.PutParameter("us-east-1", "/x", awsfake.String, canary)
	f.PutSecretString("us-east-1", "x", canary)
	_, err := resolve(t, resolver(awssrc.Options{MaxAttempts: 2}), "/x", "sm:x")
	msgs := errorsOf(t, err)
	for ref, op := range map[string]string{"/x": "GetParameters", "sm:x": "GetSecretValue"} {
		msg := msgs[ref]
		if !strings.Contains(msg, op+": an answer that is not AWS's (HTTP 500 Internal Server Error) could not be decoded (after 2 attempts)") ||
			strings.Contains(msg, "\n") || strings.Contains(msg, "html") {
			t.Errorf("%s: %q", ref, msg)
		}
	}
}

// TestGaveUpIsOneLine: a call that used up its attempts on a failure that
// is not an AWS answer (a refused connection) says so in one line, with
// the attempts, and nothing of the retryer's own sentinel.
func TestGaveUpIsOneLine(t *testing.T) {
	ln := httptest.NewServer(http.NotFoundHandler())
	url := ln.URL
	ln.Close() // nothing listens there now: connections are refused
	newFake(t)
	t.Setenv("AWS_ENDPOINT_URL", url)
	_, err := resolve(t, resolver(awssrc.Options{MaxAttempts: 3}), "/x", "sm:x")
	for ref, msg := range errorsOf(t, err) {
		if strings.Contains(msg, "\n") || strings.Contains(msg, "no attempts left") || !strings.Contains(msg, "connection refused") ||
			!strings.Contains(msg, "(after 3 attempts)") {
			t.Errorf("%s: %q", ref, msg)
		}
	}
}

// TestCABundle: AWS_CA_BUNDLE is trusted, and nothing else is: an endpoint
// whose certificate no trusted authority signed is refused.
func TestCABundle(t *testing.T) {
	f := newFake(t)
	f.PutSecretString("us-east-1", "s", canary)
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)

	t.Setenv("AWS_CA_BUNDLE", "")
	if _, err := resolve(t, resolver(awssrc.Options{MaxAttempts: 1}), "sm:s"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an endpoint with an untrusted certificate: got %v, want a certificate error", err)
	}
	bundle := t.TempDir() + "/ca.pem"
	writeFile(t, bundle, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	t.Setenv("AWS_CA_BUNDLE", bundle)
	res := mustResolve(t, resolver(awssrc.Options{}), "sm:s")
	if string(res[0].Value.Data) != canary {
		t.Errorf("got %q", res[0].Value.Data)
	}
}

// TestVersionsBatched: a region's secrets at AWSCURRENT are polled as
// Fetch reads them, BatchGetSecretValue 20 a call, and no value is handed
// out; a staging
// label is still a DescribeSecret, and a region whose batches are denied
// is polled with DescribeSecret alone.
func TestVersionsBatched(t *testing.T) {
	f := newFake(t)
	var names []string
	want := map[string]string{}
	for i := range 21 {
		name := fmt.Sprintf("poll/%02d", i)
		_, v := f.PutSecretString("us-east-1", name, canary)
		names, want["sm:"+name] = append(names, "sm:"+name), v
	}
	names = append(names, "sm:poll/00::AWSPREVIOUS:")
	f.PutSecretString("us-east-1", "poll/00", canary+"-2")
	_, want["sm:poll/00"] = f.PutSecretString("us-east-1", "poll/00", canary+"-3")
	s := awssrc.New(awssrc.Options{})
	refs := parse(t, names...)
	f.Reset()
	res := s.SecretsManager().Versions(context.Background(), refs)
	for i, ref := range refs[:21] {
		if res[i].Err != nil || res[i].Value.Version != want[ref.Raw] || len(res[i].Value.Data) != 0 {
			t.Errorf("%s: %+v, want version %s and no data", ref.Raw, res[i], want[ref.Raw])
		}
	}
	if res[21].Err != nil || res[21].Value.Version == "" || res[21].Value.Version == want["sm:poll/00"] {
		t.Errorf("AWSPREVIOUS: %+v", res[21])
	}
	c := f.Counts()
	if c["secretsmanager.BatchGetSecretValue"] != 1 || c["secretsmanager.GetSecretValue"] != 1 || c["secretsmanager.DescribeSecret"] != 1 {
		t.Errorf("calls = %v, want a batch of 20, the 21st alone as Fetch reads it, and 1 DescribeSecret (the label)", c)
	}

	// Batches denied: the region falls back to DescribeSecret for good.
	f.SetPolicy(awsfake.AccessKeyID, `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":"*"}]}`)
	denied := awssrc.New(awssrc.Options{})
	denied.SecretsManager().Versions(context.Background(), refs) // learns the denial
	f.Reset()
	res = denied.SecretsManager().Versions(context.Background(), refs)
	if res[0].Err != nil || res[0].Value.Version != want["sm:poll/00"] {
		t.Errorf("denied batches: %+v", res[0])
	}
	if c := f.Counts(); c["secretsmanager.BatchGetSecretValue"] != 0 || c["secretsmanager.DescribeSecret"] != 21 {
		t.Errorf("denied batches: calls = %v, want 21 DescribeSecret", c)
	}
}

// TestBatchOutageProbesOnce: when the batch fails on the service's side
// and so does one single read, the other secrets are not read one by one:
// an outage costs a wrapper one read's retries, not every secret's.
func TestBatchOutageProbesOnce(t *testing.T) {
	f := newFake(t)
	var refs []string
	for i := range 6 {
		name := fmt.Sprintf("down/s%d", i)
		f.PutSecretString("us-east-1", name, canary)
		refs = append(refs, "sm:"+name)
	}
	f.SetFaults("", awsfake.Faults{ServerErrFraction: 1})
	_, err := resolve(t, resolver(awssrc.Options{MaxAttempts: 3}), refs...)
	msgs := errorsOf(t, err)
	for _, ref := range refs {
		if !strings.Contains(msgs[ref], "InternalServiceError") {
			t.Errorf("%s: %q, want the service's error", ref, msgs[ref])
		}
	}
	if c := f.Counts(); c["secretsmanager.BatchGetSecretValue"] != 1 || c["secretsmanager.GetSecretValue"] != 3 {
		t.Errorf("calls = %v, want 1 batch and one single read's 3 attempts", c)
	}
}

// TestPollBatchWaitsItsTurn: a throttled poll batch is retried, not
// fanned out to a single read per secret as a start-up's is.
func TestPollBatchWaitsItsTurn(t *testing.T) {
	f := newFake(t)
	var refs []string
	for i := range 5 {
		name := fmt.Sprintf("turn/s%d", i)
		f.PutSecretString("us-east-1", name, canary)
		refs = append(refs, "sm:"+name)
	}
	// Every second batch is throttled: the first poll passes, the
	// second's first attempt is throttled.
	f.SetFaults("secretsmanager.BatchGetSecretValue", awsfake.Faults{ThrottleFraction: 0.5})
	sm := awssrc.New(awssrc.Options{}).SecretsManager()
	sm.Versions(context.Background(), parse(t, refs...))
	before := f.Counts()
	res := sm.Versions(context.Background(), parse(t, refs...))
	for i := range refs {
		if res[i].Err != nil || res[i].Value.Version == "" {
			t.Errorf("%s: %+v", refs[i], res[i])
		}
	}
	c := f.Counts()
	if n := c["secretsmanager.BatchGetSecretValue"] - before["secretsmanager.BatchGetSecretValue"]; n != 2 || c["secretsmanager.GetSecretValue"] != 0 {
		t.Errorf("%d batches, %d single reads; want the throttled batch tried again, and no single read", n, c["secretsmanager.GetSecretValue"])
	}
}
