package inject

import (
	"context"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/awsfake"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// awsFake starts the in-process AWS fake (real SigV4, real SDK clients)
// and returns it with a resolver whose AWS sources read from it, in
// us-east-1.
func awsFake(t *testing.T) (*awsfake.Fake, *sources.Resolver) {
	t.Helper()
	fake := awsfake.New()
	t.Cleanup(fake.Close)
	for _, kv := range fake.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	r := sources.NewResolver()
	awssrc.New(awssrc.Options{Region: "us-east-1"}).Register(r)
	return fake, r
}

// goldenSecrets puts the Secrets Manager secrets the golden configs read:
// prod/db-admin with a current and a previous version.
func goldenSecrets(t *testing.T) (*awsfake.Fake, *sources.Resolver) {
	fake, r := awsFake(t)
	fake.PutSecretString("us-east-1", "prod/db-admin", `{"username":"admin","password":"old-`+canary+`"}`)
	fake.PutSecretString("us-east-1", "prod/db-admin", `{"username":"admin","password":"new-`+canary+`"}`)
	fake.PutSecretString("us-east-1", "prod/cluster", `{"replicas":[{"host":"db-1.internal","port":5432},{"host":"db-2.internal","port":6432}],
			"auth":{"users":[{"name":"admin","roles":["rw"]}]}}`)
	return fake, r
}

// materializeConfig loads a config and renders its files.
func materializeConfig(t *testing.T, path string, r *sources.Resolver) (*Plan, *Materialized) {
	t.Helper()
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	spec := NewPlan(cfg)
	vals, err := spec.Resolve(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.Materialize(vals)
	if err != nil {
		t.Fatal(err)
	}
	return spec, m
}

// TestGoldenFiles renders testdata/render/shroud.toml (every format, and
// templates over two file: sources, env: and Secrets Manager, with
// secretPrevious and jsonPath) and compares each file with
// testdata/render/want (go test ./inject -update rewrites them).
func TestGoldenFiles(t *testing.T) {
	t.Setenv("SHROUD_GOLDEN_STAGE", "prod")
	dir, _ := filepath.Abs("testdata/render")
	_, r := goldenSecrets(t)
	_, m := materializeConfig(t, filepath.Join(dir, "shroud.toml"), r)
	if len(m.Files) != 8 {
		t.Fatalf("%d files rendered, want 8", len(m.Files))
	}
	for _, f := range m.Files {
		rel, _ := filepath.Rel(filepath.Join(dir, "out"), f.Path)
		golden := filepath.Join(dir, "want", rel)
		if *update {
			must.Succeed(t, os.MkdirAll(filepath.Dir(golden), 0o755))
			must.Succeed(t, os.WriteFile(golden, f.Data, 0o644))
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if string(f.Data) != string(want) {
			t.Errorf("%s:\n%s\nwant (%s):\n%s", rel, f.Data, golden, want)
		}
	}
	if m.Files[1].Mode != 0o440 || m.Files[0].Mode != config.DefaultFileMode {
		t.Errorf("modes %v %v", m.Files[1].Mode, m.Files[0].Mode)
	}
}

// TestGoldenFilesWritten writes the golden config's files under files_root
// and reads them back.
func TestGoldenFilesWritten(t *testing.T) {
	t.Setenv("SHROUD_GOLDEN_STAGE", "prod")
	dir := t.TempDir()
	must.Succeed(t, os.CopyFS(dir, os.DirFS("testdata/render")))
	must.Succeed(t, os.RemoveAll(filepath.Join(dir, "want")))
	_, r := goldenSecrets(t)
	_, m := materializeConfig(t, filepath.Join(dir, "shroud.toml"), r)
	changed, err := writeAll(m)
	if err != nil || len(changed) != 8 {
		t.Fatalf("changed %d files, err %v", len(changed), err)
	}
	for _, f := range m.Files {
		rel, _ := filepath.Rel(filepath.Join(dir, "out"), f.Path)
		got, err := os.ReadFile(f.Path)
		want, _ := os.ReadFile(filepath.Join("testdata/render/want", rel))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %v", rel, err)
		}
	}
	// Unchanged output writes nothing.
	if changed, err := writeAll(m); err != nil || len(changed) != 0 {
		t.Fatalf("second write changed %v, %v", changed, err)
	}
}

// TestBatchedPlan checks that a template reading 30 secrets (and keys of
// them, and previous versions) costs one round of calls for the whole
// backend, made before rendering: each object asked for once, the current
// ones in batches.
func TestBatchedPlan(t *testing.T) {
	fake, r := awsFake(t)
	var tmpl strings.Builder
	for i := range 30 {
		name := "app/s" + string(rune('a'+i/10)) + string(rune('0'+i%10))
		fake.PutSecretString("us-east-1", name, `{"user":"old","password":"old"}`)
		fake.PutSecretString("us-east-1", name, `{"user":"u`+name+`","password":"`+canary+`"}`)
		tmpl.WriteString(`{{ secret "sm:` + name + `" | json "user" }} {{ secret "sm:` + name + `:password" | len }}` + "\n")
	}
	tmpl.WriteString(`{{ secretPrevious "sm:app/sa0:user" }}` + "\n")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "shroud.toml")
	must.Succeed(t, os.WriteFile(cfgPath, []byte("[[files]]\npath = \"out/all.conf\"\ntemplate = '''\n"+tmpl.String()+"'''\n"+
		"[[files]]\npath = \"out/more.conf\"\ntemplate = '''{{ secret \"sm:app/sa1:user\" }}'''\n"), 0o600))
	// Latency, so that calls of one round overlap and calls of two would
	// not.
	fake.SetFaults("", awsfake.Faults{Latency: 300 * time.Millisecond})
	spec, m := materializeConfig(t, cfgPath, r)

	// 30 secrets + 1 previous version; keys share their object.
	asked := map[string]int{}
	for _, c := range fake.Calls() {
		asked[c.API] += max(c.Size, 1)
	}
	if want := map[string]int{"secretsmanager.BatchGetSecretValue": 30, "secretsmanager.GetSecretValue": 1}; !maps.Equal(asked, want) {
		t.Fatalf("the plan asked for %v objects, want %v", asked, want)
	}
	calls := fake.Calls()
	for _, c := range calls {
		for _, d := range calls {
			if d.Start.After(c.End) {
				t.Fatalf("calls in more than one round: %s started after %s ended", d.API, c.API)
			}
		}
	}
	if got := len(spec.Refs()); got != 62 { // 30, 30 with :password, 1 previous, 1 in more.conf
		t.Errorf("spec has %d references, want 62", got)
	}
	lines := strings.Split(string(m.Files[0].Data), "\n")
	n := strconv.Itoa(len(canary))
	if lines[0] != "uapp/sa0 "+n || lines[29] != "uapp/sc9 "+n || lines[30] != "old" {
		t.Fatalf("rendered %q", lines)
	}
}

// TestRotationRewritesDependents is the test the watch loop builds on:
// when one reference rotates, materializing the whole plan again from fresh
// values and writing it changes exactly the files that read it (the others
// are byte-equal and not touched).
func TestRotationRewritesDependents(t *testing.T) {
	t.Setenv("SHROUD_GOLDEN_STAGE", "prod")
	dir := t.TempDir()
	must.Succeed(t, os.CopyFS(dir, os.DirFS("testdata/render")))
	fake, r := goldenSecrets(t)
	spec, m := materializeConfig(t, filepath.Join(dir, "shroud.toml"), r)
	if _, err := Write(m.Files, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	inodes := map[string]uint64{}
	var userlist string
	for _, f := range m.Files {
		inodes[f.Path] = inode(t, f.Path)
		if strings.HasSuffix(f.Path, "pgbouncer/userlist.txt") {
			userlist = f.Path
		}
	}

	// sm:prod/db-admin rotates: its current version becomes the previous.
	fake.PutSecretString("us-east-1", "prod/db-admin", `{"username":"admin","password":"newer-`+canary+`"}`)

	vals, err := spec.Resolve(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := spec.Materialize(vals)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Write(m2.Files, WriteOptions{})
	if changed := res.Paths(); err != nil || len(changed) != 1 || changed[0] != userlist {
		t.Fatalf("changed %v, %v; want only %s", changed, err, userlist)
	}
	// Writing the same again changes nothing: unchanged output is not
	// written.
	if res, err := Write(m2.Files, WriteOptions{}); err != nil || len(res.Changed) != 0 {
		t.Fatalf("a second write changed %v, %v", res.Paths(), err)
	}
	for _, f := range m.Files {
		if f.Path != userlist && inode(t, f.Path) != inodes[f.Path] {
			t.Errorf("%s was rewritten although it does not read sm:prod/db-admin", f.Path)
		}
	}
	data, _ := os.ReadFile(userlist)
	if !strings.Contains(string(data), `"newer-`+canary+`"`) || !strings.Contains(string(data), `"new-`+canary+`"`) {
		t.Fatalf("userlist = %q", data)
	}
}

// TestFileRefs checks a file's dependency set, in order of first use, and
// that [files.values] keep the order written.
func TestFileRefs(t *testing.T) {
	dir, _ := filepath.Abs("testdata/render")
	cfg, err := config.LoadFile(filepath.Join(dir, "shroud.toml"))
	if err != nil {
		t.Fatal(err)
	}
	spec := NewPlan(cfg)
	var got []string
	for _, r := range spec.Files[6].Refs() {
		got = append(got, r.Raw)
	}
	want := []string{"sm:prod/db-admin:username", "sm:prod/db-admin:password", "sm:prod/db-admin:password:AWSPREVIOUS"}
	if !slices.Equal(got, want) {
		t.Fatalf("userlist depends on %q, want %q", got, want)
	}
	if keys := spec.Files[2].Values; keys[0].Key != "db.user" || keys[6].Key != "on" {
		t.Fatalf("values not in the order written: %+v", keys)
	}
}
