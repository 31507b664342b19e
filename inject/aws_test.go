package inject

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
	if timeout, call := cfg.AWS.Timeouts(); timeout != 45*time.Second || call != 2*time.Second {
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
	spec, err := NewSpec(SpecInput{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.EnvFrom) != 2 || spec.EnvFrom[0].Ref != sources.PathRef("/prod/app/") || spec.EnvFrom[0].Prefix != "APP_" ||
		spec.EnvFrom[1].Ref.Backend != sources.SecretsManager || spec.EnvFrom[1].Origin != "/etc/shroud/shroud.toml:6 [[env_from]] #2" {
		t.Errorf("env_from = %+v", spec.EnvFrom)
	}
	if refs := spec.Refs(); len(refs) != 2 {
		t.Errorf("refs = %v", refs)
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

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"db/password": "P_DB_PASSWORD",
		"api-key":     "P_API_KEY",
		"Mixed.Case":  "P_MIXED_CASE",
		"émoji✓":      "P__MOJI_", // outside [A-Z0-9_] even upper-cased
		"ALREADY_OK9": "P_ALREADY_OK9",
	} {
		if got := EnvName("P_", key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestEnvFromMaterialize(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("app.json", `{"db-host":"db.internal","password":"`+canary+`","port":5432,"nested":{"a":1}}`)
	write("shroud.toml", `
[[env_from]]
value_from = "file:app.json"
prefix = "APP_"

[[env_from]]
path = "/prod/app/"

[[secrets]]
name = "EXPLICIT"
value_from = "file:app.json#db-host"
`)
	cfg, err := LoadConfig(filepath.Join(dir, "shroud.toml"))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := NewSpec(SpecInput{
		Config:  cfg,
		Secrets: []string{"APP_PORT=file:" + dir + "/app.json#db-host"},
		EnvRefs: true,
		Environ: []string{"KEY=file:" + dir + "/app.json#port", "OTHER=file:" + dir + "/app.json#port"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The path listing comes from the SSM path source; here its value is
	// given as that source returns it.
	listing := sources.Result{Value: sources.Value{Data: []byte(`{"key":"from-path","db/user":"app"}`), Version: "list-1"}}
	vals, err := spec.Resolve(context.Background(), resolverWithFixed(sources.SSMPath, listing))
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.Materialize(vals)
	if err != nil {
		t.Fatal(err)
	}
	env := m.Environ(nil)
	want := []string{
		"APP_DB_HOST=db.internal", "APP_NESTED={\"a\":1}", "APP_PASSWORD=" + canary,
		"APP_PORT=db.internal", // --secret wins over env_from
		"DB_USER=app", "EXPLICIT=db.internal",
		"KEY=from-path", // env_from wins over --env-refs
		"OTHER=5432",
	}
	if !slices.Equal(env, want) {
		t.Errorf("env =\n%q\nwant\n%q", env, want)
	}

	// Collisions: inside one object, between entries, with the config.
	write("clash.json", `{"db-host":"a","db_host":"`+canary+`","1st":"x"}`)
	write("list.json", `["`+canary+`"]`)
	write("shroud.toml", `
[[env_from]]
value_from = "file:clash.json"
[[env_from]]
path = "/prod/app/"
[[env_from]]
value_from = "file:list.json"
[[secrets]]
name = "KEY"
value_from = "file:app.json#port"
`)
	cfg, err = LoadConfig(filepath.Join(dir, "shroud.toml"))
	if err != nil {
		t.Fatal(err)
	}
	spec, err = NewSpec(SpecInput{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	listing.Value.Data = []byte(`{"db.host":"b","key":"c"}`)
	vals, err = spec.Resolve(context.Background(), resolverWithFixed(sources.SSMPath, listing))
	if err != nil {
		t.Fatal(err)
	}
	_, err = spec.Materialize(vals)
	for _, want := range []string{
		"5 problems",
		`shroud.toml:2 [[env_from]] #1: key "1st" of file:clash.json gives the name 1ST, which starts with a digit; set a prefix`,
		`key "db-host" of file:clash.json (` + dir + `/shroud.toml:2 [[env_from]] #1) and key "db_host" of file:clash.json`,
		`both give the variable DB_HOST`,
		`key "db.host" of /prod/app/`,
		`gives the variable KEY, which ` + dir + `/shroud.toml:8 [[secrets]] #1 binds too`,
		`shroud.toml:6 [[env_from]] #3: the value of "file:list.json" is not a JSON object`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Errorf("error leaks a value:\n%v", err)
	}
}

// resolverWith is a resolver with the local sources and a source of
// backend b that answers res for every reference.
func resolverWithFixed(b sources.Backend, res sources.Result) *sources.Resolver {
	r := sources.NewResolver()
	r.Register(b, fixedSource{res})
	return r
}

type fixedSource struct{ res sources.Result }

func (s fixedSource) Fetch(_ context.Context, refs []sources.Ref) []sources.Result {
	out := make([]sources.Result, len(refs))
	for i := range out {
		out[i] = s.res
	}
	return out
}

// FuzzEnvFrom expands an arbitrary value (what a secret or a listing
// holds) as env_from does: it must never panic, give only valid names, and
// never quote a value in an error.
func FuzzEnvFrom(f *testing.F) {
	f.Add([]byte(`{"db-host":"h","db_host":"`+canary+`","1st":"x","n":5,"o":{"a":[1]}}`), "APP_")
	f.Add([]byte(`{"a":"\u0000bin","B":"ok"}`), "")
	f.Add([]byte(`["not an object"]`), "P")
	f.Fuzz(func(t *testing.T, data []byte, prefix string) {
		if prefix != "" && !sources.ValidEnvName(prefix) {
			return // the config refuses such a prefix
		}
		ref := sources.PathRef("/fuzz/")
		spec := &Spec{EnvFrom: []EnvFrom{{Ref: ref, Prefix: prefix, Origin: "fuzz"}}}
		m, err := spec.Materialize(Values{ref: {Value: sources.Value{Data: data}}})
		fields, ferr := sources.ObjectFields(data)
		if err != nil {
			if ferr != nil {
				return
			}
			// The same keys with every value replaced by one of its class
			// (text or binary) must give the same error: values never
			// reach the message.
			masked := map[string]string{}
			for k, v := range fields {
				if !utf8.ValidString(k) {
					return // re-encoding would change the key
				}
				masked[k] = "x"
				if bytes.IndexByte(v, 0) >= 0 || !utf8.Valid(v) {
					masked[k] = "\x00"
				}
			}
			mdata, _ := json.Marshal(masked)
			_, merr := spec.Materialize(Values{ref: {Value: sources.Value{Data: mdata}}})
			if merr == nil || merr.Error() != err.Error() {
				t.Fatalf("the error depends on the values:\n%v\nwith values masked:\n%v", err, merr)
			}
			return
		}
		for name, v := range m.Env {
			if !sources.ValidEnvName(name) || !strings.HasPrefix(name, prefix) {
				t.Fatalf("invalid name %q", name)
			}
			if strings.IndexByte(v, 0) >= 0 {
				t.Fatalf("%s holds a NUL byte", name)
			}
		}
		if len(m.Env) != len(fields) {
			t.Fatalf("%d variables from %d keys", len(m.Env), len(fields))
		}
	})
}
