//go:build linux

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shroud-dev/shroud/internal/must"
)

// TestRenderTemplates renders the local example's templated DSN and .env
// file, then checks that render writes nothing when nothing changed and
// that --dry-run names only the files a changed secret affects.
func TestRenderTemplates(t *testing.T) {
	dir := localExample(t)
	r := shroud(t, dir, nil, "render", "--config", "shroud.toml")
	if r.code != 0 {
		t.Fatalf("render: exit %d: %s", r.code, r.stderr)
	}
	for path, want := range map[string]string{
		"run/database.url": "postgres://app:canary-db-pw-7Hq2xT@db.internal:5432/app?sslmode=disable\n",
		"run/app.env":      "DB_USER=app\nDB_PASSWORD=canary-db-pw-7Hq2xT\nAPI_KEY=canary-api-key-Xy91Lm\nFEATURE_FLAGS='beta,$not-expanded'\n",
	} {
		data, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil || string(data) != want {
			t.Errorf("%s = %q (%v), want %q", path, data, err, want)
		}
		if info, _ := os.Stat(filepath.Join(dir, path)); info.Mode().Perm() != 0o400 {
			t.Errorf("%s mode %v", path, info.Mode().Perm())
		}
	}
	noCanary(t, "render", r.stdout, r.stderr)

	r = shroud(t, dir, nil, "render", "--config", "shroud.toml", "--dry-run")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "would_change=0") {
		t.Fatalf("dry run of an unchanged config: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	// The API key rotates: only app.env reads it.
	write(t, dir, "secrets/app.env", "API_KEY=canary-api-key-Xy91Lm-v2\nFEATURE_FLAGS='beta,$not-expanded'\n")
	r = shroud(t, dir, nil, "render", "--config", "shroud.toml", "--dry-run")
	envPath := filepath.Join(dir, "run", "app.env")
	want := envPath + " (112 bytes)\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("dry run: exit %d stdout %q, want %q; stderr %q", r.code, r.stdout, want, r.stderr)
	}
	noCanary(t, "dry run", r.stdout, r.stderr)
	if data, _ := os.ReadFile(envPath); strings.Contains(string(data), "-v2") {
		t.Fatal("the dry run wrote")
	}
	before := statOf(t, filepath.Join(dir, "run", "database.url"))
	r = shroud(t, dir, nil, "render", "--config", "shroud.toml")
	if r.code != 0 || strings.Count(r.stderr, "changed=true") != 1 || !strings.Contains(r.stderr, `path=`+envPath+` bytes=112 changed=true`) {
		t.Fatalf("render after rotation: exit %d stderr %q", r.code, r.stderr)
	}
	if after := statOf(t, filepath.Join(dir, "run", "database.url")); after.Ino != before.Ino {
		t.Error("database.url was rewritten although it does not read the API key")
	}

	// run writes the rendered files before it execs.
	must.Succeed(t, os.RemoveAll(filepath.Join(dir, "run")))
	r = shroud(t, dir, nil, "run", "--config", "shroud.toml", "--", "sh", "-c", "cat run/database.url")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "postgres://app:") {
		t.Fatalf("run: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestRenderErrors checks that render exits 1 listing every problem at
// once, writes nothing, and shows no value.
func TestRenderErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "s/db.json", `{"user":"app","password":"canary-e2e-Vb5nR8"}`)
	write(t, dir, "db.conf.tmpl", "user={{ secret \"file:s/db.json#user\" }}\npassword={{ secret \"file:s/db.json\" | json \"pasword\" }}\n")
	write(t, dir, "broken.tmpl", "ok\n{{ secret \"file:s/db.json\" | jsonPath \"a..b\" }}\n{{ end }}\n")

	// Problems found when the config loads: all at once, with lines.
	write(t, dir, "bad-config.toml", `files_root = "out"

[[files]]
path = "/etc/shroud-escape"
value_from = "file:s/db.json"

[[files]]
path = "out/broken.conf"
template_file = "broken.tmpl"

[[files]]
path = "out/inline.conf"
template = '''
{{ secret "file:s/db.json" | json .key }}'''

[[files]]
path = "out/x.env"
format = "dotenv"
owner = "app"
[files.values]
"not-a-var" = "file:s/db.json#user"
`)
	r := shroud(t, dir, nil, "render", "--config", "bad-config.toml")
	for _, want := range []string{
		"5 problems:",
		"bad-config.toml:3 [[files]] #1: path /etc/shroud-escape is outside files_root " + filepath.Join(dir, "out"),
		// Template files are named as the config names them.
		"broken.tmpl:3: unexpected {{end}} (the template of bad-config.toml:7 [[files]] #2)",
		"bad-config.toml:14:30: json takes its argument as a quoted string",
		`bad-config.toml:16 [[files]] #4: owner "app" is not numeric "UID:GID"`,
		`bad-config.toml:16 [[files]] #4: values.not-a-var: "not-a-var" is not a variable name for a dotenv file`,
	} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("bad config: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}

	// Problems found when rendering: a missing key in a template, a
	// missing file, a symbolic link inside files_root.
	must.Succeed(t, os.MkdirAll(filepath.Join(dir, "elsewhere"), 0o700))
	must.Succeed(t, os.MkdirAll(filepath.Join(dir, "out"), 0o700))
	must.Succeed(t, os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "out", "linked")))
	write(t, dir, "bad-values.toml", `files_root = "out"

[[files]]
path = "out/db.conf"
template_file = "db.conf.tmpl"

[[files]]
path = "out/missing"
value_from = "file:s/missing.pem"

[[files]]
path = "out/ok.env"
[files.values]
DB_USER = "file:s/db.json#user"
`)
	r = shroud(t, dir, nil, "render", "--config", "bad-values.toml")
	for _, want := range []string{
		"2 problems:",
		`db.conf.tmpl:2:39: at <json "pasword">: json "pasword": no such key; the object has keys "password", "user" (rendering ` + filepath.Join(dir, "out", "db.conf"),
		`reference "file:s/missing.pem" (file): file ` + filepath.Join(dir, "s", "missing.pem") + ` does not exist`,
	} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("bad values: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}
	write(t, dir, "linked.toml", `files_root = "out"
[[files]]
path = "out/fine.env"
[files.values]
DB_USER = "file:s/db.json#user"
[[files]]
path = "out/linked/db.password"
value_from = "file:s/db.json#password"
`)
	for _, args := range [][]string{{"render"}, {"render", "--dry-run"}, {"check"}} {
		r = shroud(t, dir, nil, append(args, "--config", "linked.toml")...)
		if r.code != 1 || !strings.Contains(r.stderr, filepath.Join(dir, "out", "linked")+" is a symbolic link inside files_root") {
			t.Errorf("%v with a link: exit %d stderr %q", args, r.code, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "out")); len(entries) != 1 {
		t.Errorf("files were written although render failed: %v", entries)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "elsewhere")); len(entries) != 0 {
		t.Errorf("wrote through the link: %v", entries)
	}
	for _, cfg := range []string{"bad-config.toml", "bad-values.toml", "linked.toml"} {
		for _, args := range [][]string{{"render"}, {"render", "--dry-run"}, {"check"}, {"--log-format", "json", "render"}} {
			r := shroud(t, dir, nil, append(args, "--config", cfg)...)
			noCanary(t, cfg+" "+strings.Join(args, " "), r.stdout, r.stderr)
		}
	}
}

// TestRenderOwner gives a file to another user as root, and checks that
// shroud run as an unprivileged user refuses an owner it cannot give,
// before writing anything.
func TestRenderOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away and to run shroud as nobody")
	}
	const nobody = 65534
	dir, err := os.MkdirTemp("", "shroud-owner-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	must.Succeed(t, os.Chmod(dir, 0o777))
	must.Succeed(t, os.Chmod(filepath.Dir(shroudBin), 0o755))
	write(t, dir, "pw", "canary-e2e-Vb5nR8")
	must.Succeed(t, os.Chmod(filepath.Join(dir, "pw"), 0o644))
	write(t, dir, "give.toml", "[[files]]\npath = \"out/pw\"\nvalue_from = \"file:pw\"\nowner = \"65534:65534\"\nmode = \"0400\"\n")
	write(t, dir, "take.toml", "[[files]]\npath = \"out2/pw\"\nvalue_from = \"file:pw\"\nowner = \"0:0\"\n")
	must.Succeed(t, os.Chmod(filepath.Join(dir, "take.toml"), 0o644))

	r := shroud(t, dir, nil, "render", "--config", "give.toml")
	if r.code != 0 {
		t.Fatalf("as root: exit %d: %s", r.code, r.stderr)
	}
	if st := statOf(t, filepath.Join(dir, "out", "pw")); st.Uid != nobody || st.Gid != nobody {
		t.Fatalf("owner %d:%d, want nobody", st.Uid, st.Gid)
	}
	// The owner can read it through the directory shroud made for it.
	cat := exec.Command("cat", filepath.Join(dir, "out", "pw"))
	cat.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if out, err := cat.CombinedOutput(); err != nil || string(out) != "canary-e2e-Vb5nR8" {
		t.Fatalf("reading as the owner: %v: %s", err, out)
	}

	cmd := exec.Command(shroudBin, "render", "--config", "take.toml")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot run a process as nobody here: %v", err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), "owner 0:0: shroud runs as uid 65534 and only root can give a file to another user") {
		t.Fatalf("as nobody: exit %d (%v): %s", code, err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "out2")); err == nil {
		t.Error("a directory was created although the owner check failed")
	}
	noCanary(t, "owner", r.stderr, string(out))
}

func statOf(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t)
}

// TestRenderFilesOnly: render resolves only what files need. The config's
// env vars, env_from and log secret options all point at nothing that
// resolves; render writes its file and succeeds, and check, which covers
// all of them, fails on each.
func TestRenderFilesOnly(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "pw", "canary-files-only-Q4z")
	write(t, dir, "shroud.toml", `[[secrets]]
name = "API_KEY"
value_from = "file:missing-api-key"

[[env_from]]
value_from = "file:missing.json"

[[files]]
path = "out/pw"
value_from = "file:pw"

[log]
driver = "splunk"
options = { splunk-url = "https://127.0.0.1:1" }

[[log.secret_options]]
name = "splunk-token"
value_from = "file:missing-token"
`)
	r := shroud(t, dir, nil, "render", "--config", "shroud.toml")
	if r.code != 0 {
		t.Fatalf("render: exit %d: %s", r.code, r.stderr)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "out", "pw")); err != nil || string(data) != "canary-files-only-Q4z" {
		t.Fatalf("out/pw = %q (%v)", data, err)
	}
	c := shroud(t, dir, nil, "check", "--config", "shroud.toml")
	for _, missing := range []string{"missing-api-key", "missing.json", "missing-token"} {
		if c.code != 1 || !strings.Contains(c.stderr, missing) {
			t.Errorf("check: exit %d, want 1 naming %s: %s", c.code, missing, c.stderr)
		}
	}
	noCanary(t, "render files only", r.stdout, r.stderr, c.stdout, c.stderr)
}
