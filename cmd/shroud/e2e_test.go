//go:build linux

// The tests of the shroud command run on Linux only: they run the binary
// end to end, with real processes followed in /proc and Linux's signals.
// build's TestBuildsForDarwin checks that it builds for darwin.
package main

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shroud-dev/shroud/internal/must"
)

// shroudBin is the binary under test, built once by TestMain.
var shroudBin string

// repoRoot is the module root, where README.md and examples/ live.
var repoRoot string

func TestMain(m *testing.M) {
	if mode := os.Getenv("SHROUD_E2E_CHILD"); mode != "" {
		os.Exit(e2eChild(mode)) // child_test.go
	}
	dir, err := os.MkdirTemp("", "shroud-e2e-")
	if err != nil {
		panic(err)
	}
	shroudBin = filepath.Join(dir, "shroud")
	// Built as the Makefile's release build is, so the tests run what ships.
	build := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-o", shroudBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building shroud: %v\n%s", err, out)
		os.Exit(1)
	}
	wd, _ := os.Getwd()
	repoRoot = filepath.Join(wd, "..", "..")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// canaries are the secret values planted in examples/local and in the tests'
// own files. None may appear in shroud's diagnostics or in check's table.
var canaries = []string{"canary-db-pw-7Hq2xT", "canary-api-key-Xy91Lm", "canary-tls-key-Pz4kW0", "canary-e2e-Vb5nR8"}

type result struct {
	stdout, stderr string
	code           int
	signal         syscall.Signal
	pid            int
}

// shroud runs the binary in dir with args; env entries are added to a
// minimal environment.
func shroud(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(shroudBin, args...)
	cmd.Dir = dir
	// No test may reach EC2 instance metadata, a link-local address.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=/home/test", "AWS_EC2_METADATA_DISABLED=true"}, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), pid: cmd.Process.Pid}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signal = ws.Signal()
		}
	case err != nil:
		t.Fatal(err)
	}
	return r
}

// noCanary fails if any planted secret value appears in the diagnostics.
func noCanary(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		for _, c := range canaries {
			if strings.Contains(text, c) {
				t.Errorf("%s leaks a secret value (%s):\n%s", what, c, text)
			}
		}
	}
}

// localExample copies examples/local into a temporary directory, so tests
// write files there and not into the checkout.
func localExample(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join(repoRoot, "examples", "local")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "run" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func write(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	must.Succeed(t, os.MkdirAll(filepath.Dir(p), 0o755))
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestQuickStart runs the first Quick start command of README.md as written,
// from the repository root.
func TestQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles with go run")
	}
	cmds := readmeQuickStart(t)
	if len(cmds) != 2 {
		t.Fatalf("README Quick start has %d commands, want exactly 2: %q", len(cmds), cmds)
	}
	if cmds[1] != "go test -race ./..." {
		t.Errorf("the second Quick start command should run the tests under the race detector: %q", cmds[1])
	}
	// .ci/run runs it as JSON, for its summary of failures and skips.
	ci, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
	asJSON := strings.TrimSuffix(cmds[1], " ./...") + " -json ./... | go run .ci/testsummary.go"
	if err != nil || !strings.Contains(string(ci), "\n"+asJSON+"\n") {
		t.Errorf(".ci/run must run the README's test command %q, as %q", cmds[1], asJSON)
	}
	// The command writes the example's files into the checkout, as it does
	// for a reader; leave the checkout as it was found.
	written := filepath.Join(repoRoot, "examples", "local", "run")
	if _, err := os.Stat(written); os.IsNotExist(err) {
		t.Cleanup(func() { os.RemoveAll(written) })
	}
	cmd := exec.Command("sh", "-c", cmds[0])
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmds[0], err, out)
	}
	if string(out) != "db user: app\n" {
		t.Fatalf("%s printed %q", cmds[0], out)
	}
}

func readmeQuickStart(t *testing.T) []string {
	f, err := os.Open(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []string
	section, block := false, false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = strings.HasPrefix(line, "## Quick start")
		case section && strings.HasPrefix(line, "```"):
			block = !block
		case section && block && strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "#"):
			cmds = append(cmds, line)
		}
	}
	return cmds
}

func TestRunLocalExample(t *testing.T) {
	dir := localExample(t)
	r := shroud(t, dir, nil, "run", "--config", "shroud.toml", "--",
		"sh", "-c", `printf '%s|%s|%s|%s|' "$DB_USER" "$DB_PORT" "$HOME" "$$"; test "$API_KEY" = canary-api-key-Xy91Lm && test "$DB_PASSWORD" = canary-db-pw-7Hq2xT && echo secrets-ok`)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// The child replaced shroud: same PID, wrapper env kept, secrets added.
	want := fmt.Sprintf("app|5432|/home/test|%d|secrets-ok\n", r.pid)
	if r.stdout != want {
		t.Fatalf("stdout = %q, want %q", r.stdout, want)
	}
	for path, content := range map[string]string{
		"run/tls/server.key": "canary-tls-key-Pz4kW0",
		"run/db-password":    "canary-db-pw-7Hq2xT",
	} {
		info, err := os.Stat(filepath.Join(dir, path))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o400 {
			t.Errorf("%s mode = %v, want 0400", path, info.Mode().Perm())
		}
		data, _ := os.ReadFile(filepath.Join(dir, path))
		if !strings.Contains(string(data), content) {
			t.Errorf("%s = %q", path, data)
		}
	}
	if info, _ := os.Stat(filepath.Join(dir, "run")); info.Mode().Perm() != 0o700 {
		t.Errorf("created directory mode = %v, want 0700", info.Mode().Perm())
	}
	noCanary(t, "stderr", r.stderr)
}

func TestRunFlagsAndEnvRefs(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "s/db.json", `{"password":"canary-e2e-Vb5nR8"}`)
	r := shroud(t, dir, []string{"FROM_ENV=file:s/db.json#password", "KEEP=postgres://db/app", "OVERRIDDEN=old"},
		"run", "--secret", "PW=file:s/db.json#password", "--secret", "OVERRIDDEN=env:HOME", "--env-refs", "--",
		"sh", "-c", `test "$PW" = canary-e2e-Vb5nR8 && test "$FROM_ENV" = canary-e2e-Vb5nR8 && echo "$OVERRIDDEN $KEEP"`)
	if r.code != 0 || r.stdout != "/home/test postgres://db/app\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// SHROUD_CONFIG names the config when --config is absent.
	ex := localExample(t)
	r = shroud(t, ex, []string{"SHROUD_CONFIG=shroud.toml"}, "run", "--", "sh", "-c", `echo "$DB_USER"`)
	if r.code != 0 || r.stdout != "app\n" {
		t.Fatalf("SHROUD_CONFIG: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestRunExitStatus(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "noexec", "#!/bin/sh\n")
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run", "--", "sh", "-c", "exit 7"}, 7, ""},
		{[]string{"run", "--", "sh", "-c", "exit 0"}, 0, ""},
		{[]string{"run", "--", "no-such-command-q7"}, 127, "no-such-command-q7: command not found"},
		{[]string{"run", "--", "./noexec"}, 126, "permission denied"},
		{[]string{"run"}, 125, "no command to run"},
		{[]string{"run", "--bogus", "--", "true"}, 125, "flag provided but not defined: -bogus"},
		{[]string{"run", "--config", "missing.toml", "--", "true"}, 125, "missing.toml"},
		{[]string{"check", "--bogus"}, 2, "see shroud check --help"},
		{[]string{"run", "--log-level", "bogus", "--", "true"}, 125, `--log-level "bogus"`},
		{[]string{"--log-format", "yaml", "check"}, 2, `--log-format "yaml"`},
		{[]string{"run", "--log-level", "debug", "--", "true"}, 0, ""},
		{[]string{"get", "env:SHROUD_TEST_UNSET"}, 1, `shroud: reference "env:SHROUD_TEST_UNSET" (env): variable SHROUD_TEST_UNSET is not set in shroud's environment` + "\n"},
		{[]string{"get"}, 2, "give exactly one reference"},
	} {
		r := shroud(t, dir, nil, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("shroud %v: exit %d stderr %q, want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.msg)
		}
	}
	// On the fast path the child is shroud's own process, so a signal death
	// is seen by shroud's parent as it is.
	r := shroud(t, dir, nil, "run", "--", "sh", "-c", "kill -TERM $$")
	if r.signal != syscall.SIGTERM {
		t.Errorf("signal = %v, want SIGTERM", r.signal)
	}
}

// TestRunBadReferences checks that every bad reference is reported in one
// message, with exit 125 and no child started, and that no value leaks.
func TestRunBadReferences(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "s/db.json", `{"user":"app","password":"canary-e2e-Vb5nR8"}`)
	write(t, dir, "s/list.json", `["canary-e2e-Vb5nR8"]`)
	write(t, dir, "s/blob", "canary-e2e-Vb5nR8\x00\xff")
	write(t, dir, "bad-syntax.toml", `
[[secrets]]
name = "A"
value_from = "vault:secret/a"
[[secrets]]
name = "B"
value_from = "arn:aws:ssm:us-east-1:12345:parameter/x"
`)
	write(t, dir, "bad-values.toml", `
[[secrets]]
name = "MISSING_FILE"
value_from = "file:s/nope.json#password"
[[secrets]]
name = "MISSING_KEY"
value_from = "file:s/db.json#passwd"
[[secrets]]
name = "NOT_OBJECT"
value_from = "file:s/list.json#password"
[[secrets]]
name = "CLOUD"
value_from = "sm:prod/db:password"
[[secrets]]
name = "UNSET"
value_from = "env:SHROUD_TEST_UNSET"
[[files]]
path = "out/never-written"
value_from = "file:s/db.json#password"
`)
	write(t, dir, "binary.toml", `
[[secrets]]
name = "BLOB"
value_from = "file:s/blob"
`)
	marker := filepath.Join(dir, "child-ran")
	child := []string{"--", "sh", "-c", "touch " + marker}

	r := shroud(t, dir, nil, append([]string{"run", "--config", "bad-syntax.toml"}, child...)...)
	for _, want := range []string{"2 problems", `"vault:secret/a": unknown scheme`, `invalid account "12345"`} {
		if r.code != 125 || !strings.Contains(r.stderr, want) {
			t.Errorf("bad-syntax: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}

	r = shroud(t, dir, nil, append([]string{"run", "--config", "bad-values.toml"}, child...)...)
	for _, want := range []string{
		"5 problems",
		`reference "file:s/nope.json#password" (file): file ` + dir + `/s/nope.json does not exist`,
		`reference "file:s/db.json#passwd" (file): key "passwd" not found; the json object has keys "password", "user"`,
		`reference "file:s/list.json#password" (file): cannot select key "password": the value is not a JSON object`,
		`reference "sm:prod/db:password" (secretsmanager): no default AWS region`,
		`reference "env:SHROUD_TEST_UNSET" (env): variable SHROUD_TEST_UNSET is not set`,
	} {
		if r.code != 125 || !strings.Contains(r.stderr, want) {
			t.Errorf("bad-values: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("a file was written although resolution failed")
	}

	r = shroud(t, dir, nil, append([]string{"run", "--config", "binary.toml"}, child...)...)
	if r.code != 125 || !strings.Contains(r.stderr, "for BLOB is binary") {
		t.Errorf("binary: exit %d stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the child ran although shroud failed")
	}

	// --log-format json gives one record with every error.
	r = shroud(t, dir, nil, append([]string{"--log-format", "json", "run", "--config", "bad-values.toml"}, child...)...)
	if r.code != 125 || !strings.HasPrefix(r.stderr, `{"time":`) || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, `"errors":[`) {
		t.Errorf("json: exit %d stderr %q", r.code, r.stderr)
	}

	// check lists the same failures and the table, never a value.
	c := shroud(t, dir, nil, "check", "--config", "bad-values.toml")
	if c.code != 1 || !strings.Contains(c.stderr, "5 problems") || !strings.Contains(c.stdout, "env MISSING_KEY") {
		t.Errorf("check: exit %d\n%s\n%s", c.code, c.stdout, c.stderr)
	}
	noCanary(t, "diagnostics", r.stderr, c.stdout, c.stderr)
	for _, args := range [][]string{
		{"run", "--config", "bad-values.toml", "--", "true"},
		{"run", "--config", "binary.toml", "--", "true"},
		{"check", "--config", "binary.toml"},
		{"--log-level", "debug", "render", "--config", "bad-syntax.toml"},
		{"get", "file:s/db.json#nokey"},
		{"get", "file:s/list.json#k"},
	} {
		r := shroud(t, dir, nil, args...)
		if r.code == 0 {
			t.Errorf("shroud %v succeeded", args)
		}
		noCanary(t, fmt.Sprint(args), r.stdout, r.stderr)
	}
}

func TestCheck(t *testing.T) {
	dir := localExample(t)
	r := shroud(t, dir, nil, "check", "--config", "shroud.toml", "--secret", "EXTRA=env:HOME")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	// 4 env vars, EXTRA, 2 raw files, and a row per reference of the
	// templated DSN (4) and of the .env file (4).
	if len(lines) != 1+4+1+2+4+4 {
		t.Fatalf("want a header and 15 rows:\n%s", r.stdout)
	}
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "TARGET REFERENCE BACKEND REGION VERSION STATUS" {
		t.Errorf("header = %q", lines[0])
	}
	for _, want := range []string{"env DB_PASSWORD", "file:secrets/db.json#password", "file " + filepath.Join(dir, "run/tls/server.key"), "env EXTRA"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	noCanary(t, "check", r.stdout, r.stderr)
	if _, err := os.Stat(filepath.Join(dir, "run")); err == nil {
		t.Error("check wrote files")
	}
}

func TestGetAndRender(t *testing.T) {
	dir := localExample(t)
	r := shroud(t, dir, nil, "get", "file:secrets/db.json#password")
	if r.code != 0 || r.stdout != "canary-db-pw-7Hq2xT" {
		t.Fatalf("get: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = shroud(t, dir, nil, "render", "--config", "shroud.toml")
	if r.code != 0 || strings.Count(r.stderr, "file rendered") != 4 || !strings.Contains(r.stderr, "changed=true") {
		t.Fatalf("render: exit %d stderr %q", r.code, r.stderr)
	}
	info, err := os.Stat(filepath.Join(dir, "run", "db-password"))
	if err != nil || info.Mode().Perm() != 0o400 {
		t.Fatalf("render wrote %v, %v", info, err)
	}
	// Unchanged on the second render.
	r = shroud(t, dir, nil, "render", "--config", "shroud.toml")
	if r.code != 0 || strings.Contains(r.stderr, "changed=true") {
		t.Fatalf("second render: exit %d stderr %q", r.code, r.stderr)
	}
	noCanary(t, "render", r.stdout, r.stderr)
}

func TestECSTaskDefinition(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "pw", "canary-e2e-Vb5nR8")
	write(t, dir, "task.json", `{"family":"app","containerDefinitions":[{"name":"app","image":"x",
	  "environment":[{"name":"STAGE","value":"prod"}],
	  "secrets":[{"name":"PW","valueFrom":"file:pw"}]}]}`)
	r := shroud(t, dir, nil, "run", "--ecs-task-definition", "task.json", "--", "sh", "-c", `test "$PW" = canary-e2e-Vb5nR8 && echo "$STAGE"`)
	if r.code != 0 || r.stdout != "prod\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestBinaryIsStatic: the release build needs no libc, so it runs in any
// image (scratch, distroless, Alpine).
func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(shroudBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("shroud is dynamically linked (it has an ELF interpreter); build with CGO_ENABLED=0")
		}
	}
}

// TestVersion: a release build prints the version the Makefile stamps
// into it (-X main.version); any other build prints its module's version
// from its build info, or "devel" when it has none.
func TestVersion(t *testing.T) {
	t.Run("release build", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "shroud")
		build := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-ldflags", "-X main.version=v1.2.3-test", "-o", bin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building: %v\n%s", err, out)
		}
		out, err := exec.Command(bin, "version").Output()
		if err != nil || string(out) != "v1.2.3-test\n" {
			t.Fatalf("version: %q, %v; want v1.2.3-test", out, err)
		}
	})
	t.Run("other builds", func(t *testing.T) {
		info, err := buildinfo.ReadFile(shroudBin)
		if err != nil {
			t.Fatal(err)
		}
		want := info.Main.Version
		if want == "" || want == "(devel)" {
			want = "devel"
		}
		r := shroud(t, t.TempDir(), nil, "version")
		if r.code != 0 || r.stdout != want+"\n" {
			t.Fatalf("version: exit %d, %q; want %q", r.code, r.stdout, want)
		}
	})
}
