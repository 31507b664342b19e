//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/internal/kmsfake"
)

// The end-to-end tests below run the real binary, which talks through the
// real Alibaba SDK to an in-process fake of KMS, STS and the ECS metadata
// service over loopback.

const (
	kmsAccount = "1234567890123456"
	kmsAKID    = "LTAIe2eKeyId0001"
	kmsAKSec   = "e2e-access-key-secret"
)

// Secret values planted in the fake; none may appear in shroud's
// diagnostics or in check's table.
var kmsCanaries = []string{
	"canary-kms-dbA-4Tq9", "canary-kms-dbB-8Lx2", "canary-kms-api-Qe3r", "canary-kms-remote-Zu7p",
	"canary-kms-ram-Wm5s", "canary-kms-ssh-Hd6v", "canary-kms-bin-Ny1k",
}

func noKMSCanary(t *testing.T, what string, texts ...string) {
	t.Helper()
	noCanary(t, what, texts...)
	for _, text := range texts {
		for _, c := range kmsCanaries {
			if strings.Contains(text, c) {
				t.Errorf("%s leaks a secret value (%s):\n%s", what, c, text)
			}
		}
	}
}

// kmsCloud starts a fake with the secrets of the tests below.
func kmsCloud(t *testing.T) *kmsfake.Server {
	t.Helper()
	fake, err := kmsfake.New("cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	fake.AddAccessKey(kmsAKID, kmsAKSec)
	c := kmsCanaries
	fake.Put("cn-hangzhou", "prod/db", []byte(`{"AccountName":"app_a","AccountPassword":"`+c[0]+`"}`), kmsfake.WithType(kmsfake.TypeRds, "DoubleUsers"))
	fake.Put("cn-hangzhou", "prod/db", []byte(`{"AccountName":"app_b","AccountPassword":"`+c[1]+`"}`))
	fake.Put("cn-hangzhou", "prod/api-key", []byte(c[2]))
	fake.Put("cn-shanghai", "shared/token", []byte(c[3]))
	fake.Put("cn-hangzhou", "acs/ram/user/app", []byte(`{"AccessKeyId":"LTAIchildKey","AccessKeySecret":"`+c[4]+`","GenerateTimestamp":"2026-11-01 08:00:00"}`), kmsfake.WithType(kmsfake.TypeRAM, "RamUserAccessKey"))
	fake.Put("cn-hangzhou", "acs/ecs/i-bp1example/root", []byte(`{"UserName":"root","PublicKey":"ssh-ed25519 AAAAC3Nz root","PrivateKey":"-----BEGIN OPENSSH PRIVATE KEY-----\n`+c[5]+`\n-----END OPENSSH PRIVATE KEY-----\n"}`), kmsfake.WithType(kmsfake.TypeECS, "SSHKey"))
	fake.Put("cn-hangzhou", "prod/keystore", kmsBinary(), kmsfake.Binary())
	fake.Put("cn-hangzhou", "acs/ecs/i-big/root", bytes.Repeat([]byte("x"), 30721), kmsfake.WithType(kmsfake.TypeECS, "Password"))
	fake.Put("cn-hangzhou", "prod/locked", []byte(c[2]))
	fake.Deny("cn-hangzhou", "prod/locked")
	return fake
}

func kmsBinary() []byte { return append([]byte{0, 0xff, 0xfe, '\n'}, []byte(kmsCanaries[6])...) }

// kmsConfig writes a config that reaches the fake: the default region at
// its URL, cn-shanghai at another port.
func kmsConfig(t *testing.T, dir string, fake *kmsfake.Server, alibaba, rest string) {
	t.Helper()
	write(t, dir, "shroud.toml", fmt.Sprintf(`
[alibaba]
region = "cn-hangzhou"
endpoint = %q
%s

[alibaba.endpoints]
cn-shanghai = %q
%s`, fake.URL(), alibaba, fake.RegionURL("cn-shanghai"), rest))
}

// envAK is the environment AccessKey, the first link of the default chain.
var envAK = []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + kmsAKID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + kmsAKSec}

const kmsBindings = `
[[secrets]]
name = "DB_USER"
value_from = "kms:prod/db:AccountName"
[[secrets]]
name = "DB_PASSWORD"
value_from = "kms:prod/db:AccountPassword"
[[secrets]]
name = "DB_PREVIOUS_USER"
value_from = "kms:prod/db:AccountName:ACSPrevious"
[[secrets]]
name = "DB_PREVIOUS_PASSWORD"
value_from = "kms:prod/db:AccountPassword:ACSPrevious:"
[[secrets]]
name = "DB_PINNED_USER"
value_from = "kms:prod/db:AccountName::v1"
[[secrets]]
name = "API_KEY"
value_from = "acs:kms:cn-hangzhou:1234567890123456:secret/prod/api-key"
[[secrets]]
name = "REMOTE_TOKEN"
value_from = "acs:kms:cn-shanghai:1234567890123456:secret/shared/token"
[[secrets]]
name = "ALIBABA_CLOUD_ACCESS_KEY_ID"
value_from = "kms:acs/ram/user/app:AccessKeyId"
[[secrets]]
name = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
value_from = "acs:kms:cn-hangzhou:1234567890123456:secret/acs/ram/user/app:AccessKeySecret"

[[files]]
path = "run/keystore.bin"
value_from = "kms:prod/keystore"
[[files]]
path = "run/ssh/id_ed25519"
value_from = "kms:acs/ecs/i-bp1example/root:PrivateKey"
mode = "0600"
`

// TestKMSRun resolves every reference form through the real SDK: a name,
// json keys, ACSPrevious, a pinned version id, an ARN, a cross-region ARN,
// a RAM credential split into the child's two AccessKey variables, a binary
// value into a file and an SSH private key into a 0600 file.
func TestKMSRun(t *testing.T) {
	fake := kmsCloud(t)
	dir := t.TempDir()
	kmsConfig(t, dir, fake, "", kmsBindings)
	r := shroud(t, dir, envAK, "run", "--config", "shroud.toml", "--", "sh", "-c", `env -0 > child.env`)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	noKMSCanary(t, "run", r.stdout, r.stderr)
	env := readEnv(t, filepath.Join(dir, "child.env"))
	c := kmsCanaries
	for name, want := range map[string]string{
		"DB_USER":                         "app_b",
		"DB_PASSWORD":                     c[1],
		"DB_PREVIOUS_USER":                "app_a",
		"DB_PREVIOUS_PASSWORD":            c[0],
		"DB_PINNED_USER":                  "app_a",
		"API_KEY":                         c[2],
		"REMOTE_TOKEN":                    c[3],
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     "LTAIchildKey", // the secret's, not shroud's own
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": c[4],
	} {
		if env[name] != want {
			t.Errorf("child %s = %q, want %q", name, env[name], want)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "run/keystore.bin")); !bytes.Equal(data, kmsBinary()) {
		t.Errorf("keystore.bin = %q, want the binary value byte for byte", data)
	}
	key := filepath.Join(dir, "run/ssh/id_ed25519")
	info, err := os.Stat(key)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("ssh key: %v, %v; want mode 0600", info, err)
	}
	if data, _ := os.ReadFile(key); !strings.HasPrefix(string(data), "-----BEGIN OPENSSH PRIVATE KEY-----\n"+c[5]) {
		t.Errorf("ssh key = %q", data)
	}
	// One call per object: prod/db current, previous and v1, the RAM secret
	// once for its two keys, and five more objects.
	if n := fake.Calls("GetSecretValue"); n != 9 {
		t.Errorf("%d GetSecretValue calls, want 9", n)
	}
}

// TestKMSCheck prints where each value comes from: backend, region and
// version id, never a value.
func TestKMSCheck(t *testing.T) {
	fake := kmsCloud(t)
	dir := t.TempDir()
	kmsConfig(t, dir, fake, "", kmsBindings)
	r := shroud(t, dir, envAK, "check", "--config", "shroud.toml")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	noKMSCanary(t, "check", r.stdout, r.stderr)
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		f := strings.Fields(line)
		rows[f[0]+" "+f[1]] = f[2:]
	}
	for target, want := range map[string]string{
		"env DB_PASSWORD":                                "kms:prod/db:AccountPassword kms cn-hangzhou v2 ok",
		"env DB_PREVIOUS_PASSWORD":                       "kms:prod/db:AccountPassword:ACSPrevious: kms cn-hangzhou v1 ok",
		"env DB_PINNED_USER":                             "kms:prod/db:AccountName::v1 kms cn-hangzhou v1 ok",
		"env REMOTE_TOKEN":                               "acs:kms:cn-shanghai:1234567890123456:secret/shared/token kms cn-shanghai v1 ok",
		"file " + filepath.Join(dir, "run/keystore.bin"): "kms:prod/keystore kms cn-hangzhou v1 ok",
	} {
		if got := strings.Join(rows[target], " "); got != want {
			t.Errorf("check row %q = %q, want %q\n%s", target, got, want, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); err == nil {
		t.Error("check wrote files")
	}
}

// TestKMSInstanceEndpoint: a KMS instance endpoint over HTTPS, trusted
// through ca_file (relative to the config) and nothing else.
func TestKMSInstanceEndpoint(t *testing.T) {
	fake := kmsCloud(t)
	dir := t.TempDir()
	if _, err := fake.CAFile(dir); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "shroud.toml", fmt.Sprintf(`[alibaba]
region = "cn-hangzhou"
endpoint = %q
ca_file = "kmsfake-ca.pem"
credentials = "env"
[[secrets]]
name = "DB_USER"
value_from = "kms:prod/db:AccountName"
`, fake.TLSURL()))
	r := shroud(t, dir, envAK, "check", "--config", "shroud.toml")
	if r.code != 0 || !strings.Contains(r.stdout, "kms:prod/db:AccountName  kms      cn-hangzhou  v2") {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Without the CA the instance's certificate is refused.
	write(t, dir, "shroud.toml", strings.Replace(readFile(t, filepath.Join(dir, "shroud.toml")), "ca_file", "# ca_file", 1))
	r = shroud(t, dir, envAK, "check", "--config", "shroud.toml")
	if r.code != 1 || !strings.Contains(r.stderr, "certificate signed by unknown authority") {
		t.Fatalf("without ca_file: exit %d: %s", r.code, r.stderr)
	}
	noKMSCanary(t, "instance", r.stdout, r.stderr)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestKMSErrors: every failure at once, each with reference, backend,
// region and the API's code; exit 125 from run with no child and no file.
func TestKMSErrors(t *testing.T) {
	fake := kmsCloud(t)
	dir := t.TempDir()
	kmsConfig(t, dir, fake, "", `
[[secrets]]
name = "MISSING"
value_from = "kms:prod/nope"
[[secrets]]
name = "ELSEWHERE"
value_from = "kms:shared/token"
[[secrets]]
name = "LOCKED"
value_from = "kms:prod/locked"
[[secrets]]
name = "NO_KEY"
value_from = "kms:prod/db:Password"
[[secrets]]
name = "BINARY"
value_from = "kms:prod/keystore"
[[secrets]]
name = "OK"
value_from = "kms:prod/api-key"
[[files]]
path = "run/big"
value_from = "kms:acs/ecs/i-big/root"
`)
	marker := filepath.Join(dir, "child-ran")
	r := shroud(t, dir, envAK, "run", "--config", "shroud.toml", "--", "touch", marker)
	c := shroud(t, dir, envAK, "check", "--config", "shroud.toml")
	if r.code != 125 || c.code != 1 {
		t.Fatalf("run exit %d, check exit %d; want 125 and 1:\n%s", r.code, c.code, r.stderr)
	}
	for _, want := range []string{
		"6 problems", // five references, and the binary value bound to an env var
		`the value of "kms:prod/keystore" for BINARY is binary`,
		`reference "kms:prod/nope" (kms, cn-hangzhou): KMS GetSecretValue: Forbidden.ResourceNotFound (HTTP 404)`,
		`the secret prod/nope does not exist in region cn-hangzhou; a kms: name is looked up in the default region only: for a secret in another region or account, use its full ARN acs:kms:REGION:ACCOUNT:secret/NAME`,
		`reference "kms:shared/token" (kms, cn-hangzhou): KMS GetSecretValue: Forbidden.ResourceNotFound`,
		`reference "kms:prod/locked" (kms, cn-hangzhou): KMS GetSecretValue: Forbidden.NoPermission (HTTP 403)`,
		`reference "kms:prod/db:Password" (kms, cn-hangzhou): key "Password" not found; the json object has keys "AccountName", "AccountPassword"`,
		`reference "kms:acs/ecs/i-big/root" (kms, cn-hangzhou): the ECS secret (Password) value is 30721 bytes, over KMS's limit of 30720 bytes for ECS secrets`,
	} {
		if !strings.Contains(r.stderr, want) || !strings.Contains(c.stderr, want) {
			t.Errorf("stderr lacks %q:\nrun: %s\ncheck: %s", want, r.stderr, c.stderr)
		}
	}
	// The binary value is fine for a file, not for an env var.
	if !strings.Contains(c.stdout, "env BINARY") {
		t.Errorf("check table:\n%s", c.stdout)
	}
	for _, p := range []string{marker, filepath.Join(dir, "run")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists although resolution failed", p)
		}
	}
	noKMSCanary(t, "errors", r.stdout, r.stderr, c.stdout, c.stderr)
	for _, args := range [][]string{
		{"--log-level", "debug", "--log-format", "json", "run", "--config", "shroud.toml", "--", "true"},
		{"--log-level", "debug", "render", "--config", "shroud.toml"},
	} {
		r := shroud(t, dir, envAK, args...)
		if r.code == 0 {
			t.Errorf("shroud %v succeeded", args)
		}
		noKMSCanary(t, fmt.Sprint(args), r.stdout, r.stderr)
	}

	// No default region anywhere: the error says where to set one.
	write(t, dir, "noregion.toml", "[[secrets]]\nname = \"X\"\nvalue_from = \"kms:prod/db\"\n")
	r = shroud(t, dir, envAK, "check", "--config", "noregion.toml")
	if r.code != 1 || !strings.Contains(r.stderr, "no default Alibaba Cloud region for kms: names: set [alibaba] region in the config or ALIBABA_CLOUD_REGION_ID") {
		t.Errorf("no region: exit %d: %s", r.code, r.stderr)
	}
}

// TestKMSThrottlingRetried: throttled and 5xx answers are retried.
func TestKMSThrottlingRetried(t *testing.T) {
	fake := kmsCloud(t)
	dir := t.TempDir()
	kmsConfig(t, dir, fake, "", "[[secrets]]\nname = \"K\"\nvalue_from = \"kms:prod/api-key\"\n")
	fake.ThrottleNext(2)
	fake.FailNext(500)
	r := shroud(t, dir, envAK, "check", "--config", "shroud.toml")
	if r.code != 0 || fake.Calls("GetSecretValue") != 4 {
		t.Fatalf("exit %d after %d calls: %s", r.code, fake.Calls("GetSecretValue"), r.stderr)
	}
}

// TestKMSRRSA: in an ACK pod with RRSA, the default chain exchanges the
// service account token for STS credentials. The token file rotates between
// two runs; the second exchange must carry the new token. STS is reached at
// its real name, sts.aliyuncs.com, through the fake acting as the HTTPS
// proxy, with a certificate from the fake's CA.
func TestKMSRRSA(t *testing.T) {
	fake := kmsCloud(t)
	dir := t.TempDir()
	ca, err := fake.CAFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	const role, provider = "acs:ram::1234567890123456:role/app", "acs:ram::1234567890123456:oidc-provider/ack-rrsa-c1"
	fake.AddOIDCRole(role, provider)
	fake.AcceptOIDCToken("jwt-one")
	fake.AcceptOIDCToken("jwt-two")
	kmsConfig(t, dir, fake, "", "[[secrets]]\nname = \"DB_PASSWORD\"\nvalue_from = \"kms:prod/db:AccountPassword\"\n")
	token := write(t, dir, "token", "jwt-one")
	env := []string{
		"ALIBABA_CLOUD_ROLE_ARN=" + role, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN=" + provider, "ALIBABA_CLOUD_OIDC_TOKEN_FILE=" + token,
		"HTTPS_PROXY=" + fake.URL(), "SSL_CERT_FILE=" + ca,
	}
	r := shroud(t, dir, env, "check", "--config", "shroud.toml")
	if r.code != 0 {
		t.Fatalf("first: exit %d: %s", r.code, r.stderr)
	}
	write(t, dir, "token", "jwt-two")
	r = shroud(t, dir, env, "run", "--config", "shroud.toml", "--", "sh", "-c", `test -n "$DB_PASSWORD"`)
	if r.code != 0 {
		t.Fatalf("second: exit %d: %s", r.code, r.stderr)
	}
	if got := fake.OIDCTokens(); !slices.Equal(got, []string{"jwt-one", "jwt-two"}) {
		t.Fatalf("STS received %q, want the token before and after the rotation", got)
	}
	noKMSCanary(t, "rrsa", r.stderr)

	// Explicitly selected, with the STS endpoint in the config.
	u, _ := url.Parse(fake.TLSURL())
	kmsConfig(t, dir, fake, fmt.Sprintf("credentials = %q\nsts_endpoint = %q", "rrsa", u.Host), "[[secrets]]\nname = \"K\"\nvalue_from = \"kms:prod/api-key\"\n")
	explicit := append(env[:3:3], "SSL_CERT_FILE="+ca)
	r = shroud(t, dir, explicit, "check", "--config", "shroud.toml")
	if r.code != 0 || fake.Calls("AssumeRoleWithOIDC") != 3 {
		t.Fatalf("explicit rrsa: exit %d, %d exchanges: %s", r.code, fake.Calls("AssumeRoleWithOIDC"), r.stderr)
	}
	// Without the CA, the STS endpoint's certificate is refused.
	r = shroud(t, dir, env[:3], "check", "--config", "shroud.toml")
	if r.code != 1 || !strings.Contains(r.stderr, "getting Alibaba Cloud credentials (rrsa):") || !strings.Contains(r.stderr, "certificate signed by unknown authority") {
		t.Fatalf("untrusted STS: exit %d: %s", r.code, r.stderr)
	}
}

// TestKMSECSRAMRole: on ECS, the default chain asks the instance metadata
// service at 100.100.100.200 (reached here through the fake as HTTP proxy)
// for the instance RAM role's credentials, in IMDSv2 mode.
func TestKMSECSRAMRole(t *testing.T) {
	fake := kmsCloud(t)
	fake.SetInstanceRole("shroud-reader")
	fake.SetSTSDuration(time.Hour)
	dir := t.TempDir()
	kmsConfig(t, dir, fake, "", "[[secrets]]\nname = \"K\"\nvalue_from = \"kms:prod/api-key\"\n")
	r := shroud(t, dir, []string{"HTTP_PROXY=" + fake.URL()}, "check", "--config", "shroud.toml")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if fake.Calls("metadata:token") == 0 || fake.Calls("metadata:role") == 0 || fake.Calls("metadata:credentials") == 0 {
		t.Fatalf("metadata calls: token %d, role %d, credentials %d", fake.Calls("metadata:token"), fake.Calls("metadata:role"), fake.Calls("metadata:credentials"))
	}
	// Selected explicitly with the role's name: the role is not looked up.
	kmsConfig(t, dir, fake, `credentials = "ecs_ram_role"`+"\n"+`ecs_role_name = "shroud-reader"`, "[[secrets]]\nname = \"K\"\nvalue_from = \"kms:prod/api-key\"\n")
	roles := fake.Calls("metadata:role")
	r = shroud(t, dir, []string{"HTTP_PROXY=" + fake.URL()}, "check", "--config", "shroud.toml")
	if r.code != 0 || fake.Calls("metadata:role") != roles {
		t.Fatalf("explicit: exit %d, role lookups %d -> %d: %s", r.code, roles, fake.Calls("metadata:role"), r.stderr)
	}
	noKMSCanary(t, "ecs", r.stdout, r.stderr)

	// Not on ECS and no other credentials: one clear error per reference.
	fake.SetInstanceRole("")
	r = shroud(t, dir, []string{"HTTP_PROXY=" + fake.URL()}, "check", "--config", "shroud.toml")
	if r.code != 1 || !strings.Contains(r.stderr, `reference "kms:prod/api-key" (kms, cn-hangzhou): getting Alibaba Cloud credentials (ecs_ram_role):`) {
		t.Fatalf("no role: exit %d: %s", r.code, r.stderr)
	}
}

// TestKMSEnvRefs: --env-refs replaces a kms: reference in the wrapper's
// environment.
func TestKMSEnvRefs(t *testing.T) {
	fake := kmsCloud(t)
	dir := t.TempDir()
	kmsConfig(t, dir, fake, "", "")
	env := append([]string{"DB_USER=kms:prod/db:AccountName", "TOKEN=acs:kms:cn-shanghai:1234567890123456:secret/shared/token"}, envAK...)
	r := shroud(t, dir, env, "run", "--config", "shroud.toml", "--env-refs", "--", "sh", "-c", `env -0 > child.env`)
	if r.code != 0 {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	got := readEnv(t, filepath.Join(dir, "child.env"))
	if got["DB_USER"] != "app_b" || got["TOKEN"] != kmsCanaries[3] {
		t.Fatalf("child env DB_USER %q, TOKEN matches: %v", got["DB_USER"], got["TOKEN"] == kmsCanaries[3])
	}
}

// readEnv parses `env -0` output.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(data), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// TestKMSDebugEnvHidden: DEBUG=tea (and dara, credential) turns on the
// Alibaba SDK's request tracing, which prints every request header to
// stdout, the STS security token among them. shroud keeps it off, and the
// child still gets DEBUG as shroud was given it.
func TestKMSDebugEnvHidden(t *testing.T) {
	fake := kmsCloud(t)
	const id, secret, token = "STS.debugKeyId", "debug-sts-secret-Uq3v", "debug-sts-token-Mx8c"
	fake.AddSTSToken(id, secret, token, time.Hour)
	dir := t.TempDir()
	kmsConfig(t, dir, fake, "", "[[secrets]]\nname = \"API_KEY\"\nvalue_from = \"kms:prod/api-key\"\n")
	const debug = "tea,dara,credential,sdk"
	env := []string{"DEBUG=" + debug, "ALIBABA_CLOUD_ACCESS_KEY_ID=" + id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + secret, "ALIBABA_CLOUD_SECURITY_TOKEN=" + token}
	r := shroud(t, dir, env, "run", "--config", "shroud.toml", "--", "sh", "-c", `echo "debug=$DEBUG key=${#API_KEY}"`)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if want := fmt.Sprintf("debug=%s key=%d\n", debug, len(kmsCanaries[2])); r.stdout != want {
		t.Errorf("stdout = %q, want only the child's %q", r.stdout, want)
	}
	for _, text := range []string{r.stdout, r.stderr} {
		if strings.Contains(text, token) || strings.Contains(text, secret) {
			t.Errorf("a credential is shown:\n%s", text)
		}
	}
	noKMSCanary(t, "run with DEBUG", r.stdout, r.stderr)
}
