package docker

// The image, run for real: shroud is the entrypoint of a FROM scratch
// image (the shroud binary, a static busybox, a config reading local
// files), run as user 65532, stopped, signalled and inspected by Docker.

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// imageCanary is the image's secret: the child gets it, no log may show it.
const imageCanary = "canary-image-db-Kx83Rw"

// imageDockerfile is the image of the image tests. Its entrypoint is the
// one the README gives; shroud supervises as PID 1 without being asked.
const imageDockerfile = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "busybox --install -s /bin && mkdir -p -m 0700 /run/secrets && chown 65532:65532 /run/secrets"]
COPY shroud /shroud
COPY shroud.toml /etc/shroud.toml
COPY --chown=65532:65532 db.json /etc/shroud/db.json
USER 65532
ENTRYPOINT ["/shroud", "run", "--config", "/etc/shroud.toml", "--"]
CMD ["sh", "-c", "echo ready"]
`

// imageConfig binds the secret to an env var and to a file in
// /run/secrets, which a read-only container mounts as a tmpfs.
const imageConfig = `files_root = "/run/secrets"

[[secrets]]
name = "DB_PASSWORD"
value_from = "file:/etc/shroud/db.json#password"

[[files]]
path = "/run/secrets/db-password"
value_from = "file:/etc/shroud/db.json#password"
`

func imageFiles() map[string]contextFile {
	return map[string]contextFile{
		"shroud.toml": {data: imageConfig, mode: 0o644},
		"db.json":     {data: `{"password":"` + imageCanary + `"}`, mode: 0o400},
	}
}

// startImage runs the image detached with docker run args and the
// command (the child, after the entrypoint's --), and returns the
// container's name once the child has printed "ready".
func startImage(t *testing.T, args []string, command ...string) string {
	t.Helper()
	name := containerName(t)
	run := append([]string{"run", "-d", "--name", name, "--label", "shroud-e2e=" + runID}, args...)
	mustDocker(t, append(append(run, shroudImage), command...)...)
	waitLogs(t, name, "ready")
	return name
}

// waitLogs waits until the container's output holds text, and returns it.
func waitLogs(t *testing.T, name, text string) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := dockerCLI("logs", name)
		if err == nil && strings.Contains(out, text) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not print %q in 20 s: %s%v", text, out, err)
		}
	}
}

// exitCode is the status the container exited with.
func exitCode(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.ExitCode}}", name))
}

// stopTime stops the container with docker stop (SIGTERM, then SIGKILL
// after timeout) and returns how long it took the container to end, by
// the daemon's record of when it did.
func stopTime(t *testing.T, name string, timeout int) time.Duration {
	t.Helper()
	start := time.Now()
	mustDocker(t, "stop", "-t", strconv.Itoa(timeout), name)
	out := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.FinishedAt}}", name))
	finished, err := time.Parse(time.RFC3339Nano, out)
	if err != nil {
		t.Fatalf("the container's end %q: %v", out, err)
	}
	return finished.Sub(start)
}

// TestImageStop stops the image with docker stop: shroud, PID 1, passes
// SIGTERM to the child, which ends within a second, and the container
// exits with the child's status (no SIGKILL after docker stop's timeout).
func TestImageStop(t *testing.T) {
	requireDocker(t)
	for _, tt := range []struct {
		name, script, code string
	}{
		{"trapped", `trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done`, "3"},
		{"killed", `echo ready; exec sleep 1000`, "143"}, // 128+SIGTERM
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := startImage(t, nil, "sh", "-c", tt.script)
			d := stopTime(t, name, 10)
			if d > time.Second {
				t.Errorf("the container ended %v after docker stop, want under 1 s", d.Round(time.Millisecond))
			}
			t.Logf("the container ended %v after docker stop", d.Round(time.Millisecond))
			if code := exitCode(t, name); code != tt.code {
				t.Errorf("the container exited %s, want the child's %s", code, tt.code)
			}
		})
	}
}

// TestImageHUP sends SIGHUP with docker kill: the child gets it once.
func TestImageHUP(t *testing.T) {
	requireDocker(t)
	name := startImage(t, nil, "sh", "-c", `trap "echo got-hup" HUP; echo ready; while :; do sleep 0.1; done`)
	mustDocker(t, "kill", "--signal", "HUP", name)
	waitLogs(t, name, "got-hup")
	time.Sleep(500 * time.Millisecond) // a second delivery would show by now
	stopTime(t, name, 10)
	if out := mustDocker(t, "logs", name); strings.Count(out, "got-hup") != 1 {
		t.Errorf("the child got SIGHUP %d times, want once:\n%s", strings.Count(out, "got-hup"), out)
	}
}

// orphansScript starts 200 processes that its subshells leave behind:
// they end 0.3 s later, children of PID 1.
const orphansScript = `i=0; while [ $i -lt 200 ]; do (sleep 0.3 &); i=$((i+1)); done; echo ready`

// zombies lists the container's processes that ended and were not reaped,
// as ps in the container shows them (docker top does not show zombies
// where the daemon uses cgroup v1: an exited task leaves its cgroup), and
// counts the others but ps.
func zombies(t *testing.T, name string) (zombies []string, processes int) {
	t.Helper()
	out := mustDocker(t, "exec", name, "ps", "-o", "pid,ppid,stat,comm")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines[1:] {
		switch f := strings.Fields(l); {
		case len(f) < 4:
		case strings.HasPrefix(f[2], "Z"):
			zombies = append(zombies, l)
		case f[3] != "ps":
			processes++
		}
	}
	return zombies, processes
}

// TestImageOrphans leaves 200 orphans in the container: shroud, PID 1,
// reaps them all; no zombie shows. A container whose PID 1 is sleep, which
// reaps nothing, shows them: the check sees zombies.
func TestImageOrphans(t *testing.T) {
	requireDocker(t)
	name := startImage(t, nil, "sh", "-c", orphansScript+"; sleep 1000")
	// Until the orphans have all ended: then only shroud, sh and sleep
	// run, and any zombie left is one shroud did not reap.
	z, n := zombies(t, name)
	for deadline := time.Now().Add(30 * time.Second); n > 3 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		z, n = zombies(t, name)
	}
	if len(z) > 0 || n > 3 {
		t.Errorf("with shroud as PID 1: %d processes, zombies %v; want shroud, sh and sleep only", n, z)
	}
	if top := mustDocker(t, "top", name); strings.Count(top, "\n") > 4 {
		t.Errorf("docker top shows more than shroud, sh and sleep:\n%s", top)
	}
	stopTime(t, name, 10)

	control := startImage(t, []string{"--entrypoint", "/bin/busybox"}, "sh", "-c", orphansScript+"; exec sleep 1000")
	z, _ = zombies(t, control)
	for deadline := time.Now().Add(30 * time.Second); len(z) < 200 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		z, _ = zombies(t, control)
	}
	if len(z) < 200 {
		t.Errorf("with sleep as PID 1: %d zombies, want the 200 orphans: the check does not see zombies", len(z))
	}
	mustDocker(t, "kill", control)
}

// TestImageReadOnly runs the image with a read-only root file system and
// a tmpfs where its files go: shroud writes them there, and the child
// reads them. Without the tmpfs shroud fails before the child starts,
// saying where it could not write, and no secret shows.
func TestImageReadOnly(t *testing.T) {
	requireDocker(t)
	check := `test "$(cat /run/secrets/db-password)" = "$DB_PASSWORD" && test -n "$DB_PASSWORD" && echo same`
	out, err := dockerCLI("run", "--rm", "--name", containerName(t), "--read-only", "--tmpfs", "/run/secrets:uid=65532,gid=65532,mode=0700", shroudImage, "sh", "-c", check)
	if err != nil || strings.TrimSpace(out) != "same" {
		t.Errorf("read-only with a tmpfs: %q, %v", out, err)
	}
	out, err = dockerCLI("run", "--rm", "--name", containerName(t), "--read-only", shroudImage, "sh", "-c", "echo started")
	if err == nil || !strings.Contains(err.Error(), "exit status 125") || !strings.Contains(err.Error(), "/run/secrets/db-password") ||
		!strings.Contains(err.Error(), "read-only file system") || strings.Contains(out, "started") {
		t.Errorf("read-only without a tmpfs: %q, %v; want exit 125 naming the file and the read-only file system", out, err)
	}
	if err != nil && strings.Contains(err.Error()+out, imageCanary) {
		t.Errorf("the error shows the secret: %v", err)
	}
}

// TestImageUser checks that the image runs as user 65532: the child, and
// shroud itself as PID 1.
func TestImageUser(t *testing.T) {
	requireDocker(t)
	out := mustDocker(t, "run", "--rm", "--name", containerName(t), shroudImage, "sh", "-c", `id -u; id -g; grep -E '^(Name|Uid):' /proc/1/status`)
	f := strings.Fields(out)
	want := []string{"65532", "0", "Name:", "shroud", "Uid:", "65532", "65532", "65532", "65532"}
	if strings.Join(f, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", f, want)
	}
}

// TestImagePID1SupervisesByDefault runs shroud as PID 1 without
// --supervise: it must stay PID 1 and pass docker stop's SIGTERM to the
// child (exit 143 within a second), not exec the child into PID 1, where
// SIGTERM is ignored and docker stop waits for its timeout and SIGKILL.
func TestImagePID1SupervisesByDefault(t *testing.T) {
	requireDocker(t)
	name := startImage(t, []string{"--entrypoint", "/shroud"}, "run", "--config", "/etc/shroud.toml", "--", "sh", "-c", "echo ready; exec sleep 1000")
	top := mustDocker(t, "top", name, "-eo", "pid,comm")
	d := stopTime(t, name, 3)
	code := exitCode(t, name)
	if d > time.Second || code != "143" || !strings.Contains(top, "shroud") {
		t.Errorf("the container ended %v after docker stop and exited %s (want 143 within 1 s), processes:\n%s", d.Round(time.Millisecond), code, top)
	}
}
