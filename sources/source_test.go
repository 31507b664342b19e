package sources

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-multierror"
)

const canary = "canary-Zq8vX2-secret"

func mustParse(t *testing.T, s string) Ref {
	t.Helper()
	r, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileKeys(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "db.json", `{"user":"app","password":"`+canary+`","port":5432,"tls":true,"opts":{"a": 1},"none":null}`)
	writeFile(t, dir, "app.env", "# comment\nexport API_KEY="+canary+"\nPLAIN = a b c  # trailing\nSQ='it is $HOME'\nDQ=\"line1\\nline2 \\\"q\\\" $HOME\"\nMULTI=\"a\nb\"\nEMPTY=\n")
	writeFile(t, dir, "mail.toml", "password = \""+canary+"\"\nport = 25\n[server]\nhost = \"smtp\"\n")
	writeFile(t, dir, "raw.txt", canary+"\n")
	tests := []struct{ ref, want string }{
		{"file:" + dir + "/db.json#user", "app"},
		{"file:" + dir + "/db.json#password", canary},
		{"file:" + dir + "/db.json#port", "5432"},
		{"file:" + dir + "/db.json#tls", "true"},
		{"file:" + dir + "/db.json#opts", `{"a":1}`},
		{"file:" + dir + "/db.json#none", "null"},
		{"file:" + dir + "/app.env#API_KEY", canary},
		{"file:" + dir + "/app.env#PLAIN", "a b c"},
		{"file:" + dir + "/app.env#SQ", "it is $HOME"},
		{"file:" + dir + "/app.env#DQ", "line1\nline2 \"q\" $HOME"},
		{"file:" + dir + "/app.env#MULTI", "a\nb"},
		{"file:" + dir + "/app.env#EMPTY", ""},
		{"file:" + dir + "/mail.toml#password", canary},
		{"file:" + dir + "/mail.toml#port", "25"},
		{"file:" + dir + "/mail.toml#server", `{"host":"smtp"}`},
		{"file:" + dir + "/raw.txt", canary + "\n"},
	}
	r := NewResolver()
	for _, tt := range tests {
		res, err := r.Resolve(context.Background(), []Ref{mustParse(t, tt.ref)})
		if err != nil {
			t.Errorf("%s: %v", tt.ref, err)
			continue
		}
		if got := string(res[0].Value.Data); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.ref, got, tt.want)
		}
		if res[0].Value.Version == "" {
			t.Errorf("%s: no version", tt.ref)
		}
	}
}

func TestDotenv(t *testing.T) {
	fields, err := ParseDotenv([]byte("A=1\r\nexport B='x $Y \\n'\nC=\"tab\\tnew\\nq\\\"\" # c\nD=v#notcomment\nE=\"multi\nline\"\n\n# x\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": `x $Y \n`, "C": "tab\tnew\nq\"", "D": "v#notcomment", "E": "multi\nline"}
	for k, v := range want {
		if string(fields[k]) != v {
			t.Errorf("%s = %q, want %q", k, fields[k], v)
		}
	}
	for _, bad := range []string{"NOEQUALS\n", "A=\"open\n", "=x\n", "A B=1\n", "A='it''s'\n"} {
		_, err := ParseDotenv([]byte(canary + "=1\n" + bad))
		if err == nil {
			t.Errorf("ParseDotenv(%q) succeeded", bad)
		} else if !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), canary) {
			t.Errorf("ParseDotenv(%q) = %v, want a line-2 error without the text", bad, err)
		}
	}
}

func TestKeyErrorsNeverShowValues(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "list.json", `["`+canary+`"]`)
	writeFile(t, dir, "bad.json", `{"a": "`+canary+`"`)
	writeFile(t, dir, "ok.json", `{"a": "`+canary+`", "b": 1}`)
	writeFile(t, dir, "bad.toml", "a = \""+canary+"\"\nb = = 1\n")
	writeFile(t, dir, "table.toml", "[a\nb = \""+canary+"\"\n") // the decoder puts the error on line 2
	writeFile(t, dir, "x.txt", canary)
	cases := map[string]string{
		"list.json#a":  "not a JSON object",
		"bad.json#a":   "not a JSON object",
		"ok.json#c":    `key "c" not found; the json object has keys "a", "b"`,
		"bad.toml#a":   "not valid TOML (line 2)",
		"table.toml#b": "not valid TOML (line 1)",
		"x.txt#a":      "needs a .json, .env or .toml file",
		"nope.json#a":  "does not exist",
	}
	r := NewResolver()
	for name, want := range cases {
		ref := mustParse(t, "file:"+filepath.Join(dir, name))
		_, err := r.Resolve(context.Background(), []Ref{ref})
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, want) || !strings.Contains(msg, ref.Raw) {
			t.Errorf("%s: %q, want %q and the reference", name, msg, want)
		}
		if strings.Contains(msg, canary) {
			t.Errorf("%s: error leaks the value: %q", name, msg)
		}
	}
}

func TestFileSourceRejectsNonRegular(t *testing.T) {
	res := FileSource{}.Fetch(context.Background(), []Ref{{Backend: File, ID: t.TempDir()}})
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "not a regular file") {
		t.Fatalf("err = %v", res[0].Err)
	}
}

func TestEnvSource(t *testing.T) {
	env := map[string]string{"SET": canary, "EMPTY": ""}
	r := &Resolver{}
	r.Register(Env, EnvSource{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	res, err := r.Resolve(context.Background(), []Ref{mustParse(t, "env:SET"), mustParse(t, "env:EMPTY"), mustParse(t, "env:UNSET")})
	if string(res[0].Value.Data) != canary || res[1].Err != nil || len(res[1].Value.Data) != 0 {
		t.Fatalf("results = %+v", res)
	}
	if err == nil || !strings.Contains(err.Error(), `reference "env:UNSET" (env): variable UNSET is not set`) {
		t.Fatalf("err = %v", err)
	}
}

// countingSource records what it was asked for.
type countingSource struct {
	mu    sync.Mutex
	calls [][]Ref
	value func(Ref) Result
}

func (s *countingSource) Fetch(_ context.Context, refs []Ref) []Result {
	s.mu.Lock()
	s.calls = append(s.calls, refs)
	s.mu.Unlock()
	out := make([]Result, len(refs))
	for i, r := range refs {
		out[i] = s.value(r)
	}
	return out
}

func TestResolverFetchesEachObjectOnce(t *testing.T) {
	sm := &countingSource{value: func(r Ref) Result {
		if r.ID == "missing" {
			return Result{Value: Value{Region: "eu-west-1"}, Err: errors.New("ResourceNotFoundException: not found")}
		}
		return Result{Value: Value{Data: []byte(`{"user":"u","password":"` + canary + `"}`), Version: "v1", Region: "eu-west-1"}}
	}}
	r := NewResolver()
	r.Register(SecretsManager, sm)
	refs := []Ref{
		mustParse(t, "sm:db:user"), mustParse(t, "sm:db:password::"), mustParse(t, "sm:db"),
		mustParse(t, "sm:db::AWSPREVIOUS"), mustParse(t, "sm:missing:user"), mustParse(t, "sm:missing"),
	}
	res, err := r.Resolve(context.Background(), refs)
	if len(sm.calls) != 1 {
		t.Fatalf("%d Fetch calls, want 1", len(sm.calls))
	}
	// db (current), db (AWSPREVIOUS) and missing: three objects.
	if n := len(sm.calls[0]); n != 3 {
		t.Fatalf("fetched %d objects, want 3: %+v", n, sm.calls[0])
	}
	if string(res[0].Value.Data) != "u" || string(res[1].Value.Data) != canary || res[1].Value.Version != "v1" {
		t.Fatalf("results = %+v", res[:2])
	}
	var merr *multierror.Error
	if !errors.As(err, &merr) || len(merr.Errors) != 2 {
		t.Fatalf("err = %v, want 2 errors", err)
	}
	if want := `reference "sm:missing:user" (secretsmanager, eu-west-1): ResourceNotFoundException`; !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestResolverUnavailableBackend(t *testing.T) {
	r := NewResolver()
	refs := []Ref{mustParse(t, "/prod/db"), mustParse(t, "arn:aws:secretsmanager:us-west-2:123456789012:secret:x"), mustParse(t, "kms:y")}
	res, err := r.Resolve(context.Background(), refs)
	for i := range res {
		if !errors.Is(res[i].Err, ErrUnavailable) {
			t.Errorf("%s: err = %v", refs[i].Raw, res[i].Err)
		}
	}
	for _, want := range []string{`"/prod/db" (ssm)`, `(secretsmanager, us-west-2)`, `"kms:y" (kms)`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// TestErrorIsOneLine: a backend message over several lines (as an SDK
// dumps its fields) still makes one line per reference.
func TestErrorIsOneLine(t *testing.T) {
	ref, _ := Parse("kms:prod/db")
	err := &Error{Ref: ref, Region: "cn-hangzhou", Err: errors.New("SDKError:\n   StatusCode: 500\r\n   Code: InternalFailure\n")}
	want := `reference "kms:prod/db" (kms, cn-hangzhou): SDKError: StatusCode: 500 Code: InternalFailure`
	if got := err.Error(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// planner plans one call per object, in the object's region.
type planner struct{ FileSource }

func (planner) PlanCalls(objects []Ref) []PlannedCall {
	var calls []PlannedCall
	for _, o := range objects {
		calls = CountCalls(calls, o.Region, "Get", 1)
	}
	return calls
}

// TestResolverPlan: per backend in order of first use, references, the
// distinct objects they read, and a Planner's calls by region; nothing is
// fetched.
func TestResolverPlan(t *testing.T) {
	r := NewResolver()
	r.Register(KMS, planner{})
	var refs []Ref
	for _, s := range []string{"file:a.json#x", "acs:kms:cn-hangzhou:1:secret/a:k1", "acs:kms:cn-hangzhou:1:secret/a:k2",
		"file:a.json#y", "acs:kms:cn-shanghai:1:secret/b", "env:HOME", "acs:kms:cn-hangzhou:1:secret/c"} {
		refs = append(refs, mustParse(t, s))
	}
	got := r.Plan(refs)
	want := []Planned{
		{Backend: File, References: 2, Objects: 1},
		{Backend: KMS, References: 4, Objects: 3, Calls: []PlannedCall{{"cn-hangzhou", "Get", 2}, {"cn-shanghai", "Get", 1}}},
		{Backend: Env, References: 1, Objects: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Plan =\n%v\nwant\n%v", got, want)
	}
	if s := got[1].CallsString(); s != "2 Get in cn-hangzhou, 1 Get in cn-shanghai" {
		t.Errorf("CallsString = %q", s)
	}
}
