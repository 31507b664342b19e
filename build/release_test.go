package build

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseReproducible builds the linux/amd64 release twice, from two
// copies of the sources at paths of different lengths, the second with an
// empty build cache (every package compiled again), and wants the same
// bytes. One platform only: a cold build of one costs ~45 s of CI on two
// cores, and what makes a build differ (paths, build IDs, VCS stamps) does
// not depend on the platform. `make verify-release` does all platforms.
func TestReleaseReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds shroud twice, once with an empty build cache")
	}
	first := releaseTree(t)
	second := filepath.Join(t.TempDir(), "second-copy-of-the-sources") // its own each run (-count=2)
	copySources(t, second)
	run(t, second, []string{"GOCACHE=" + t.TempDir()},
		"make", "--no-print-directory", "release", "PLATFORMS=linux/amd64", "VERSION="+releaseVersion)

	sums := readSums(t, first)
	if again := readSums(t, second); again != sums {
		t.Errorf("two release builds differ:\n%s\n%s", sums, again)
	}
	// SHA256SUMS is what sha256sum -c reads, and true.
	data, err := os.ReadFile(filepath.Join(first, "dist", "shroud-linux-amd64"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if want := hex.EncodeToString(sum[:]) + "  shroud-linux-amd64\n"; sums != want {
		t.Errorf("dist/SHA256SUMS is %q, want %q", sums, want)
	}
}

func readSums(t *testing.T, tree string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tree, "dist", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestReleaseBinary checks what the release binary is: it prints the
// version given to make, and it is static and stripped, so it runs in an
// image with no libc.
func TestReleaseBinary(t *testing.T) {
	bin := filepath.Join(releaseTree(t), "dist", "shroud-linux-amd64")
	if got := run(t, work, nil, bin, "version"); got != releaseVersion+"\n" {
		t.Errorf("shroud version printed %q, want %q", got, releaseVersion)
	}
	if got := run(t, work, nil, bin, "--version"); got != "shroud version "+releaseVersion+"\n" {
		t.Errorf("shroud --version printed %q", got)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the release binary is dynamically linked (%v)", p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("the release binary has a symbol table: not built with -s")
	}
}

// TestMakeBuildVersion builds with `make build` in a git checkout, as a
// developer would, and wants `shroud version` to print what git describe
// says: the tag, then the tag with -dirty once a file is changed.
func TestMakeBuildVersion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tagged") // a checkout of its own each run (-count=2)
	copySources(t, dir)
	git := func(args ...string) {
		run(t, dir, nil, "git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	}
	git("init", "--quiet")
	git("add", "--all")
	git("commit", "--quiet", "--message", "release")
	git("tag", "v0.9.1")
	bin := filepath.Join(dir, "bin", "shroud")

	run(t, dir, nil, "make", "--no-print-directory", "build")
	if got := run(t, dir, nil, bin, "version"); got != "v0.9.1\n" {
		t.Errorf("at tag v0.9.1, make build gave a shroud whose version is %q", got)
	}

	readme := filepath.Join(dir, "README.md")
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(readme, append(data, "changed\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, nil, "make", "--no-print-directory", "build")
	if got := run(t, dir, nil, bin, "version"); strings.TrimSpace(got) != "v0.9.1-dirty" {
		t.Errorf("with a change after tag v0.9.1, make build gave version %q", got)
	}
}

// TestReleaseBinaryLeavesOutUnusedOperations: the release binary carries
// the SDK operations shroud calls and not the others. Every exported
// method of a type that may reach an interface is kept once anything calls
// methods by name through reflection (text/template does), so an SDK
// client held where a Source reaches it keeps all its operations: SSM's
// alone are 5 MB (sources/aws/clients.go).
func TestReleaseBinaryLeavesOutUnusedOperations(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(releaseTree(t), "dist", "shroud-linux-amd64"))
	if err != nil {
		t.Fatal(err)
	}
	// The function table keeps the names of a stripped binary's functions.
	for name, want := range map[string]bool{
		"github.com/aws/aws-sdk-go-v2/service/ssm.(*Client).GetParameters":                      true,
		"github.com/aws/aws-sdk-go-v2/service/ssm.(*Client).CreateDocument":                     false,
		"github.com/aws/aws-sdk-go-v2/service/secretsmanager.(*Client).BatchGetSecretValue":     true,
		"github.com/aws/aws-sdk-go-v2/service/secretsmanager.(*Client).CreateSecret":            false,
		"github.com/alibabacloud-go/kms-20160120/v3/client.(*Client).GetSecretValueWithOptions": true,
		"github.com/alibabacloud-go/kms-20160120/v3/client.(*Client).CreateSecretWithOptions":   false,
	} {
		if got := bytes.Contains(data, []byte(name+"\x00")); got != want {
			t.Errorf("the release binary has %s: %v, want %v", name, got, want)
		}
	}
}
