package build

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// needDocker skips, saying why, when no Docker daemon answers.
func needDocker(t *testing.T) {
	t.Helper()
	out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		t.Skipf("SKIPPED: no Docker daemon answers (docker version: %v: %s); the image is not tested", err, bytes.TrimSpace(out))
	}
}

// testImage is the name `make image` tags in the tests, so that they never
// replace a developer's shroud:latest.
var testImage = fmt.Sprintf("shroud-buildtest-%d", os.Getpid())

// builtImage runs `make image` once and returns the image's reference.
func builtImage(t *testing.T) string {
	t.Helper()
	needDocker(t)
	ref := testImage + ":" + releaseVersion
	if exec.Command("docker", "image", "inspect", ref).Run() == nil {
		return ref
	}
	dir := releaseTree(t)
	images = append(images, ref, testImage+":latest")
	out := run(t, dir, nil, "make", "--no-print-directory", "image", "IMAGE="+testImage, "VERSION="+releaseVersion)
	t.Logf("make image:\n%s", out)
	return ref
}

type imageConfig struct {
	Config struct {
		Entrypoint []string
		Cmd        []string
		User       string
		Env        []string
		Labels     map[string]string
	}
}

func TestImage(t *testing.T) {
	ref := builtImage(t)

	var inspect []imageConfig
	if err := json.Unmarshal([]byte(run(t, work, nil, "docker", "image", "inspect", ref)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("docker image inspect: %v", err)
	}
	cfg := inspect[0].Config
	if want := []string{"/shroud"}; !reflect.DeepEqual(cfg.Entrypoint, want) {
		t.Errorf("entrypoint %q, want %q", cfg.Entrypoint, want)
	}
	if cfg.Cmd != nil {
		t.Errorf("cmd %q, want none", cfg.Cmd)
	}
	if cfg.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", cfg.User)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title":       "shroud",
		"org.opencontainers.image.description": "Secret references into env vars, files and log options; exec wrapper and sidecar",
		"org.opencontainers.image.version":     releaseVersion,
		"org.opencontainers.image.source":      "https://github.com/shroud-dev/shroud",
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if !reflect.DeepEqual(cfg.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", cfg.Labels, wantLabels)
	}

	// The image holds the release binary and nothing else: no shell, no
	// libc, no CA files (the binary carries its own fallback roots).
	bin, err := os.ReadFile(filepath.Join(releaseTree(t), "dist", "shroud-linux-amd64"))
	if err != nil {
		t.Fatal(err)
	}
	files := imageFiles(t, ref)
	want := []imageFile{{Name: "shroud", Mode: 0o755, UID: 0, GID: 0, SHA256: sha256.Sum256(bin)}}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("image files:\n%v\nwant only the release binary:\n%v", files, want)
	}

	if got := run(t, work, nil, "docker", "run", "--rm", "--network", "none", ref, "version"); got != releaseVersion+"\n" {
		t.Errorf("docker run %s version printed %q, want %q", ref, got, releaseVersion)
	}
}

type imageFile struct {
	Name     string
	Mode     os.FileMode
	UID, GID int
	SHA256   [32]byte
}

func (f imageFile) String() string {
	return fmt.Sprintf("%s %v %d:%d sha256:%x", f.Name, f.Mode, f.UID, f.GID, f.SHA256[:6])
}

// imageFiles lists every entry of every layer of the image, read from
// `docker save`: what the image holds, without the mount points and files
// a container adds (/dev, /etc/hosts, ...), which `docker export` shows.
func imageFiles(t *testing.T, ref string) []imageFile {
	t.Helper()
	saved := filepath.Join(t.TempDir(), "image.tar")
	run(t, work, nil, "docker", "save", "-o", saved, ref)
	layers := map[string][]byte{}
	var manifest []struct{ Layers []string }
	forEachEntry(t, saved, func(h *tar.Header, r io.Reader) {
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "manifest.json" {
			if err := json.Unmarshal(data, &manifest); err != nil {
				t.Fatal(err)
			}
		}
		layers[h.Name] = data
	})
	if len(manifest) != 1 {
		t.Fatalf("docker save: %d manifests", len(manifest))
	}
	var files []imageFile
	for _, layer := range manifest[0].Layers {
		tr := tar.NewReader(bytes.NewReader(layers[layer]))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", layer, err)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, imageFile{Name: h.Name, Mode: h.FileInfo().Mode(), UID: h.Uid, GID: h.Gid, SHA256: sha256.Sum256(data)})
		}
	}
	return files
}

func forEachEntry(t *testing.T, path string, fn func(*tar.Header, io.Reader)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h, tr)
	}
}

// TestDockerfilesAgree keeps the root Dockerfile's image (built from source,
// for those with a registry) the same as the one `make image` builds: their
// last stages differ only in where the binary comes from.
func TestDockerfilesAgree(t *testing.T) {
	root := finalStage(t, filepath.Join(repoRoot, "Dockerfile"))
	local := finalStage(t, filepath.Join(repoRoot, "build", "Dockerfile"))
	const fromSource, fromRelease = "COPY --from=build /src/bin/shroud /shroud", "COPY shroud-linux-amd64 /shroud"
	if !strings.Contains(root, fromSource) || !strings.Contains(local, fromRelease) {
		t.Fatalf("the stages no longer copy the binary as this test expects:\n%s\n---\n%s", root, local)
	}
	if strings.Replace(root, fromSource, fromRelease, 1) != local {
		t.Errorf("Dockerfile and build/Dockerfile build different images:\n%s\n---\n%s", root, local)
	}
}

// finalStage is a Dockerfile's last stage without comments and blank lines.
func finalStage(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "FROM ") {
			lines = nil
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
