//go:build linux

package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/internal/awsfake"
)

// getAsRun runs shroud get REF with args, and shroud run with the same
// args and REF bound to an env var, and returns both values, failing the
// test unless both succeed.
func getAsRun(t *testing.T, dir string, env []string, ref string, args ...string) (got, ran string) {
	t.Helper()
	g := shroud(t, dir, env, append(append([]string{"get"}, args...), ref)...)
	r := shroud(t, dir, env, append(append([]string{"run"}, args...), "--secret", "V="+ref, "--", "sh", "-c", `printf %s "$V"`)...)
	if g.code != 0 || r.code != 0 {
		t.Fatalf("get %s: exit %d: %s\nrun: exit %d: %s", ref, g.code, g.stderr, r.code, r.stderr)
	}
	return g.stdout, r.stdout
}

// TestGetResolvesAsRun: shroud get --config resolves exactly as run does
// with that config: [aws] role_arn (the role's principal makes the call),
// [aws] profile (its credentials sign it), and [alibaba] region, endpoint
// over HTTPS trusted by ca_file, and credentials. Without the config, the
// same get fails: the config is what made it work.
func TestGetResolvesAsRun(t *testing.T) {
	t.Run("aws role_arn", func(t *testing.T) {
		w := newAWSWorld(t)
		const role = "arn:aws:iam::123456789012:role/get-reader"
		w.fake.AllowRole(role, "ext-9")
		dir := t.TempDir()
		write(t, dir, "shroud.toml", "[aws]\nrole_arn = \""+role+"\"\nexternal_id = \"ext-9\"\n")
		w.fake.Reset()
		got, ran := getAsRun(t, dir, w.env(), "sm:appauthexample:password", "--config", "shroud.toml")
		if got != awsCanaryPW || ran != got {
			t.Fatalf("get %q, run %q", got, ran)
		}
		for _, c := range w.fake.Calls() {
			if strings.HasPrefix(c.API, "secretsmanager.") && c.Principal != role {
				t.Errorf("%s made by %s, not the role", c.API, c.Principal)
			}
		}
		if w.fake.Count("sts.AssumeRole", "") != 2 {
			t.Errorf("AssumeRole calls: %d, want one for get and one for run", w.fake.Count("sts.AssumeRole", ""))
		}
	})

	t.Run("aws profile", func(t *testing.T) {
		w := newAWSWorld(t)
		dir := t.TempDir()
		creds := write(t, dir, "credentials", fmt.Sprintf("[reader]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
			awsfake.AccessKeyID, awsfake.SecretAccessKey))
		write(t, dir, "shroud.toml", "region = \"eu-west-1\"\n[aws]\nprofile = \"reader\"\n")
		// No credentials but the profile's; no region but the config's.
		env := []string{"AWS_ENDPOINT_URL=" + w.fake.URL(), "AWS_CONFIG_FILE=/nonexistent/aws-config",
			"AWS_SHARED_CREDENTIALS_FILE=" + creds}
		got, ran := getAsRun(t, dir, env, "/west/only", "--config", "shroud.toml")
		if got != awsCanaryWest || ran != got {
			t.Fatalf("get %q, run %q", got, ran)
		}
		if r := shroud(t, dir, env, "get", "--region", "eu-west-1", "/west/only"); r.code != 1 || !strings.Contains(r.stderr, "no AWS credentials") {
			t.Errorf("without the config's profile: exit %d %q %s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("alibaba", func(t *testing.T) {
		fake := kmsCloud(t)
		dir := t.TempDir()
		if _, err := fake.CAFile(dir); err != nil {
			t.Fatal(err)
		}
		write(t, dir, "conf/shroud.toml", fmt.Sprintf("[alibaba]\nregion = \"cn-hangzhou\"\nendpoint = %q\nca_file = \"../kmsfake-ca.pem\"\ncredentials = \"env\"\n", fake.TLSURL()))
		cfg := filepath.Join("conf", "shroud.toml")
		got, ran := getAsRun(t, dir, envAK, "kms:prod/db:AccountPassword", "--config", cfg)
		if got != kmsCanaries[1] || ran != got {
			t.Fatalf("get %q, run %q", got, ran)
		}
		if r := shroud(t, dir, envAK, "get", "kms:prod/db:AccountPassword"); r.code != 1 {
			t.Errorf("without the config: exit %d %q", r.code, r.stdout)
		}
		// credentials = "env" is the config's choice: without the keys, no
		// other link of the chain is tried.
		if r := shroud(t, dir, nil, "get", "--config", cfg, "kms:prod/db:AccountPassword"); r.code != 1 || !strings.Contains(r.stderr, "(env)") {
			t.Errorf("credentials = env without keys: exit %d: %s", r.code, r.stderr)
		}
	})
}
