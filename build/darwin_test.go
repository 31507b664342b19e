package build

import (
	"debug/macho"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildsForDarwin builds the shroud command for darwin/amd64 and
// darwin/arm64 as the release does, so that a Linux-only call in a package
// it links fails here, not at the next release. What darwin lacks is in
// the _darwin.go files; this is the check that they cover it.
func TestBuildsForDarwin(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiles every package of shroud twice, for darwin")
	}
	for _, arch := range []struct {
		goarch string
		cpu    macho.Cpu
	}{{"amd64", macho.CpuAmd64}, {"arm64", macho.CpuArm64}} {
		t.Run(arch.goarch, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "shroud")
			cmd := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-o", bin, "./cmd/shroud")
			cmd.Dir = repoRoot
			cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOOS=darwin", "GOARCH="+arch.goarch)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=darwin GOARCH=%s go build ./cmd/shroud: %v\n%s", arch.goarch, err, out)
			}
			f, err := macho.Open(bin)
			if err != nil {
				t.Fatalf("the darwin build is no Mach-O executable: %v", err)
			}
			defer f.Close()
			if f.Cpu != arch.cpu || f.Type != macho.TypeExec {
				t.Errorf("the darwin/%s build is a Mach-O %v for %v", arch.goarch, f.Type, f.Cpu)
			}
			// Apple silicon runs only signed code: Go's linker signs
			// darwin/arm64 ad hoc (an external linker or strip could lose
			// it).
			if arch.goarch == "arm64" && !codeSigned(f) {
				t.Error("the darwin/arm64 build has no code signature: macOS would kill it at exec")
			}
			// Go's darwin port calls the kernel through libSystem, and
			// crypto/x509 verifies through the Security framework: every
			// Mac has them. Anything else (a cgo library) would not be.
			libs, err := f.ImportedLibraries()
			if err != nil {
				t.Fatal(err)
			}
			for _, lib := range libs {
				if !strings.HasPrefix(lib, "/usr/lib/") && !strings.HasPrefix(lib, "/System/Library/") {
					t.Errorf("the darwin/%s build links %s, which is not part of macOS", arch.goarch, lib)
				}
			}
		})
	}
}

// codeSigned reports whether f has a code signature (LC_CODE_SIGNATURE).
func codeSigned(f *macho.File) bool {
	const lcCodeSignature = 0x1d
	for _, l := range f.Loads {
		if raw := l.Raw(); len(raw) >= 4 && f.ByteOrder.Uint32(raw) == lcCodeSignature {
			return true
		}
	}
	return false
}
