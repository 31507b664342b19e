package config

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/internal/must"
)

const keyCanary = "AKIACANARY7QX2LMZP0W"

func TestRefuseAccessKeyNames(t *testing.T) {
	for name, cloud := range map[string]string{
		"aws.access_key_id":               "aws",
		"aws.secret_access_key":           "aws",
		"aws.session_token":               "aws",
		"aws.secret_key":                  "aws",
		"aws_access_key_id":               "aws",
		"access_key_id":                   "aws",
		"secret_access_key":               "aws",
		"AWS_ACCESS_KEY_ID":               "aws",
		"AWS_SECRET_ACCESS_KEY":           "aws",
		"AWS_SESSION_TOKEN":               "aws",
		"alibaba.access_key_id":           "alibaba",
		"alibaba.access_key_secret":       "alibaba",
		"access_key_secret":               "alibaba",
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     "alibaba",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "alibaba",
		"ALIBABA_CLOUD_SECURITY_TOKEN":    "alibaba",
		"ALICLOUD_ACCESS_KEY":             "alibaba",
		"ALICLOUD_SECRET_KEY":             "alibaba",
	} {
		err := refuseAccessKey("here", name)
		if err == nil {
			t.Errorf("%s was not refused", name)
			continue
		}
		want := map[string]string{"aws": "the task role", "alibaba": `credentials = "rrsa"`}[cloud]
		if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "here: "+name+" holds an AccessKey") {
			t.Errorf("%s: %v; want it to point to %s", name, err, want)
		}
	}
	// An application's own secrets, and names that only look alike.
	for _, name := range []string{"SECRET_KEY", "STRIPE_SECRET_KEY", "API_ACCESS_KEY", "SESSION_TOKEN", "aws.profile", "aws.role_arn",
		"alibaba.credentials", "DB_PASSWORD", "AWS_REGION", "ALIBABA_CLOUD_ROLE_ARN", "secrets.nmae"} {
		if err := refuseAccessKey("here", name); err != nil {
			t.Errorf("%s was refused: %v", name, err)
		}
	}
}

// TestConfigRefusesAccessKeys: an AccessKey written into a config file is
// an error that names its line and points to a role, never the value.
func TestConfigRefusesAccessKeys(t *testing.T) {
	_, err := ParseFile("shroud.toml", []byte(`region = "us-east-1"
[aws]
access_key_id = "`+keyCanary+`"
secret_access_key = "`+keyCanary+`"
[alibaba]
access_key_secret = "`+keyCanary+`"
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"shroud.toml:3: aws.access_key_id holds an AccessKey",
		"shroud.toml:4: aws.secret_access_key holds an AccessKey",
		"shroud.toml:6: alibaba.access_key_secret holds an AccessKey",
		"on ECS the task role (or [aws] role_arn)",
		`RRSA on ACK ([alibaba] credentials = "rrsa")`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), keyCanary) || strings.Contains(err.Error(), "unknown key") {
		t.Errorf("the error quotes the key or calls it merely unknown:\n%v", err)
	}
}

// TestECSRefusesAccessKeys: an AccessKey in a task definition's plain
// environment is refused; the same names as secrets (read from a store)
// and an application's own variables are not.
func TestECSRefusesAccessKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(env string) string {
		p := filepath.Join(dir, "td.json")
		must.Succeed(t, os.WriteFile(p, []byte(`{"containerDefinitions": [{"name": "api",
		  "environment": [`+env+`],
		  "secrets": [{"name": "AWS_ACCESS_KEY_ID", "valueFrom": "sm:ci/key:id"}]}]}`), 0o600))
		return p
	}
	_, err := Load(Input{TaskDefinition: write(`{"name": "STAGE", "value": "prod"}, {"name": "AWS_SECRET_ACCESS_KEY", "value": "` + keyCanary + `"},
	  {"name": "ALIBABA_CLOUD_ACCESS_KEY_ID", "value": "` + keyCanary + `"}`), Container: "api"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`container "api" environment: AWS_SECRET_ACCESS_KEY holds an AccessKey`, `environment: ALIBABA_CLOUD_ACCESS_KEY_ID holds an AccessKey`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), keyCanary) {
		t.Errorf("the error quotes the key:\n%v", err)
	}
	if _, err := Load(Input{TaskDefinition: write(`{"name": "STRIPE_SECRET_KEY", "value": "x"}, {"name": "AWS_REGION", "value": "us-east-1"}`), Container: "api"}); err != nil {
		t.Errorf("an application's own variables: %v", err)
	}
}

// TestEnvAccessKeysDebugOnly: an AccessKey in shroud's environment works;
// it is noted at debug level, and only there, by name.
func TestEnvAccessKeysDebugOnly(t *testing.T) {
	environ := []string{"AWS_ACCESS_KEY_ID=" + keyCanary, "AWS_SECRET_ACCESS_KEY=" + keyCanary, "ALIBABA_CLOUD_ACCESS_KEY_ID=" + keyCanary,
		"ALIBABA_CLOUD_SECURITY_TOKEN=" + keyCanary} // Alibaba's is an STS token: temporary
	logged := func(level slog.Level) string {
		var b bytes.Buffer
		prev := slog.Default()
		slog.SetDefault(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: level})))
		defer slog.SetDefault(prev)
		if _, err := Load(Input{Environ: environ, Secrets: []string{"X=env:HOME"}}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if out := logged(slog.LevelInfo); out != "" {
		t.Errorf("at info level: %s", out)
	}
	out := logged(slog.LevelDebug)
	if !strings.Contains(out, "variable=AWS_ACCESS_KEY_ID") || strings.Contains(out, "ALIBABA") || strings.Contains(out, keyCanary) {
		t.Errorf("at debug level: %s", out)
	}
}
