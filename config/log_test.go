package config

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/sources"
)

func TestLogConfigDefaults(t *testing.T) {
	cfg, err := parse(t, "[log]\ndriver = \"json-file\"\noptions = { max-size = \"10m\", max-file = 3, compress = true, path = \"logs/app.log\" }\n")
	if err != nil {
		t.Fatal(err)
	}
	spec := cfg
	if l := spec.Log; !l.Tee || !l.Mask || !l.MaskOpt.Base64 || !l.MaskOpt.JSON || !l.MaskOpt.URL || l.Options["max-file"] != "3" || l.Options["compress"] != "true" || l.Options["path"] != "/etc/shroud/logs/app.log" {
		t.Fatalf("log = %+v", l)
	}
	// No [log]: the child inherits stdout and stderr.
	cfg, _ = parse(t, "region = \"us-east-1\"\n")
	if cfg.Log != nil {
		t.Fatalf("log = %+v", cfg.Log)
	}
}

func TestLogConfigErrors(t *testing.T) {
	_, err := parse(t, `region = "us-east-1"

[log]
driver = "syslog"
options = { tag = "app", "syslog-adress" = "udp://x", "syslog-format" = "rfc9999", nested = { a = 1 } }
mask_min_length = 2
mask_encodings = ["rot13"]
tea = true

[[log.secret_options]]
name = "syslog-address"
value_from = "nope:x:y"

[[log.secret_options]]
name = "syslog-address"
value_from = "file:a"

[[log.secret_options]]
value_from = "file:b"
`)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`shroud.toml:8: unknown key "log.tea"; known keys in [log]: driver, mask, mask_encodings, mask_min_length, options, secret_options, tee`,
		`shroud.toml:3 [log]: options.nested: want a string, number or boolean`,
		`shroud.toml:3 [log]: unknown option "syslog-adress" for the syslog driver; known options: env, env-regex,`,
		`shroud.toml:10 [[log.secret_options]] #1: reference "nope:x:y"`,
		`shroud.toml:14 [[log.secret_options]] #2: syslog-address is already set at /etc/shroud/shroud.toml:10 [[log.secret_options]] #1`,
		`shroud.toml:18 [[log.secret_options]] #3: name is empty`,
		`mask_min_length 2 is below 4`,
		`mask_encodings: unknown encoding "rot13"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Values are checked once the names are right; a value from a secret is
	// checked when resolved, by the pipeline.
	_, err = parse(t, "[log]\ndriver = \"syslog\"\noptions = { \"syslog-format\" = \"rfc9999\", \"syslog-facility\" = \"local9\" }\n")
	for _, want := range []string{`syslog option syslog-format="rfc9999": want one of , rfc3164, rfc5424, rfc5424micro`, `syslog-facility="local9": want a facility name`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	_, err = parse(t, "[log]\ndriver = \"awslogs\"\n")
	if err == nil || !strings.Contains(err.Error(), `unknown log driver "awslogs"; shroud has none, json-file, syslog, fluentd, splunk, gelf`) {
		t.Errorf("err = %v", err)
	}
	_, err = parse(t, "[log]\noptions = { tag = \"x\" }\n")
	if err == nil || !strings.Contains(err.Error(), `driver none takes no options`) {
		t.Errorf("err = %v", err)
	}
	_, err = parse(t, "[log]\ndriver = \"splunk\"\noptions = { \"splunk-url\" = \"https://splunk:8088/x\", mode = \"blocking\", \"max-buffer-size\" = \"1m\" }\n")
	for _, want := range []string{"splunk needs the splunk-token option", "want the URL without a path", "max-buffer-size needs mode=non-blocking"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestECSLogConfiguration(t *testing.T) {
	dir := t.TempDir()
	td := filepath.Join(dir, "task.json")
	must.Succeed(t, os.WriteFile(td, []byte(`{"containerDefinitions": [
	  {"name": "web", "logConfiguration": {"logDriver": "splunk",
	     "options": {"splunk-url": "https://splunk.example.com:8088", "splunk-format": "raw", "mode": "non-blocking"},
	     "secretOptions": [{"name": "splunk-token", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:splunk-AbCdEf:token::"}]}},
	  {"name": "aws", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}},
	  {"name": "bad", "logConfiguration": {"logDriver": "syslog", "options": {"syslog-adress": "x"},
	     "secretOptions": [{"name": "syslog-address", "valueFrom": "nope:x:y"}, {"name": "syslog-address", "valueFrom": "/a"}, {"name": "", "valueFrom": "/b"}]}}]}`), 0o600))
	spec, err := Load(Input{TaskDefinition: td, Container: "web"})
	if err != nil {
		t.Fatal(err)
	}
	l := spec.Log
	if l.Driver != "splunk" || l.Options["splunk-format"] != "raw" || len(l.Secrets) != 1 || l.Secrets[0].Name != "splunk-token" || l.Secrets[0].Ref.Backend != sources.SecretsManager || !l.Tee {
		t.Fatalf("log = %+v", l)
	}
	if len(spec.Env) != 0 {
		t.Fatalf("env = %v", spec.Env)
	}
	// A config's [log] wins over the task definition's.
	cfg, _ := parse(t, "[log]\ndriver = \"json-file\"\n")
	spec, _ = cfg.With(Input{TaskDefinition: td, Container: "web"})
	if spec.Log.Driver != "json-file" {
		t.Fatalf("log = %+v", spec.Log)
	}
	// ECS ships awslogs itself: shroud leaves the output alone.
	spec, err = Load(Input{TaskDefinition: td, Container: "aws"})
	if err != nil || spec.Log != nil {
		t.Fatalf("awslogs: %+v, %v", spec.Log, err)
	}
	_, err = Load(Input{TaskDefinition: td, Container: "bad"})
	for _, want := range []string{
		`container "bad" logConfiguration.secretOptions[0] (syslog-address): reference "nope:x:y"`,
		`container "bad" logConfiguration: unknown option "syslog-adress"`,
		`container "bad" logConfiguration.secretOptions[1]: syslog-address is already set by secretOptions[0]`,
		`container "bad" logConfiguration.secretOptions[2]: name is empty`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// TestLogMaskDefault: masking is on whenever the output goes to a driver
// other than none, from a [log] or a task definition's logConfiguration,
// and mask = false turns it off.
func TestLogMaskDefault(t *testing.T) {
	for _, c := range []struct {
		toml string
		want bool
	}{
		{"[log]\ndriver = \"json-file\"\n", true},
		{"[log]\ndriver = \"json-file\"\nmask = false\n", false},
		{"[log]\ndriver = \"json-file\"\nmask = true\n", true},
		{"[log]\ndriver = \"none\"\n", false},
		{"[log]\n", false},
		{"[log]\nmask = true\n", true},
	} {
		cfg, err := parse(t, c.toml)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Log.Mask != c.want {
			t.Errorf("%q: mask %v, want %v", c.toml, cfg.Log.Mask, c.want)
		}
	}
	td := filepath.Join(t.TempDir(), "task.json")
	os.WriteFile(td, []byte(`{"containerDefinitions": [{"name": "web", "logConfiguration": {"logDriver": "splunk",
	  "options": {"splunk-url": "https://splunk.example.com:8088"}, "secretOptions": [{"name": "splunk-token", "valueFrom": "file:tok"}]}}]}`), 0o600)
	spec, err := Load(Input{TaskDefinition: td})
	if err != nil || !spec.Log.Mask {
		t.Fatalf("task definition: log %+v, %v", spec.Log, err)
	}
}

// TestECSLogMerge: a [log] without a driver tunes the task definition's
// logConfiguration (mask, mask_min_length, tee); a [log] with a driver
// replaces it, and a warning names what was ignored, never a value.
func TestECSLogMerge(t *testing.T) {
	td := filepath.Join(t.TempDir(), "task.json")
	os.WriteFile(td, []byte(`{"containerDefinitions": [{"name": "web", "logConfiguration": {"logDriver": "splunk",
	  "options": {"splunk-url": "https://splunk.example.com:8088", "splunk-index": "canary-index-Qw81"},
	  "secretOptions": [{"name": "splunk-token", "valueFrom": "file:tok"}]}}]}`), 0o600)
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(prev)

	cfg, err := parse(t, "[log]\nmask = false\nmask_min_length = 8\ntee = false\n")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := cfg.With(Input{TaskDefinition: td})
	if err != nil {
		t.Fatal(err)
	}
	if l := spec.Log; l.Driver != "splunk" || l.Mask || l.Tee || l.MaskOpt.MinLength != 8 || len(l.Secrets) != 1 || l.Options["splunk-url"] == "" {
		t.Fatalf("merged log = %+v", l)
	}
	cfg, _ = parse(t, "[log]\nmask_min_length = 8\n")
	if spec, _ = cfg.With(Input{TaskDefinition: td}); !spec.Log.Mask || !spec.Log.Tee {
		t.Fatalf("merged log without mask = %+v: the task definition's defaults stand", spec.Log)
	}
	if logs.Len() != 0 {
		t.Errorf("a merge warned: %s", logs.String())
	}

	cfg, _ = parse(t, "[log]\ndriver = \"json-file\"\n")
	spec, _ = cfg.With(Input{TaskDefinition: td})
	if spec.Log.Driver != "json-file" || len(spec.Log.Secrets) != 0 {
		t.Fatalf("log = %+v", spec.Log)
	}
	got := logs.String()
	for _, want := range []string{"logConfiguration is ignored", "logDriver=splunk", "options=\"[splunk-index splunk-url]\"", "secretOptions=[splunk-token]", `container \"web\" logConfiguration`} {
		if !strings.Contains(got, want) {
			t.Errorf("warning %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "canary-index") || strings.Contains(got, "splunk.example.com") {
		t.Errorf("the warning shows an option's value: %s", got)
	}
}
