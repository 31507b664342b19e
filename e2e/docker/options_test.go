package docker

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOptionsAsDocker gives both sides the same options and checks that
// they accept and refuse the same ones (but where they differ by design).
// json-file cases set max-size and max-file, so that the daemon's own
// defaults (daemon.json log-opts) do not change what Docker gets.
func TestOptionsAsDocker(t *testing.T) {
	requireDocker(t)
	srv := startSyslog(t, "udp")
	sized := []opt{{"max-size", "1m"}, {"max-file", "1"}}
	syslog := []opt{{"syslog-address", srv.addr}}
	for _, tt := range []struct {
		name           string
		driver         string
		opts           []opt
		docker, shroud bool // accepted
		why            string
	}{
		{"max-buffer-size needs non-blocking", "json-file", append(sized, opt{"max-buffer-size", "1m"}), false, false, ""},
		{"non-blocking with max-buffer-size", "json-file", append(sized, opt{"mode", "non-blocking"}, opt{"max-buffer-size", "1m"}), true, true, ""},
		{"unknown mode", "json-file", append(sized, opt{"mode", "fast"}), false, false, ""},
		{"max-buffer-size not a size", "json-file", append(sized, opt{"mode", "non-blocking"}, opt{"max-buffer-size", "lots"}), false, false, ""},
		{"unknown option", "json-file", append(sized, opt{"colour", "blue"}), false, false, ""},
		{"tag with an unknown field", "json-file", append(sized, opt{"tag", "{{.Nope}}"}), false, false, ""},
		{"env-regex not a regexp", "json-file", append(sized, opt{"env-regex", "("}), false, false, ""},
		{"max-size 0", "json-file", []opt{{"max-size", "0"}, {"max-file", "1"}}, false, false, ""},
		{"max-file 0", "json-file", []opt{{"max-size", "1m"}, {"max-file", "0"}}, false, false, ""},
		{"compress with one file", "json-file", append(sized, opt{"compress", "true"}), false, false, ""},
		{"compress with two files", "json-file", []opt{{"max-size", "1m"}, {"max-file", "2"}, {"compress", "true"}}, true, true, ""},
		{"syslog format unknown", "syslog", append(syslog, opt{"syslog-format", "rfc9999"}), false, false, ""},
		{"syslog facility unknown", "syslog", append(syslog, opt{"syslog-facility", "local9"}), false, false, ""},
		{"syslog facility by number", "syslog", append(syslog, opt{"syslog-facility", "17"}), true, true, ""},
		{"syslog address scheme unknown", "syslog", []opt{{"syslog-address", "smoke://127.0.0.1:514"}}, false, false, ""},
		{"labels", "json-file", append(sized, opt{"labels", "team"}), true, false,
			"shroud has no container labels: it refuses rather than silently drop the fields"},
		{"max-size -1", "json-file", []opt{{"max-size", "-1"}, {"max-file", "1"}}, false, true,
			"shroud takes -1, the default Docker documents (no limit), which Docker's parser refuses"},
		{"max-buffer-size 0", "json-file", append(sized, opt{"mode", "non-blocking"}, opt{"max-buffer-size", "0"}), true, false,
			"shroud refuses a buffer that holds nothing; Docker keeps one message"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			docker := dockerAccepts(t, tt.driver, tt.opts)
			shroud := shroudAccepts(t, tt.driver, tt.opts)
			tb := newTable(t, tt.driver+" options")
			if tt.why == "" {
				tb.same(tt.name, docker, shroud)
			} else {
				tb.intended(tt.name, docker, tt.docker, shroud, tt.shroud, tt.why)
			}
			if tt.why == "" && docker != tt.docker {
				t.Errorf("Docker accepted: %v, want %v", docker, tt.docker)
			}
		})
	}
}

// dockerAccepts runs true in a container with the driver and options.
func dockerAccepts(t *testing.T, driver string, opts []opt) bool {
	t.Helper()
	args := []string{"run", "--rm", "--name", containerName(t), "--label", "shroud-e2e=" + runID, "--log-driver", driver}
	for _, o := range opts {
		args = append(args, "--log-opt", o.name+"="+o.value)
	}
	_, err := dockerCLI(append(args, bbImage, "true")...)
	if err != nil && !strings.Contains(err.Error(), "exit status 125") {
		t.Fatal(err)
	}
	return err == nil
}

// shroudAccepts runs true under shroud run with the driver and options.
func shroudAccepts(t *testing.T, driver string, opts []opt) bool {
	t.Helper()
	if driver == "json-file" {
		opts = append(opts, opt{"path", filepath.Join(t.TempDir(), "app-json.log")})
	}
	path := writeConfig(t, driver, opts)
	err := exec.Command(shroudBin, "run", "--config", path, "--", busybox, "true").Run()
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 125) {
		t.Fatal(err)
	}
	return err == nil
}
