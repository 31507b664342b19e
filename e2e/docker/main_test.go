package docker

import (
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The environment TestMain prepares. skipReason is set, and nothing else,
// when the tests cannot run here.
var (
	skipReason string
	shroudBin  string // built as a release is built
	busybox    string // a static busybox on the host
	// bbImage runs busybox: ENTRYPOINT ["/bin/busybox"]. Docker's side of
	// the log driver comparisons runs its child in it.
	bbImage string
	// shroudImage is the image of the image tests: shroud as the
	// entrypoint, supervising, with a local-file config.
	shroudImage string
	// runID makes the names of this run's images and containers unique.
	runID string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shroud-docker-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if err := setup(dir); err != nil {
			skipReason = err.Error()
			fmt.Fprintf(os.Stderr, "SKIPPING the Docker tests: %s\n", skipReason)
		}
		defer cleanupImages()
		return m.Run()
	}()
	os.Exit(code)
}

// setup finds the daemon and busybox, builds shroud and the test images.
// Its error says why the tests cannot run.
func setup(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		return fmt.Errorf("no Docker daemon answers (docker version: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if isStatic(p) {
			busybox = p
			break
		}
	}
	if busybox == "" {
		return fmt.Errorf("no static busybox at /bin/busybox (Debian: apt-get install busybox-static; .ci/run does)")
	}
	var b [6]byte
	rand.Read(b[:])
	runID = hex.EncodeToString(b[:])

	shroudBin = filepath.Join(dir, "shroud")
	build := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-ldflags", "-s -w", "-o", shroudBin, "../../cmd/shroud")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		// Not a reason to skip: the code does not build.
		fmt.Fprintf(os.Stderr, "building shroud: %v\n%s", err, out)
		os.Exit(1)
	}
	var err error
	if bbImage, err = buildImage(dir, "busybox", busyboxDockerfile, nil); err != nil {
		return err
	}
	shroudImage, err = buildImage(dir, "image", imageDockerfile, imageFiles())
	return err
}

// isStatic reports whether path is an executable that needs no dynamic
// loader: a FROM scratch image has none.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// requireDocker skips the test, loudly, where the Docker tests cannot run.
func requireDocker(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip("SKIPPED, Docker parity not checked: " + skipReason)
	}
}

const busyboxDockerfile = `FROM scratch
COPY busybox /bin/busybox
ENTRYPOINT ["/bin/busybox"]
`

// buildImage builds dockerfile with busybox, shroud and files (path in the
// context: content, mode) in its context, and returns the image's tag.
func buildImage(dir, name, dockerfile string, files map[string]contextFile) (string, error) {
	ctxDir := filepath.Join(dir, "ctx-"+name)
	all := map[string]contextFile{"Dockerfile": {data: dockerfile, mode: 0o644}}
	for p, f := range files {
		all[p] = f
	}
	for _, bin := range []struct{ from, to string }{{busybox, "busybox"}, {shroudBin, "shroud"}} {
		data, err := os.ReadFile(bin.from)
		if err != nil {
			return "", err
		}
		all[bin.to] = contextFile{data: string(data), mode: 0o755}
	}
	for p, f := range all {
		path := filepath.Join(ctxDir, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, []byte(f.data), f.mode); err != nil {
			return "", err
		}
		os.Chmod(path, f.mode) // whatever the umask
	}
	tag := "shroud-e2e-" + name + ":" + runID
	cmd := exec.Command("docker", "build", "-q", "--label", "shroud-e2e="+runID, "-t", tag, ctxDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker build of the %s image failed: %v\n%s", name, err, out)
	}
	builtImages = append(builtImages, tag)
	return tag, nil
}

type contextFile struct {
	data string
	mode os.FileMode
}

var builtImages []string

// containers counts the containers of this run, for unique names.
var containers int

func cleanupImages() {
	if len(builtImages) > 0 {
		exec.Command("docker", append([]string{"rmi", "-f"}, builtImages...)...).Run()
	}
}

// dockerCLI runs the docker client and returns its stdout; its error
// carries stderr.
func dockerCLI(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// mustDocker runs the docker client and fails the test on an error.
func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := dockerCLI(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// containerName returns a name for a container of this run, removed with
// its volumes when the test ends.
func containerName(t *testing.T) string {
	t.Helper()
	containers++
	name := fmt.Sprintf("shroud-e2e-%s-%d-%s", runID, containers, sanitize(t.Name()))
	t.Cleanup(func() { dockerCLI("rm", "-f", "-v", name) })
	return name
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, s)
}
