package inject

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/sources"
)

func TestLogConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "addr"), []byte("udp://127.0.0.1:5514\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "db.json"), []byte(`{"password":"canary-log-pw-4Rt7"}`), 0o600)
	cfg, err := ParseConfig(filepath.Join(dir, "shroud.toml"), []byte(`
[[secrets]]
name = "DB_PASSWORD"
value_from = "file:db.json#password"

[log]
driver = "syslog"
options = { tag = "app", "syslog-facility" = "local3", "max-buffer-size" = "4m", mode = "non-blocking" }
mask = true
mask_min_length = 8
mask_encodings = ["base64"]

[[log.secret_options]]
name = "syslog-address"
value_from = "file:addr"
`))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := NewSpec(SpecInput{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	l := spec.Log
	if l.Driver != "syslog" || !l.Tee || !l.Mask || l.MaskOpt.MinLength != 8 || !l.MaskOpt.Base64 || l.MaskOpt.JSON || l.MaskOpt.URL {
		t.Fatalf("log target = %+v", l)
	}
	if len(spec.Refs()) != 2 {
		t.Fatalf("the secret option must join the one plan: refs = %v", spec.Refs())
	}
	vals, err := spec.Resolve(context.Background(), sources.NewResolver())
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.Materialize(vals)
	if err != nil {
		t.Fatal(err)
	}
	lc := m.Log
	if lc.Options["syslog-address"] != "udp://127.0.0.1:5514" || lc.Options["tag"] != "app" || !slices.Equal(lc.SecretOptions, []string{"syslog-address"}) {
		t.Fatalf("log config = %+v", lc)
	}
	if !slices.ContainsFunc(lc.MaskValues, func(v []byte) bool { return string(v) == "canary-log-pw-4Rt7" }) {
		t.Fatalf("mask values lack the env secret: %q", lc.MaskValues)
	}
}

func TestLogConfigDefaults(t *testing.T) {
	cfg, err := parse(t, "[log]\ndriver = \"json-file\"\noptions = { max-size = \"10m\", max-file = 3, compress = true, path = \"logs/app.log\" }\n")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := NewSpec(SpecInput{Config: cfg})
	if l := spec.Log; !l.Tee || l.Mask || !l.MaskOpt.Base64 || !l.MaskOpt.JSON || !l.MaskOpt.URL || l.Options["max-file"] != "3" || l.Options["compress"] != "true" || l.Options["path"] != "/etc/shroud/logs/app.log" {
		t.Fatalf("log = %+v", l)
	}
	// No [log]: the child inherits stdout and stderr.
	cfg, _ = parse(t, "region = \"us-east-1\"\n")
	spec, _ = NewSpec(SpecInput{Config: cfg})
	m, err := spec.Materialize(Values{})
	if err != nil || spec.Log != nil || m.Log.Driver != "none" || m.Log.Mask {
		t.Fatalf("log = %+v, %+v, %v", spec.Log, m.Log, err)
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

// TestLogSecretOptionNeverShown checks that a bad value from a secret is
// reported by option name, without the value.
func TestLogSecretOptionNeverShown(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("\x00canary-bin-token"), 0o600)
	cfg, err := ParseConfig(filepath.Join(dir, "shroud.toml"), []byte("[log]\ndriver = \"splunk\"\noptions = { \"splunk-url\" = \"https://splunk:8088\" }\n[[log.secret_options]]\nname = \"splunk-token\"\nvalue_from = \"file:token\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := NewSpec(SpecInput{Config: cfg})
	vals, _ := spec.Resolve(context.Background(), sources.NewResolver())
	_, err = spec.Materialize(vals)
	if err == nil || !strings.Contains(err.Error(), "log option splunk-token is binary") && !strings.Contains(err.Error(), "for log option splunk-token is binary") || strings.Contains(err.Error(), "canary") {
		t.Fatalf("err = %v", err)
	}
}

func TestECSLogConfiguration(t *testing.T) {
	dir := t.TempDir()
	td := filepath.Join(dir, "task.json")
	os.WriteFile(td, []byte(`{"containerDefinitions": [
	  {"name": "web", "logConfiguration": {"logDriver": "splunk",
	     "options": {"splunk-url": "https://splunk.example.com:8088", "splunk-format": "raw", "mode": "non-blocking"},
	     "secretOptions": [{"name": "splunk-token", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:splunk-AbCdEf:token::"}]}},
	  {"name": "aws", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}},
	  {"name": "bad", "logConfiguration": {"logDriver": "syslog", "options": {"syslog-adress": "x"},
	     "secretOptions": [{"name": "syslog-address", "valueFrom": "nope:x:y"}, {"name": "syslog-address", "valueFrom": "/a"}, {"name": "", "valueFrom": "/b"}]}}]}`), 0o600)
	c, err := LoadECSContainer(td, "web")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := NewSpec(SpecInput{ECS: c})
	if err != nil {
		t.Fatal(err)
	}
	l := spec.Log
	if l.Driver != "splunk" || l.Options["splunk-format"] != "raw" || len(l.Secrets) != 1 || l.Secrets[0].Name != "splunk-token" || l.Secrets[0].Ref.Backend != sources.SecretsManager || !l.Tee {
		t.Fatalf("log = %+v", l)
	}
	if len(spec.Refs()) != 1 {
		t.Fatalf("refs = %v", spec.Refs())
	}
	// A config's [log] wins over the task definition's.
	cfg, _ := parse(t, "[log]\ndriver = \"json-file\"\n")
	spec, _ = NewSpec(SpecInput{Config: cfg, ECS: c})
	if spec.Log.Driver != "json-file" {
		t.Fatalf("log = %+v", spec.Log)
	}
	// ECS ships awslogs itself: shroud leaves the output alone.
	c, err = LoadECSContainer(td, "aws")
	if err != nil || c.Log != nil {
		t.Fatalf("awslogs: %+v, %v", c, err)
	}
	_, err = LoadECSContainer(td, "bad")
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

// TestLogSecretOptionFailureReportedOnce: a secret option whose reference
// fails is reported once, with the cause, like any other target's.
func TestLogSecretOptionFailureReportedOnce(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "shroud.toml")
	os.WriteFile(cfgPath, []byte(`
[[secrets]]
name = "ADDR"
value_from = "file:missing-address"
[log]
driver = "syslog"
[[log.secret_options]]
name = "syslog-address"
value_from = "file:missing-address"
`), 0o600)
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := NewSpec(SpecInput{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	vals, _ := spec.Resolve(context.Background(), sources.NewResolver())
	_, err = spec.Materialize(vals)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if n := strings.Count(msg, "does not exist"); n != 1 || strings.Contains(msg, "problems") {
		t.Fatalf("want the failed reference once, with its cause:\n%s", msg)
	}
}
