//go:build linux

// The tests of package child run on Linux only: they start real processes
// and follow them in /proc. On darwin the package is checked by building
// and vetting it (see cmd/shroud's TestBuildsForDarwin).
package child

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/internal/must"
)

// TestMain lets a test re-run this binary as a process that calls Exec, so
// the real execve is exercised: SHROUD_TEST_EXEC holds the argv, one per line.
func TestMain(m *testing.M) {
	if argv := os.Getenv("SHROUD_TEST_EXEC"); argv != "" {
		env := []string{"PATH=" + os.Getenv("PATH"), "FROM_EXEC=yes"}
		env = append(env, bigEnv(os.Getenv("SHROUD_TEST_BIG_ENV"))...) // hardening_test.go
		err := Exec(strings.Split(argv, "\n"), env)
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(ExitCode(err))
	}
	if os.Getenv("SHROUD_TEST_CHILD") != "" {
		testChild() // supervise_test.go
	}
	if os.Getenv("SHROUD_TEST_SUPERVISOR") != "" {
		supervisorHelper() // hardening_test.go
	}
	os.Exit(m.Run())
}

func execHelper(t *testing.T, path string, argv ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{"SHROUD_TEST_EXEC=" + strings.Join(argv, "\n"), "PATH=" + path}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func script(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExec(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "hello", "#!/bin/sh\necho \"hello $1 pid=$$ from=$FROM_EXEC\"\nexit 7\n", 0o755)
	script(t, dir, "noexec", "#!/bin/sh\necho no\n", 0o644)
	script(t, dir, "badinterp", "#!/nonexistent/interpreter\n", 0o755)
	script(t, dir, "noshebang", "\x7fELF garbage", 0o755)
	must.Succeed(t, os.Mkdir(filepath.Join(dir, "adir"), 0o755))
	path := dir + ":/usr/bin:/bin"

	out, _, code := execHelper(t, path, "hello", "world")
	if code != 7 || !strings.HasPrefix(out, "hello world pid=") || !strings.HasSuffix(out, "from=yes\n") {
		t.Fatalf("out=%q code=%d", out, code)
	}
	tests := []struct {
		argv []string
		code int
		msg  string
	}{
		{[]string{"no-such-command-xyz"}, ExitNotFound, "command not found in PATH"},
		{[]string{dir + "/missing"}, ExitNotFound, "no such file"},
		{[]string{"noexec"}, ExitNotExecutable, "is not executable (permission denied)"},
		{[]string{dir + "/noexec"}, ExitNotExecutable, "permission denied"},
		{[]string{dir + "/adir"}, ExitNotExecutable, "permission denied"},
		{[]string{"badinterp"}, ExitNotExecutable, "bad interpreter"},
		{[]string{"noshebang"}, ExitNotExecutable, "exec format error"},
	}
	for _, tt := range tests {
		_, stderr, code := execHelper(t, path, tt.argv...)
		if code != tt.code || !strings.Contains(stderr, tt.msg) {
			t.Errorf("%v: code=%d stderr=%q, want %d and %q", tt.argv, code, stderr, tt.code, tt.msg)
		}
		// A path is named once ("./app: no such file", not "./app: ./app:
		// no such file"); a name found in PATH is followed by the path.
		if n := strings.Count(stderr, tt.argv[0]); n != 1 && strings.Contains(tt.argv[0], "/") {
			t.Errorf("%v: %q names it %d times", tt.argv, stderr, n)
		}
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, "tool", "#!/bin/sh\n", 0o755)
	script(t, dir, "plain", "", 0o644)
	other := t.TempDir()
	script(t, other, "plain", "#!/bin/sh\n", 0o755)

	// A non-executable match earlier in PATH is skipped, as in a shell.
	if got, err := LookPath("plain", []string{"PATH=" + dir + ":" + other}); err != nil || got != filepath.Join(other, "plain") {
		t.Errorf("LookPath(plain) = %q, %v", got, err)
	}
	// The first PATH definition wins, as getenv(3) sees it.
	if got, err := LookPath("tool", []string{"PATH=" + dir, "PATH=/nonexistent"}); err != nil || got != filepath.Join(dir, "tool") {
		t.Errorf("LookPath(tool) = %q, %v", got, err)
	}
	// An empty PATH entry is the working directory.
	t.Chdir(dir)
	if got, err := LookPath("tool", []string{"PATH=/nonexistent::"}); err != nil || got != "./tool" {
		t.Errorf("LookPath(tool) with an empty entry = %q, %v", got, err)
	}
	// No PATH at all: execvp's default.
	if got, err := LookPath("sh", nil); err != nil || !strings.HasSuffix(got, "/sh") {
		t.Errorf("LookPath(sh) without PATH = %q, %v", got, err)
	}
	if _, err := LookPath("", nil); ExitCode(err) != ExitNotFound {
		t.Errorf("empty name: %v", err)
	}
	if ExitCode(errors.New("other")) != ExitFailure {
		t.Error("a plain error must map to 125")
	}
	if got := strconv.Itoa(ExitCode(&StartError{Code: 126})); got != "126" {
		t.Error(got)
	}
}
