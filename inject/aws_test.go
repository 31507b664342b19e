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
	"unicode/utf8"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/sources"
)

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
	cfg, err := config.LoadFile(filepath.Join(dir, "shroud.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = cfg.With(config.Input{
		Secrets: []string{"APP_PORT=file:" + dir + "/app.json#db-host"},
		EnvRefs: true,
		Environ: []string{"KEY=file:" + dir + "/app.json#port", "OTHER=file:" + dir + "/app.json#port"},
	})
	if err != nil {
		t.Fatal(err)
	}
	spec := NewPlan(cfg)
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
	cfg, err = config.LoadFile(filepath.Join(dir, "shroud.toml"))
	if err != nil {
		t.Fatal(err)
	}
	spec = NewPlan(cfg)
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
		spec := NewPlan(&config.Config{EnvFrom: []config.EnvFrom{{Ref: ref, Prefix: prefix, Origin: "fuzz"}}})
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
