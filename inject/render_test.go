package inject

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/sources"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// secretsManager stands in for AWS Secrets Manager until its backend
// lands: a sources.Source serving secrets by name and version stage, that
// counts its Fetch calls. (With the AWS backend, these tests should use its
// fake and that fake's call counter.)
type secretsManager struct {
	mu      sync.Mutex
	secrets map[string]string // "NAME" or "NAME@STAGE" -> value
	fetches [][]sources.Ref
}

func (s *secretsManager) Fetch(ctx context.Context, refs []sources.Ref) []sources.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches = append(s.fetches, refs)
	out := make([]sources.Result, len(refs))
	for i, ref := range refs {
		key := ref.ID
		if ref.Stage != "" && ref.Stage != "AWSCURRENT" {
			key += "@" + ref.Stage
		}
		v, ok := s.secrets[key]
		if !ok {
			out[i].Err = &notFound{}
			continue
		}
		out[i].Value = sources.Value{Data: []byte(v), Version: "v-" + key, Region: "us-east-1"}
	}
	return out
}

type notFound struct{}

func (*notFound) Error() string { return "ResourceNotFoundException: secret not found" }

// goldenSecrets are the Secrets Manager secrets the golden configs read.
func goldenSecrets() *secretsManager {
	return &secretsManager{secrets: map[string]string{
		"prod/db-admin":             `{"username":"admin","password":"new-` + canary + `"}`,
		"prod/db-admin@AWSPREVIOUS": `{"username":"admin","password":"old-` + canary + `"}`,
		"prod/cluster": `{"replicas":[{"host":"db-1.internal","port":5432},{"host":"db-2.internal","port":6432}],
			"auth":{"users":[{"name":"admin","roles":["rw"]}]}}`,
	}}
}

func resolverWith(sm sources.Source) *sources.Resolver {
	r := sources.NewResolver()
	r.Register(sources.SecretsManager, sm)
	return r
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
	_, m := materializeConfig(t, filepath.Join(dir, "shroud.toml"), resolverWith(goldenSecrets()))
	if len(m.Files) != 8 {
		t.Fatalf("%d files rendered, want 8", len(m.Files))
	}
	for _, f := range m.Files {
		rel, _ := filepath.Rel(filepath.Join(dir, "out"), f.Path)
		golden := filepath.Join(dir, "want", rel)
		if *update {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			os.WriteFile(golden, f.Data, 0o644)
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
	os.CopyFS(dir, os.DirFS("testdata/render"))
	os.RemoveAll(filepath.Join(dir, "want"))
	_, m := materializeConfig(t, filepath.Join(dir, "shroud.toml"), resolverWith(goldenSecrets()))
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
// them, and previous versions) costs one Fetch for the whole backend, made
// before rendering.
func TestBatchedPlan(t *testing.T) {
	sm := &secretsManager{secrets: map[string]string{}}
	var tmpl strings.Builder
	for i := range 30 {
		name := "app/s" + string(rune('a'+i/10)) + string(rune('0'+i%10))
		sm.secrets[name] = `{"user":"u` + name + `","password":"` + canary + `"}`
		sm.secrets[name+"@AWSPREVIOUS"] = `{"user":"old","password":"old"}`
		tmpl.WriteString(`{{ secret "sm:` + name + `" | json "user" }} {{ secret "sm:` + name + `:password" | len }}` + "\n")
	}
	tmpl.WriteString(`{{ secretPrevious "sm:app/sa0:user" }}` + "\n")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "shroud.toml")
	os.WriteFile(cfgPath, []byte("[[files]]\npath = \"out/all.conf\"\ntemplate = '''\n"+tmpl.String()+"'''\n"+
		"[[files]]\npath = \"out/more.conf\"\ntemplate = '''{{ secret \"sm:app/sa1:user\" }}'''\n"), 0o600)
	spec, m := materializeConfig(t, cfgPath, resolverWith(sm))

	if len(sm.fetches) != 1 {
		t.Fatalf("%d Fetch calls, want 1 batched plan", len(sm.fetches))
	}
	if got := len(sm.fetches[0]); got != 31 { // 30 secrets + 1 previous version; keys share their object
		t.Fatalf("the plan fetched %d objects, want 31", got)
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
	os.CopyFS(dir, os.DirFS("testdata/render"))
	sm := goldenSecrets()
	r := resolverWith(sm)
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
	sm.secrets["prod/db-admin@AWSPREVIOUS"] = sm.secrets["prod/db-admin"]
	sm.secrets["prod/db-admin"] = `{"username":"admin","password":"newer-` + canary + `"}`

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
