package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/internal/awsfake"
)

// TestDockerExample builds examples/docker/Dockerfile as its README says,
// with shroud's image from `make image` and a base image with no CA
// files, and runs it against the AWS fake on loopback: shroud from shroud's
// image resolves the config baked in, writes the file and runs the
// command with the secrets.
func TestDockerExample(t *testing.T) {
	shroudImage := builtImage(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("SKIPPED: the example's stand-in base image needs a static /bin/busybox (Debian: busybox-static)")
	}
	base := baseImage(t)
	app := testImage + "-docker-example:" + releaseVersion
	images = append(images, app)
	run(t, work, nil, "docker", "build", "--quiet",
		"--build-arg", "SHROUD_IMAGE="+shroudImage, "--build-arg", "APP_IMAGE="+base,
		"-t", app, filepath.Join(releaseTree(t), "examples", "docker"))

	const password, key = "canary-example-pw-Qe4Lz8", "canary-example-key-Wm2Rt5"
	fake := awsfake.New()
	defer fake.Close()
	fake.PutSecretString("us-east-1", "prod/app/db", `{"username":"app","password":"`+password+`"}`)
	fake.PutParameter("us-east-1", "/prod/app/tls-key", "SecureString", key)

	args := []string{"run", "--rm", "--network", "host"}
	for _, kv := range fake.Env() {
		args = append(args, "--env", kv)
	}
	args = append(args, app, "sh", "-c",
		`echo "connected as $DB_USER"; [ "$DB_PASSWORD" = `+password+` ] && echo password ok; `+
			`[ "$(cat /run/secrets/tls.key)" = `+key+` ] && stat -c "tls.key %a" /run/secrets/tls.key`)
	cmd := exec.Command("docker", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker run: %v\n%s%s", err, out, stderr.String())
	}
	if want := "connected as app\npassword ok\ntls.key 400\n"; string(out) != want {
		t.Errorf("the example printed %q, want %q; stderr:\n%s", out, want, stderr.String())
	}
	for _, canary := range []string{password, key} {
		if strings.Contains(stderr.String(), canary) {
			t.Errorf("shroud's diagnostics leak a secret value:\n%s", stderr.String())
		}
	}
}

// baseImage builds an application base image with a shell and nothing
// else, from Debian's static busybox: no libc, no CA files.
func baseImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	dockerfile := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := testImage + "-base:busybox"
	images = append(images, ref)
	run(t, work, nil, "docker", "build", "--quiet", "-t", ref, dir)
	return ref
}
