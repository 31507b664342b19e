package inject

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/sources"
)

// expand materializes one env_from entry over data, with the bindings env.
func expand(data, prefix string, env ...config.EnvVar) (*Materialized, error) {
	ref := sources.PathRef("/prod/app/")
	plan := NewPlan(&config.Config{Env: env, EnvFrom: []config.EnvFrom{{Ref: ref, Prefix: prefix, Origin: "shroud.toml:3 [[env_from]] #1"}}})
	vals := Values{ref: {Value: sources.Value{Data: []byte(data)}}}
	for _, e := range env {
		vals[e.Ref] = sources.Result{Value: sources.Value{Data: []byte("/usr/bin:/bin")}}
	}
	return plan.Materialize(vals)
}

// TestEnvFromRefusesLoaderVariables: a listing cannot set the variables
// that decide what runs and what is loaded (PATH, LD_PRELOAD, ...): one
// parameter added under the path would otherwise take the child over. With
// a prefix the names are harmless; a variable the config names itself may
// be set.
func TestEnvFromRefusesLoaderVariables(t *testing.T) {
	listing := `{"path": "/tmp/evil", "ld_preload": "/tmp/evil.so", "LD_LIBRARY_PATH": "/tmp", "dyld_insert_libraries": "x",
		"node_options": "--require /tmp/evil.js", "pythonpath": "/tmp", "perl5opt": "-Mevil", "lua_init_5_4": "x",
		"bash_env": "/tmp/evil.sh", "java_tool_options": "-javaagent:/tmp/evil.jar", "db_host": "db"}`
	_, err := expand(listing, "")
	for _, name := range []string{"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "NODE_OPTIONS", "PYTHONPATH", "PERL5OPT", "LUA_INIT_5_4", "BASH_ENV", "JAVA_TOOL_OPTIONS"} {
		if err == nil || !strings.Contains(err.Error(), "gives the variable "+name+", which decides what programs run or what code they load") {
			t.Errorf("%s is not refused: %v", name, err)
		}
	}
	if err == nil || !strings.Contains(err.Error(), "10 problems") || !strings.Contains(err.Error(), "bind it by name in [[secrets]]") || strings.Contains(err.Error(), "/tmp") {
		t.Errorf("want ten problems, the fix, and no value:\n%v", err)
	}

	m, err := expand(listing, "APP_")
	if err != nil || m.Env["APP_PATH"] != "/tmp/evil" || m.Env["APP_LD_PRELOAD"] != "/tmp/evil.so" || m.Env["APP_DB_HOST"] != "db" {
		t.Errorf("with a prefix: %v, %v", m, err)
	}

	// Named by the config itself: [[secrets]] alone, or --secret over the
	// listing.
	path := config.EnvVar{Name: "PATH", Ref: sources.Ref{Raw: "env:P", Backend: sources.Env, ID: "P"}, Origin: "--secret", Kind: config.BoundByFlag}
	m, err = expand(`{"path": "/tmp/evil", "db_host": "db"}`, "", path)
	if err != nil || m.Env["PATH"] != "/usr/bin:/bin" || m.Env["DB_HOST"] != "db" {
		t.Errorf("--secret PATH over the listing: %v, %v", m, err)
	}
	path.Kind, path.Origin = config.BoundInConfig, "shroud.toml:9 [[secrets]] #1"
	if m, err = expand(`{"db_host": "db"}`, "", path); err != nil || m.Env["PATH"] != "/usr/bin:/bin" {
		t.Errorf("[[secrets]] PATH: %v, %v", m, err)
	}
}

// TestEnvFromEmptyKey: an empty key is said to be empty, not to start
// with a digit.
func TestEnvFromEmptyKey(t *testing.T) {
	_, err := expand(`{"": "x", "ok": "y"}`, "")
	want := "shroud.toml:3 [[env_from]] #1: /prod/app/ has an empty key, which gives no variable name; remove it, or set a prefix"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if m, err := expand(`{"": "x"}`, "APP_"); err != nil || m.Env["APP_"] != "x" {
		t.Errorf("with a prefix: %v, %v", m, err)
	}
}

func TestLoaderVariable(t *testing.T) {
	for name, want := range map[string]bool{
		"PATH": true, "LD_AUDIT": true, "LD_ANYTHING": true, "DYLD_LIBRARY_PATH": true, "GCONV_PATH": true, "TMPDIR": true,
		"LUA_PATH_5_3": true, "OPENSSL_CONF": true, "_JAVA_OPTIONS": true,
		"APP_PATH": false, "PATHS": false, "DB_PASSWORD": false, "OLD_PATH": false, "LUA_VERSION": false, "HOME": false,
	} {
		if got := loaderVariable(name); got != want {
			t.Errorf("loaderVariable(%s) = %v", name, got)
		}
	}
}

// TestREADMEListsLoaderVariables: README.md lists every variable env_from
// refuses, and no other.
func TestREADMEListsLoaderVariables(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "**`[[env_from]]` never sets loader and search variables.**")
	end := strings.Index(text[max(start, 0):], "A prefix makes them plain names")
	if start < 0 || end < 0 {
		t.Fatal("README.md has no list of the variables env_from refuses")
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("`([A-Z_][A-Z0-9_]*)(\\*?)`").FindAllStringSubmatch(text[start:start+end], -1) {
		listed[m[1]] = true
	}
	want := map[string]bool{}
	for _, name := range loaderVariables {
		want[name] = true
	}
	for _, p := range loaderPrefixes {
		want[p] = true
	}
	for name := range want {
		if !listed[name] {
			t.Errorf("README.md does not list %s", name)
		}
	}
	for name := range listed {
		if !want[name] {
			t.Errorf("README.md lists %s, which env_from sets", name)
		}
	}
}
