package inject

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/sources"
)

// TestLogSecretOptionNeverShown checks that a bad value from a secret is
// reported by option name, without the value.
func TestLogSecretOptionNeverShown(t *testing.T) {
	dir := t.TempDir()
	must.Succeed(t, os.WriteFile(filepath.Join(dir, "token"), []byte("\x00canary-bin-token"), 0o600))
	cfg, err := config.ParseFile(filepath.Join(dir, "shroud.toml"), []byte("[log]\ndriver = \"splunk\"\noptions = { \"splunk-url\" = \"https://splunk:8088\" }\n[[log.secret_options]]\nname = \"splunk-token\"\nvalue_from = \"file:token\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	spec := NewPlan(cfg)
	vals, _ := spec.Resolve(context.Background(), sources.NewResolver())
	_, err = spec.Materialize(vals)
	if err == nil || !strings.Contains(err.Error(), "log option splunk-token is binary") && !strings.Contains(err.Error(), "for log option splunk-token is binary") || strings.Contains(err.Error(), "canary") {
		t.Fatalf("err = %v", err)
	}
}

// TestLogSecretOptionFailureReportedOnce: a secret option whose reference
// fails is reported once, with the cause, like any other target's.
func TestLogSecretOptionFailureReportedOnce(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "shroud.toml")
	must.Succeed(t, os.WriteFile(cfgPath, []byte(`
[[secrets]]
name = "ADDR"
value_from = "file:missing-address"
[log]
driver = "syslog"
[[log.secret_options]]
name = "syslog-address"
value_from = "file:missing-address"
`), 0o600))
	cfg, err := config.LoadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	spec := NewPlan(cfg)
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

func TestLogConfig(t *testing.T) {
	dir := t.TempDir()
	must.Succeed(t, os.WriteFile(filepath.Join(dir, "addr"), []byte("udp://127.0.0.1:5514\n"), 0o600))
	must.Succeed(t, os.WriteFile(filepath.Join(dir, "db.json"), []byte(`{"password":"canary-log-pw-4Rt7"}`), 0o600))
	cfg, err := config.ParseFile(filepath.Join(dir, "shroud.toml"), []byte(`
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
	spec := NewPlan(cfg)
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

// TestNoLog: without [log] the child inherits stdout and stderr, and
// nothing is masked.
func TestNoLog(t *testing.T) {
	cfg, err := parse(t, "region = \"us-east-1\"\n")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewPlan(cfg).Materialize(Values{})
	if err != nil || m.Log.Driver != "none" || m.Log.Mask {
		t.Fatalf("log = %+v, %v", m.Log, err)
	}
}
