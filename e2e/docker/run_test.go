package docker

// Each comparison runs the child twice: in a busybox container under
// Docker's driver, and under shroud run on the host, beside the test. On
// the host, shroud's child is the same busybox with the same argv (so
// {{.Command}} is the same), its host name is the daemon's (GELF's and
// Splunk's host, syslog's hostname), it reaches the same loopback and
// unix-socket receivers the daemon (in the host's network namespace)
// reaches, and it costs no container start. How shroud behaves as a
// container's entrypoint is the image tests' part (image_test.go).

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// opt is one log option, name=value as docker run --log-opt takes it.
type opt struct{ name, value string }

// runDocker runs script with busybox sh in a container named name, with
// Docker's driver and options and env vars (NAME=value), waits for it to
// end and returns its id.
func runDocker(t *testing.T, name, driver string, opts []opt, env []string, script string) string {
	t.Helper()
	id := startDocker(t, name, driver, opts, env, script)
	if code := strings.TrimSpace(mustDocker(t, "wait", id)); code != "0" {
		t.Fatalf("the container exited %s", code)
	}
	return id
}

// startDocker starts what runDocker runs, with more docker run arguments,
// and returns the container's id.
func startDocker(t *testing.T, name, driver string, opts []opt, env []string, script string, more ...string) string {
	t.Helper()
	args := []string{"run", "-d", "--name", name, "--label", "shroud-e2e=" + runID, "--log-driver", driver}
	for _, o := range opts {
		args = append(args, "--log-opt", o.name+"="+o.value)
	}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(append(args, more...), bbImage, "sh", "-c", script)
	return strings.TrimSpace(mustDocker(t, args...))
}

// runShroud runs script with busybox sh under shroud run on the host, with
// shroud's driver and the same options and env vars, and returns shroud's
// pid and stderr (its diagnostics).
func runShroud(t *testing.T, driver string, opts []opt, env []string, script string) (int, string) {
	t.Helper()
	cmd, stderr := shroudCmd(t, driver, opts, env, script)
	if out, err := cmd.Output(); err != nil || len(out) > 0 {
		t.Fatalf("shroud run: %v, stdout %q (tee is off), stderr:\n%s", err, out, stderr.String())
	}
	return cmd.Process.Pid, stderr.String()
}

// shroudCmd is the command runShroud runs, and its stderr.
func shroudCmd(t *testing.T, driver string, opts []opt, env []string, script string) (*exec.Cmd, *strings.Builder) {
	cmd := exec.Command(shroudBin, "run", "--config", writeConfig(t, driver, opts), "--", busybox, "sh", "-c", script)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	return cmd, &stderr
}

// writeConfig writes a config with a [log] section of driver and options,
// tee off, and returns its path.
func writeConfig(t *testing.T, driver string, opts []opt) string {
	t.Helper()
	options := map[string]string{}
	for _, o := range opts {
		options[o.name] = o.value
	}
	var cfg bytes.Buffer
	if err := toml.NewEncoder(&cfg).Encode(map[string]any{
		"log": map[string]any{"driver": driver, "options": options, "tee": false},
	}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shroud.toml")
	if err := os.WriteFile(path, cfg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
