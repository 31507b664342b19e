package config

import (
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/sources"
)

func TestAWSConfig(t *testing.T) {
	cfg, err := parse(t, `
[aws]
profile = "dev"
role_arn = "arn:aws:iam::123456789012:role/app-secrets-reader"
external_id = "ext-1"
session_name = "shroud@app"
timeout = "45s"
call_timeout = "2s"
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AWS.Profile != "dev" || cfg.AWS.RoleARN == "" || cfg.AWS.ExternalID != "ext-1" || cfg.AWS.SessionName != "shroud@app" {
		t.Errorf("aws = %+v", cfg.AWS)
	}
	if timeout, call := cfg.AWS.Timeout, cfg.AWS.CallTimeout; timeout != 45*time.Second || call != 2*time.Second {
		t.Errorf("timeouts = %v, %v", timeout, call)
	}

	_, err = parse(t, `region = "us-east-1"

[aws]
role_arn = "arn:aws:iam::123:user/x"
session_name = "a b"
timeout = "soon"
call_timeout = "-1s"
profil = "dev"
`)
	for _, want := range []string{
		"5 problems",
		`shroud.toml:8: unknown key "aws.profil"; known keys in [aws]: call_timeout, external_id, profile, role_arn, session_name, timeout`,
		`shroud.toml:3 [aws]: timeout "soon" is not a positive duration`,
		`shroud.toml:3 [aws]: call_timeout "-1s" is not a positive duration`,
		`shroud.toml:3 [aws]: role_arn "arn:aws:iam::123:user/x" is not an IAM role ARN`,
		`shroud.toml:3 [aws]: session_name "a b" must be 2 to 64`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	_, err = parse(t, "[aws]\nexternal_id = \"x\"\n")
	if err == nil || !strings.Contains(err.Error(), "external_id and session_name apply to role_arn") {
		t.Errorf("external_id without role: %v", err)
	}
}

func TestEnvFromConfig(t *testing.T) {
	cfg, err := parse(t, `
[[env_from]]
path = "/prod/app/"
prefix = "APP_"

[[env_from]]
value_from = "sm:prod/app"
`)
	if err != nil {
		t.Fatal(err)
	}
	spec := cfg
	if len(spec.EnvFrom) != 2 || spec.EnvFrom[0].Ref != sources.PathRef("/prod/app/") || spec.EnvFrom[0].Prefix != "APP_" ||
		spec.EnvFrom[1].Ref.Backend != sources.SecretsManager || spec.EnvFrom[1].Origin != "/etc/shroud/shroud.toml:6 [[env_from]] #2" {
		t.Errorf("env_from = %+v", spec.EnvFrom)
	}

	_, err = parse(t, `
[[env_from]]
prefix = "A"
[[env_from]]
path = "/a/"
value_from = "sm:x"
[[env_from]]
path = "prod/app"
[[env_from]]
path = "/aws/reference/secretsmanager/x"
[[env_from]]
value_from = "vault:secret/x"
prefix = "9X"
`)
	for _, want := range []string{
		"6 problems",
		"shroud.toml:2 [[env_from]] #1: give path",
		"shroud.toml:4 [[env_from]] #2: give path or value_from, not both",
		`shroud.toml:7 [[env_from]] #3: path "prod/app" must start with '/'`,
		`shroud.toml:9 [[env_from]] #4: path "/aws/reference/secretsmanager/x" is reserved by AWS`,
		`shroud.toml:11 [[env_from]] #5: reference "vault:secret/x": unknown scheme`,
		`shroud.toml:11 [[env_from]] #5: prefix "9X" must be letters`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
