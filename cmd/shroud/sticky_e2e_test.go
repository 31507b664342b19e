//go:build linux

package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// nobody is the second user of these tests: shroud runs as root, and
// another local user tries to replace its files.
const nobody = 65534

// asNobody runs a shell script as uid and gid 65534 and returns what it
// printed.
func asNobody(t *testing.T, script string, env ...string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = "/"
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the script as uid %d: %v\n%s", nobody, err, out)
	}
	return string(out)
}

// TestStickyDirectorySet writes a set of files into a sticky directory
// every user may write to (as /tmp, /dev/shm, docker run --tmpfs), then
// has another user try to delete, replace and add files inside ..data/,
// and to move the links: all fail, and the files keep their content. Before,
// the generation directory was 0777 without the sticky bit, so any local
// user could delete the 0400 key and put their own in its place.
func TestStickyDirectorySet(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to act as a second user")
	}
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755) // another user must reach the shared directory
	os.Chmod(dir, 0o755)
	shared := filepath.Join(dir, "tmp")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "src/key", canaries[2])
	write(t, dir, "src/crt", "certificate")
	cfg := write(t, dir, "shroud.toml", fmt.Sprintf(`
[[files]]
path = %q
value_from = "file:src/key"
mode = "0400"
[[files]]
path = %q
value_from = "file:src/crt"
mode = "0444"
`, filepath.Join(shared, "tls.key"), filepath.Join(shared, "tls.crt")))
	if r := shroud(t, dir, nil, "render", "--config", cfg); r.code != 0 {
		t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
	}
	attempts := map[string]string{
		"delete the key":          `rm -f "$D/..data/tls.key"`,
		"replace the key":         `echo evil > "$D/..data/tls.key.new" && mv -f "$D/..data/tls.key.new" "$D/..data/tls.key"`,
		"add a file":              `echo evil > "$D/..data/evil"`,
		"move the generation":     `mv "$D/..data/" "$D/moved"`,
		"swap ..data":             `ln -sfn /etc "$D/..data"`,
		"delete the link":         `rm -f "$D/tls.key"`,
		"replace the link":        `ln -sfn /etc/hostname "$D/tls.crt"`,
		"chmod the generation":    `chmod 0777 "$D/..data/"`,
		"write the certificate":   `echo evil > "$D/tls.crt"`,
		"truncate through a link": `: > "$D/tls.crt"`,
	}
	var script strings.Builder
	for what, cmd := range attempts {
		fmt.Fprintf(&script, "if (%s) 2>/dev/null; then echo 'done: %s'; fi\n", cmd, what)
	}
	if out := asNobody(t, script.String(), "D="+shared); out != "" {
		t.Errorf("another user could change the set:\n%s", out)
	}
	gen, _ := os.Readlink(filepath.Join(shared, "..data"))
	info, err := os.Stat(filepath.Join(shared, gen))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o755 {
		t.Errorf("the generation directory is %v; want 0755", info.Mode())
	}
	if got := readFile(t, filepath.Join(shared, "tls.key")); got != canaries[2] {
		t.Errorf("tls.key = %q", got)
	}
}

// TestWorldWritableDirectoryWarns: a directory every user may write to
// without the sticky bit (a Kubernetes emptyDir is 0777) lets anyone
// replace the files; shroud writes there, as pods need, and says so.
func TestWorldWritableDirectoryWarns(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o777)
	write(t, dir, "src/key", canaries[2])
	cfg := write(t, dir, "shroud.toml", fmt.Sprintf("[[files]]\npath = %q\nvalue_from = \"file:src/key\"\n", filepath.Join(open, "key")))
	r := shroud(t, dir, nil, "render", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stderr, "every user may write to, without the sticky bit") || !strings.Contains(r.stderr, "dir="+open) {
		t.Errorf("exit %d, want 0 and a warning naming %s:\n%s", r.code, open, r.stderr)
	}
	os.Chmod(open, 0o777|fs.ModeSticky)
	if r := shroud(t, dir, nil, "render", "--config", cfg); strings.Contains(r.stderr, "sticky") {
		t.Errorf("a warning for a sticky directory:\n%s", r.stderr)
	}
}

// generationsOf lists the generation directories of the set in dir.
func generationsOf(dir string) []string {
	var gens []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "..") {
			gens = append(gens, e.Name())
		}
	}
	return gens
}

const setConfig = `
[rotation]
interval = "0"

[[files]]
path = "out/user"
value_from = "file:src/user"
[[files]]
path = "out/pw"
value_from = "file:src/pw"
`

// TestRotateExitRetiresGenerations: when shroud run or shroud sidecar
// ends, the replaced generations of a set go with it, even within their
// grace: old secret values do not outlive shroud. Before, one always
// remained, and all of a recent burst.
func TestRotateExitRetiresGenerations(t *testing.T) {
	c := rotCanaries
	t.Run("run", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "src/user", "app")
		write(t, dir, "src/pw", c[0])
		write(t, dir, "shroud.toml", setConfig)
		rec := filepath.Join(dir, "rec")
		out := filepath.Join(dir, "out")
		s := startShroud(t, []string{"SHROUD_E2E_CHILD=rotation", "REC=" + rec, "SECRET_FILE=" + filepath.Join(out, "pw")},
			"run", "--config", filepath.Join(dir, "shroud.toml"), "--", os.Args[0])
		awaitRec(t, rec, "the child", atLeast("start ", 1))
		for i := 1; i <= 2; i++ {
			replaceFile(t, filepath.Join(dir, "src", "pw"), c[i])
			awaitRec(t, rec, "the rotation", has("SIGHUP "+c[i]))
		}
		before := generationsOf(out)
		if len(before) < 2 {
			t.Fatalf("generations %v before the stop: nothing replaced to retire", before)
		}
		s.signal(t, unix.SIGTERM)
		if code := s.wait(t); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if gens := generationsOf(out); len(gens) != 1 {
			t.Errorf("after exit the set has generations %v (before the stop %v); want only the current", gens, before)
		}
		if got := readFile(t, filepath.Join(out, "pw")); got != c[2] {
			t.Errorf("pw = %q", got)
		}
	})
	t.Run("sidecar", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "src/user", "app")
		write(t, dir, "src/pw", c[0])
		write(t, dir, "shroud.toml", setConfig)
		out := filepath.Join(dir, "out")
		s := startShroud(t, nil, "sidecar", "--config", filepath.Join(dir, "shroud.toml"))
		for i := 0; i <= 2; i++ {
			if i > 0 {
				replaceFile(t, filepath.Join(dir, "src", "pw"), c[i])
			}
			waitFor(t, "the rotation", func() bool { data, _ := os.ReadFile(filepath.Join(out, "pw")); return string(data) == c[i] })
		}
		before := generationsOf(out)
		if len(before) < 2 {
			t.Fatalf("generations %v before the stop: nothing replaced to retire", before)
		}
		s.signal(t, unix.SIGTERM)
		if code := s.wait(t); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if gens := generationsOf(out); len(gens) != 1 {
			t.Errorf("after exit the set has generations %v (before the stop %v); want only the current", gens, before)
		}
	})
}
