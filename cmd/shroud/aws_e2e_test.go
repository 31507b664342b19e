//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/internal/awsfake"
)

// Values planted in the fake; noCanary scans for them too.
const (
	awsCanaryPW   = "canary-aws-pw-Rk3mW9"
	awsCanaryOld  = "canary-aws-old-Lp2Vn6"
	awsCanaryKey  = "canary-aws-key-Ty8Qd1"
	awsCanaryWest = "canary-aws-west-Hs5Jc4"
	awsCanaryPath = "canary-aws-path-Nf7Xb3"
	awsCanaryBin  = "canary-aws-bin-Wz6Ge0"
)

func init() {
	canaries = append(canaries, awsCanaryPW, awsCanaryOld, awsCanaryKey, awsCanaryWest, awsCanaryPath, awsCanaryBin)
}

// awsWorld is a fake holding the secrets of the ECS documentation's
// examples, in us-east-1 (the default region) and eu-west-1.
type awsWorld struct {
	fake                  *awsfake.Fake
	arn, v1, v2, westARN  string
	westOnlyParam, binARN string
}

func newAWSWorld(t *testing.T) *awsWorld {
	t.Helper()
	f := awsfake.New()
	t.Cleanup(f.Close)
	w := &awsWorld{fake: f}
	w.arn, w.v1 = f.PutSecretString("us-east-1", "appauthexample", `{"username1":"app-old","password":"`+awsCanaryOld+`"}`)
	_, w.v2 = f.PutSecretString("us-east-1", "appauthexample", `{"username1":"app","password":"`+awsCanaryPW+`","port":5432}`)
	f.PutSecretString("us-east-1", "prod/app-json", `{"log-level":"debug","api.key":"`+awsCanaryKey+`"}`)
	w.binARN, _ = f.PutSecretBinary("us-east-1", "prod/tls-der", []byte("\x30\x82\x00"+awsCanaryBin+"\xff"))
	f.PutParameter("us-east-1", "/prod/db/password", awsfake.SecureString, awsCanaryPW)
	f.PutParameter("us-east-1", "plainname", awsfake.String, "plain-v1")
	f.PutParameter("us-east-1", "plainname", awsfake.String, "plain-v2")
	f.LabelParameterVersion("us-east-1", "plainname", 1, "stable")
	f.PutParameter("us-east-1", "/prod/hosts", awsfake.StringList, "a.internal,b.internal")
	f.PutParameter("us-east-1", "/prod/app/feature-flag", awsfake.String, "on")
	f.PutParameter("us-east-1", "/prod/app/db/url", awsfake.SecureString, "postgres://app:"+awsCanaryPath+"@db/app")
	w.westARN, _ = f.PutSecretString("eu-west-1", "west/db", awsCanaryWest)
	f.PutParameter("eu-west-1", "/west/only", awsfake.SecureString, awsCanaryWest)
	return w
}

// env is the environment that points shroud at the fake.
func (w *awsWorld) env(extra ...string) []string {
	return append(append(w.fake.Env(), "AWS_REGION=us-east-1"), extra...)
}

// TestAWSRunAndCheckEveryReferenceForm runs shroud against the fake with
// every reference form of the ECS documentation (SSM name, hierarchical
// name, version and label selectors, SSM ARN, Secrets Manager full and
// partial ARN with json-key, version-stage and version-id), plus sm:,
// /aws/reference/secretsmanager/, a binary secret to a file and both kinds
// of [[env_from]].
func TestAWSRunAndCheckEveryReferenceForm(t *testing.T) {
	w := newAWSWorld(t)
	dir := t.TempDir()
	partial := strings.TrimSuffix(w.arn, w.arn[len(w.arn)-7:])
	bindings := [][2]string{
		{"SSM_NAME", "/prod/db/password"},
		{"SSM_PLAIN", "plainname"},
		{"SSM_VERSION", "plainname:2"},
		{"SSM_LABEL", "plainname:stable"},
		{"SSM_LIST", "/prod/hosts"},
		{"SSM_ARN", "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db/password"},
		{"SSM_PLAIN_ARN", "arn:aws:ssm:us-east-1:123456789012:parameter/plainname"},
		{"SSM_SM_REF", "/aws/reference/secretsmanager/appauthexample"},
		{"SM_ARN", w.arn},
		{"SM_KEY", w.arn + ":username1::"},
		{"SM_STAGE", w.arn + "::AWSPREVIOUS:"},
		{"SM_VERSION", w.arn + ":::" + w.v1},
		{"SM_KEY_STAGE", w.arn + ":password:AWSPREVIOUS:"},
		{"SM_KEY_VERSION", w.arn + ":port::" + w.v2},
		{"SM_PARTIAL", partial + ":password"},
		{"SM_NAME", "sm:appauthexample:username1"},
		{"SM_NAME_STAGE", "sm:appauthexample:password:AWSCURRENT:"},
		{"WEST_ARN", w.westARN},
		{"WEST_PARTIAL", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:west/db"},
		{"WEST_SSM", "arn:aws:ssm:eu-west-1:123456789012:parameter/west/only"},
	}
	var cfg strings.Builder
	cfg.WriteString("region = \"us-east-1\"\n\n[aws]\ntimeout = \"20s\"\n\n")
	for _, b := range bindings {
		fmt.Fprintf(&cfg, "[[secrets]]\nname = %q\nvalue_from = %q\n\n", b[0], b[1])
	}
	fmt.Fprintf(&cfg, "[[files]]\npath = \"run/tls.der\"\nvalue_from = %q\n\n", w.binARN)
	cfg.WriteString("[[env_from]]\npath = \"/prod/app/\"\nprefix = \"APP_\"\n\n")
	cfg.WriteString("[[env_from]]\nvalue_from = \"sm:prod/app-json\"\n")
	write(t, dir, "shroud.toml", cfg.String())

	r := shroud(t, dir, w.env(), "run", "--config", "shroud.toml", "--", "env")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	env := map[string]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	want := map[string]string{
		"SSM_NAME":         awsCanaryPW,
		"SSM_PLAIN":        "plain-v2",
		"SSM_VERSION":      "plain-v2",
		"SSM_LABEL":        "plain-v1",
		"SSM_LIST":         "a.internal,b.internal",
		"SSM_ARN":          awsCanaryPW,
		"SSM_PLAIN_ARN":    "plain-v2",
		"SSM_SM_REF":       `{"username1":"app","password":"` + awsCanaryPW + `","port":5432}`,
		"SM_ARN":           `{"username1":"app","password":"` + awsCanaryPW + `","port":5432}`,
		"SM_KEY":           "app",
		"SM_STAGE":         `{"username1":"app-old","password":"` + awsCanaryOld + `"}`,
		"SM_VERSION":       `{"username1":"app-old","password":"` + awsCanaryOld + `"}`,
		"SM_KEY_STAGE":     awsCanaryOld,
		"SM_KEY_VERSION":   "5432",
		"SM_PARTIAL":       awsCanaryPW,
		"SM_NAME":          "app",
		"SM_NAME_STAGE":    awsCanaryPW,
		"WEST_ARN":         awsCanaryWest,
		"WEST_PARTIAL":     awsCanaryWest,
		"WEST_SSM":         awsCanaryWest,
		"APP_FEATURE_FLAG": "on",
		"APP_DB_URL":       "postgres://app:" + awsCanaryPath + "@db/app",
		"LOG_LEVEL":        "debug",
		"API_KEY":          awsCanaryKey,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	der, err := os.ReadFile(filepath.Join(dir, "run", "tls.der"))
	if err != nil || string(der) != "\x30\x82\x00"+awsCanaryBin+"\xff" {
		t.Errorf("binary secret file = %q, %v", der, err)
	}
	noCanary(t, "run stderr", r.stderr)

	// Another region's ARN reached that region's store; one fetch per
	// secret however many keys select from it.
	byRegion := map[string]int{}
	for _, c := range w.fake.Calls() {
		byRegion[c.Region]++
	}
	if byRegion["eu-west-1"] == 0 {
		t.Errorf("no call reached eu-west-1: %v", byRegion)
	}
	counts := w.fake.Counts()
	t.Logf("calls: %v", counts)
	if counts["AmazonSSM.GetParameters"] != 3 { // us-east-1: 8 names, but plainname twice (name and ARN); eu-west-1: 1
		t.Errorf("GetParameters calls = %d, want 3", counts["AmazonSSM.GetParameters"])
	}

	// check: the same references, a table with backends, regions and
	// versions, never a value.
	w.fake.Reset()
	c := shroud(t, dir, w.env(), "check", "--config", "shroud.toml")
	if c.code != 0 {
		t.Fatalf("check: exit %d\n%s\n%s", c.code, c.stdout, c.stderr)
	}
	rows := strings.Split(strings.TrimSpace(c.stdout), "\n")
	if len(rows) != 1+len(bindings)+1+2 {
		t.Errorf("check printed %d rows, want a header and %d:\n%s", len(rows), len(bindings)+3, c.stdout)
	}
	for _, want := range []string{
		"env SM_VERSION", "secretsmanager  us-east-1  " + w.v1 + "  ok",
		"env WEST_SSM", "ssm             eu-west-1",
		"env_from APP_*", "/prod/app/", "ssm-path", "env_from *",
	} {
		if !strings.Contains(c.stdout, want) {
			t.Errorf("check lacks %q:\n%s", want, c.stdout)
		}
	}
	noCanary(t, "check", c.stdout, c.stderr)
}

// TestAWSNameInAnotherRegion: a name resolves in the default region only;
// the error says which region was searched and that the full ARN is the
// way to another region.
func TestAWSNameInAnotherRegion(t *testing.T) {
	w := newAWSWorld(t)
	dir := t.TempDir()
	write(t, dir, "shroud.toml", `
[[secrets]]
name = "A"
value_from = "/west/only"
[[secrets]]
name = "B"
value_from = "sm:west/db"
`)
	marker := filepath.Join(dir, "child-ran")
	r := shroud(t, dir, w.env(), "run", "--config", "shroud.toml", "--", "touch", marker)
	c := shroud(t, dir, w.env(), "check", "--config", "shroud.toml")
	for _, res := range []result{r, c} {
		for _, want := range []string{
			"2 problems",
			`reference "/west/only" (ssm, us-east-1): GetParameters: ParameterNotFound: parameter /west/only not found in us-east-1, the default region; a name resolves in the default region only; a reference to another region needs the full ARN`,
			`reference "sm:west/db" (secretsmanager, us-east-1): GetSecretValue: ResourceNotFoundException: secret west/db not found in us-east-1, the default region`,
		} {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
			}
		}
		noCanary(t, "stderr", res.stdout, res.stderr)
	}
	if r.code != 125 || c.code != 1 {
		t.Errorf("run exit %d (want 125), check exit %d (want 1)", r.code, c.code)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the child ran although resolution failed")
	}
	// --region moves the default region: now the names resolve.
	r = shroud(t, dir, w.env(), "run", "--region", "eu-west-1", "--config", "shroud.toml", "--", "sh", "-c", `test "$A" = "$B" && echo same`)
	if r.code != 0 || r.stdout != "same\n" {
		t.Errorf("--region eu-west-1: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
}

// TestAWSFaults: start-up rides out throttling, fails clearly on a dead
// service within the deadline, and refuses a wrong key.
func TestAWSFaults(t *testing.T) {
	w := newAWSWorld(t)
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("[aws]\ntimeout = \"20s\"\n")
	for i := range 12 {
		name := fmt.Sprintf("/fleet/p%02d", i)
		w.fake.PutParameter("us-east-1", name, awsfake.SecureString, awsCanaryPW)
		w.fake.PutSecretString("us-east-1", fmt.Sprintf("fleet/s%02d", i), awsCanaryPW)
		fmt.Fprintf(&cfg, "[[secrets]]\nname = \"P%02d\"\nvalue_from = %q\n", i, name)
		fmt.Fprintf(&cfg, "[[secrets]]\nname = \"S%02d\"\nvalue_from = \"sm:fleet/s%02d\"\n", i, i)
	}
	write(t, dir, "shroud.toml", cfg.String())

	w.fake.SetFaults("", awsfake.Faults{ThrottleFraction: 0.5})
	r := shroud(t, dir, w.env(), "run", "--config", "shroud.toml", "--", "sh", "-c", `test "$P11" = "$S00" && echo ok`)
	throttled := 0
	for _, c := range w.fake.Calls() {
		if c.Code == "ThrottlingException" {
			throttled++
		}
	}
	if r.code != 0 || r.stdout != "ok\n" || throttled == 0 {
		t.Fatalf("50%% throttled: exit %d stdout %q, %d calls throttled\n%s", r.code, r.stdout, throttled, r.stderr)
	}
	t.Logf("50%% throttling: %d calls, %d throttled", len(w.fake.Calls()), throttled)

	w.fake.SetFaults("", awsfake.Faults{ServerErrFraction: 1})
	start := time.Now()
	r = shroud(t, dir, w.env("AWS_MAX_ATTEMPTS=3"), "run", "--config", "shroud.toml", "--", "true")
	took := time.Since(start)
	if r.code != 125 || !strings.Contains(r.stderr, "24 problems") ||
		!strings.Contains(r.stderr, `reference "/fleet/p00" (ssm, us-east-1): GetParameters: InternalServerError: An internal error occurred (injected by the fake) (after 3 attempts)`) ||
		!strings.Contains(r.stderr, `reference "sm:fleet/s00" (secretsmanager, us-east-1): GetSecretValue: InternalServiceError`) {
		t.Errorf("100%% 5xx: exit %d\n%s", r.code, r.stderr)
	}
	if took > 20*time.Second {
		t.Errorf("100%% 5xx took %v, past the 20s deadline", took)
	}
	t.Logf("100%% 5xx: failed in %v", took)

	// Calls that never answer: the deadline ([aws] timeout) ends it, clearly.
	write(t, dir, "short.toml", "[aws]\ntimeout = \"2s\"\ncall_timeout = \"500ms\"\n[[secrets]]\nname = \"P\"\nvalue_from = \"/fleet/p00\"\n")
	w.fake.SetFaults("", awsfake.Faults{HangFraction: 1})
	r = shroud(t, dir, w.env(), "run", "--config", "short.toml", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "GetParameters: no answer within the deadline of 2s ([aws] timeout)") || !strings.Contains(r.stderr, "no answer within the call timeout of 500ms") {
		t.Errorf("hung: exit %d\n%s", r.code, r.stderr)
	}

	w.fake.SetFaults("", awsfake.Faults{})
	r = shroud(t, dir, w.env("AWS_SECRET_ACCESS_KEY=wrong"), "check", "--config", "short.toml")
	if r.code != 1 || !strings.Contains(r.stderr, "InvalidSignatureException") {
		t.Errorf("wrong key: exit %d\n%s", r.code, r.stderr)
	}
	noCanary(t, "stderr", r.stderr)
}

// TestAWSAssumeRole: with [aws] role_arn, shroud assumes the role only to
// fetch secrets; the child keeps the wrapper's own credentials.
func TestAWSAssumeRole(t *testing.T) {
	w := newAWSWorld(t)
	const role = "arn:aws:iam::123456789012:role/app-secrets-reader"
	w.fake.AllowRole(role, "ext-7")
	dir := t.TempDir()
	write(t, dir, "shroud.toml", `
[aws]
role_arn = "arn:aws:iam::123456789012:role/app-secrets-reader"
external_id = "ext-7"
session_name = "shroud-e2e"

[[secrets]]
name = "PW"
value_from = "sm:appauthexample:password"
`)
	r := shroud(t, dir, w.env(), "run", "--config", "shroud.toml", "--", "sh", "-c", `test "$PW" = `+awsCanaryPW+` && echo "$AWS_ACCESS_KEY_ID"`)
	if r.code != 0 || r.stdout != awsfake.AccessKeyID+"\n" {
		t.Fatalf("exit %d stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	var principals []string
	for _, c := range w.fake.Calls() {
		principals = append(principals, c.API+" by "+c.Principal)
	}
	sort.Strings(principals)
	want := []string{"secretsmanager.GetSecretValue by " + role, "sts.AssumeRole by user"}
	if strings.Join(principals, "|") != strings.Join(want, "|") {
		t.Errorf("calls = %q, want %q", principals, want)
	}
}

// TestAWSOtherCommands: get, --env-refs and an ECS task definition reach
// AWS too.
func TestAWSOtherCommands(t *testing.T) {
	w := newAWSWorld(t)
	dir := t.TempDir()
	r := shroud(t, dir, w.env(), "get", "plainname:stable")
	if r.code != 0 || r.stdout != "plain-v1" {
		t.Errorf("get: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = shroud(t, dir, w.env("DB_PW=sm:appauthexample:password", "WEST="+w.westARN), "run", "--env-refs", "--",
		"sh", "-c", `test "$DB_PW" = `+awsCanaryPW+` && test "$WEST" = `+awsCanaryWest+` && echo ok`)
	if r.code != 0 || r.stdout != "ok\n" {
		t.Errorf("--env-refs: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	write(t, dir, "task.json", `{"containerDefinitions":[{"name":"app","secrets":[
	  {"name":"PW","valueFrom":"`+w.arn+`:password::"},
	  {"name":"HOSTS","valueFrom":"/prod/hosts"}]}]}`)
	r = shroud(t, dir, w.env(), "run", "--ecs-task-definition", "task.json", "--", "sh", "-c", `test "$PW" = `+awsCanaryPW+` && echo "$HOSTS"`)
	if r.code != 0 || r.stdout != "a.internal,b.internal\n" {
		t.Errorf("ECS: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	noCanary(t, "stderr", r.stderr)
}

// TestDebugLogShowsPlan: --log-level debug logs, once per backend, how the
// references will be fetched: how many, how many distinct objects, and
// the calls by region, which are the calls then made. No value, no
// reference.
func TestDebugLogShowsPlan(t *testing.T) {
	w := newAWSWorld(t)
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("region = \"us-east-1\"\n")
	bind := func(name, ref string) { fmt.Fprintf(&cfg, "[[secrets]]\nname = %q\nvalue_from = %q\n", name, ref) }
	for i := range 12 {
		name := fmt.Sprintf("/plan/p%02d", i)
		w.fake.PutParameter("us-east-1", name, awsfake.SecureString, awsCanaryPW)
		bind(fmt.Sprintf("P%02d", i), name)
	}
	w.fake.PutSecretString("us-east-1", "plan/b", awsCanaryKey)
	bind("USER", "sm:appauthexample:username1")
	bind("PASSWORD", "sm:appauthexample:password") // the same secret: one object
	bind("KEY", "sm:prod/app-json:api.key")
	bind("B", "sm:plan/b")
	bind("WEST", w.westARN)
	bind("LOCAL", "file:local.txt")
	write(t, dir, "local.txt", "canary-e2e-Vb5nR8")
	write(t, dir, "shroud.toml", cfg.String())
	w.fake.Reset()
	r := shroud(t, dir, w.env(), "check", "--log-level", "debug", "--config", "shroud.toml")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		`msg=plan backend=ssm references=12 objects=12 calls="2 GetParameters in us-east-1"`,
		`msg=plan backend=secretsmanager references=5 objects=4 calls="1 BatchGetSecretValue in us-east-1, 1 GetSecretValue in eu-west-1"`,
		`msg=plan backend=file references=1 objects=1` + "\n",
	} {
		if strings.Count(r.stderr, want) != 1 {
			t.Errorf("want once: %s\n%s", want, r.stderr)
		}
	}
	if n := strings.Count(r.stderr, "msg=plan "); n != 3 {
		t.Errorf("%d plan lines, want 3", n)
	}
	got := w.fake.Counts()
	if got["AmazonSSM.GetParameters"] != 2 || got["secretsmanager.BatchGetSecretValue"] != 1 || got["secretsmanager.GetSecretValue"] != 1 {
		t.Errorf("the calls made differ from the plan: %v", got)
	}
	noCanary(t, "debug log", r.stderr)
	if strings.Contains(r.stderr, "appauthexample") {
		t.Errorf("the plan names a reference:\n%s", r.stderr)
	}
}
