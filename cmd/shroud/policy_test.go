//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/internal/awsfake"
)

// TestPolicyGoldenCLI: shroud policy prints for each example exactly what
// policy/testdata/golden holds, which the policy package's golden test
// checks against Generate: the command and the package agree.
func TestPolicyGoldenCLI(t *testing.T) {
	examples := filepath.Join(repoRoot, "examples")
	for name, args := range map[string][]string{
		"local":      {"--config", filepath.Join(examples, "local", "shroud.toml")},
		"docker":     {"--config", filepath.Join(examples, "docker", "shroud.toml")},
		"ecs":        {"--config", filepath.Join(examples, "ecs", "shroud.toml"), "--region", "us-east-1"},
		"kubernetes": {"--config", kubernetesConfig(t)},
	} {
		r := shroud(t, t.TempDir(), nil, append([]string{"policy", "--offline"}, args...)...)
		want, err := os.ReadFile(filepath.Join(repoRoot, "policy", "testdata", "golden", name+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		if r.code != 0 || r.stdout != string(want) {
			t.Errorf("%s: exit %d, stderr %s\nstdout:\n%s\nwant:\n%s", name, r.code, r.stderr, r.stdout, want)
		}
	}
}

// kubernetesConfig writes the shroud.toml of the ConfigMap in
// examples/kubernetes/alibaba-rrsa-sidecar.yaml to a file.
func kubernetesConfig(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples", "kubernetes", "alibaba-rrsa-sidecar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(data), "  shroud.toml: |\n")
	block, _, _ = strings.Cut(block, "\n---")
	if !ok {
		t.Fatal("no shroud.toml in examples/kubernetes/alibaba-rrsa-sidecar.yaml")
	}
	var b strings.Builder
	for _, line := range strings.Split(block, "\n") {
		b.WriteString(strings.TrimPrefix(line, "    ") + "\n")
	}
	return write(t, t.TempDir(), "shroud.toml", b.String())
}

// TestPolicyREADME runs the command README.md's "Permissions" section
// shows on the config it shows, and compares its output with the README's.
func TestPolicyREADME(t *testing.T) {
	config, args, output := readmePermissions(t)
	if config == "" || len(args) == 0 || output == "" {
		t.Fatalf("README.md's Permissions section: config %d bytes, command %q, output %d bytes", len(config), args, len(output))
	}
	dir := t.TempDir()
	write(t, dir, "shroud.toml", config)
	r := shroud(t, dir, nil, args...)
	if r.code != 0 || r.stdout != output {
		t.Errorf("shroud %s: exit %d, stderr %s\nprints:\n%s\nthe README shows:\n%s", strings.Join(args, " "), r.code, r.stderr, r.stdout, output)
	}
}

// readmePermissions returns the section's toml block, the arguments of
// the command named on a line "`shroud ARGS` prints:" and the block after
// it.
func readmePermissions(t *testing.T) (config string, args []string, output string) {
	f, err := os.Open(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	command := regexp.MustCompile("^`shroud ([^`]+)` prints:$")
	var (
		section, inBlock, wantOutput bool
		lang                         string
		block                        strings.Builder
	)
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = line == "## Permissions"
		case !section:
		case strings.HasPrefix(line, "```") && !inBlock:
			inBlock, lang = true, strings.TrimPrefix(line, "```")
			block.Reset()
		case strings.HasPrefix(line, "```"):
			inBlock = false
			switch {
			case lang == "toml" && config == "":
				config = block.String()
			case wantOutput:
				output, wantOutput = block.String(), false
			}
		case inBlock:
			block.WriteString(line + "\n")
		case command.MatchString(line):
			args, wantOutput = strings.Fields(command.FindStringSubmatch(line)[1]), true
		}
	}
	return config, args, output
}

// documents splits shroud policy's output into its JSON documents, as a
// person pastes them: the # lines left out.
func documents(t *testing.T, out string) []string {
	t.Helper()
	var docs []string
	for _, part := range strings.Split(out, "\n\n") {
		var b strings.Builder
		for _, line := range strings.Split(part, "\n") {
			if !strings.HasPrefix(line, "#") {
				b.WriteString(line + "\n")
			}
		}
		if !json.Valid([]byte(b.String())) {
			t.Fatalf("not JSON once the # lines are left out:\n%s", b.String())
		}
		docs = append(docs, b.String())
	}
	return docs
}

// withoutAction removes the statements granting action from a document.
func withoutAction(t *testing.T, doc, action string) string {
	t.Helper()
	var p struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	var kept []map[string]any
	for _, s := range p.Statement {
		if s["Action"] != action {
			kept = append(kept, s)
		}
	}
	if len(kept) == len(p.Statement) {
		t.Fatalf("no statement grants %s alone:\n%s", action, doc)
	}
	p.Statement = kept
	out, _ := json.Marshal(p)
	return string(out)
}

// TestCheckPermissionsAgainstFake pastes what shroud policy prints (the
// KMS key looked up in the fake) as the policy of shroud's credentials:
// check --permissions then passes. Without a statement, it names exactly
// what is missing and exits 1, also for a refusal that shroud worked
// around (BatchGetSecretValue).
func TestCheckPermissionsAgainstFake(t *testing.T) {
	f := awsfake.New()
	defer f.Close()
	f.PutParameter("us-east-1", "/prod/app/a", awsfake.String, "a")
	f.PutParameter("us-east-1", "/prod/app/b", awsfake.SecureString, awsCanaryPath)
	f.PutParameter("us-east-1", "/prod/api/key", awsfake.SecureString, awsCanaryKey)
	f.SetParameterKey("us-east-1", "/prod/api/key", "key-api")
	f.PutSecretString("us-east-1", "prod/db", `{"password":"`+awsCanaryPW+`"}`)
	f.PutSecretString("us-east-1", "prod/cache", `{"url":"`+awsCanaryOld+`"}`)
	key, secret := f.AddUser("app")
	env := append(f.Env(), "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret)
	dir := t.TempDir()
	write(t, dir, "shroud.toml", `region = "us-east-1"
[rotation]
interval = "1h"
[[env_from]]
path = "/prod/app/"
prefix = "APP_"
[[secrets]]
name = "DB_PASSWORD"
value_from = "sm:prod/db:password"
[[secrets]]
name = "CACHE_URL"
value_from = "sm:prod/cache:url"
[[secrets]]
name = "API_KEY"
value_from = "/prod/api/key"
`)
	r := shroud(t, dir, env, "policy", "--config", "shroud.toml")
	if r.code != 0 || !strings.Contains(r.stdout, `"arn:aws:kms:us-east-1:123456789012:key/key-api"`) {
		t.Fatalf("shroud policy: exit %d, stderr %s\n%s", r.code, r.stderr, r.stdout)
	}
	docs := documents(t, r.stdout)
	if len(docs) != 1 {
		t.Fatalf("%d documents, want 1:\n%s", len(docs), r.stdout)
	}
	check := func(doc string) result {
		t.Helper()
		if err := f.SetPolicy(key, doc); err != nil {
			t.Fatal(err)
		}
		r := shroud(t, dir, env, "check", "--config", "shroud.toml", "--permissions")
		noCanary(t, "check --permissions", r.stdout, r.stderr)
		return r
	}
	if r := check(docs[0]); r.code != 0 || !strings.Contains(r.stdout, "permissions: no call was refused") {
		t.Errorf("with the policy shroud printed: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for action, want := range map[string]string{
		"ssm:GetParametersByPath": "  /prod/app/: denied ssm:GetParametersByPath on arn:aws:ssm:us-east-1:123456789012:parameter/prod/app and arn:aws:ssm:us-east-1:123456789012:parameter/prod/app/*\n",
		// These credentials may not describe the parameter: the key goes unnamed.
		"kms:Decrypt": "  /prod/api/key: denied kms:Decrypt on the customer-managed KMS key of arn:aws:ssm:us-east-1:123456789012:parameter/prod/api/key " +
			"(shroud policy names the key, with credentials that may describe it)\n",
		"secretsmanager:BatchGetSecretValue": "  secrets in us-east-1: denied secretsmanager:BatchGetSecretValue on * " +
			"(shroud read them with one GetSecretValue call each instead)\n",
	} {
		r := check(withoutAction(t, docs[0], action))
		_, missing, _ := strings.Cut(r.stdout, "missing permissions (shroud policy prints the policies that grant them):\n")
		if r.code != 1 || missing != want {
			t.Errorf("without %s: exit %d, missing permissions:\n%s\nwant:\n%s\nstderr: %s", action, r.code, missing, want, r.stderr)
		}
	}
}

// TestPolicyUsage: bad flags exit 2 and say what is wanted.
func TestPolicyUsage(t *testing.T) {
	dir := t.TempDir()
	for args, want := range map[string]string{
		"policy --format gcp --offline":      `--format "gcp": want aws, alibaba or both`,
		"policy --account 12-34 --offline":   `--account "12-34": want the account's ID, digits only`,
		"policy --config missing.toml":       "reading config",
		"policy --secret X=kms:db --offline": "",
	} {
		r := shroud(t, dir, nil, strings.Fields(args)...)
		switch {
		case want == "" && r.code != 0:
			t.Errorf("shroud %s: exit %d, %s", args, r.code, r.stderr)
		case want != "" && (r.code == 0 || !strings.Contains(r.stderr, want)):
			t.Errorf("shroud %s: exit %d, stderr %s; want %q", args, r.code, r.stderr, want)
		}
	}
}
