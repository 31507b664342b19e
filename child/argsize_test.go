//go:build linux

package child

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestEnvTooLarge checks both ways of running the child with a variable of
// one byte over the kernel's limit for one string (and one byte under it,
// which runs), and with an environment too large in total: exit 125 and an
// error that names the variable and the limit, never the value.
func TestEnvTooLarge(t *testing.T) {
	limit := 32 * os.Getpagesize() // MAX_ARG_STRLEN, NUL included
	tests := []struct {
		spec, want string
		code       int
	}{
		{fmt.Sprintf("BIG_VAR=%d", limit-1), "", 0},
		{fmt.Sprintf("BIG_VAR=%d", limit), fmt.Sprintf("environment variable BIG_VAR is %d bytes (NAME=value), over the kernel's limit of %d bytes", limit, limit-1), ExitFailure},
		{"MANY=70x100000", "the largest variables: MANY_0 (100000 bytes), MANY_1 (100000 bytes), MANY_2 (100000 bytes)", ExitFailure},
	}
	for _, tt := range tests {
		for _, way := range []string{"exec", "supervised"} {
			t.Run(way+" "+tt.spec, func(t *testing.T) {
				var cmd *exec.Cmd
				if way == "exec" {
					cmd = exec.Command(os.Args[0])
					cmd.Env = []string{"SHROUD_TEST_EXEC=/bin/true", "SHROUD_TEST_BIG_ENV=" + tt.spec}
				} else {
					cmd = exec.Command(os.Args[0])
					cmd.Env = []string{"SHROUD_TEST_SUPERVISOR=/bin/true", "REPORT=" + filepath.Join(t.TempDir(), "report"), "SHROUD_TEST_BIG_ENV=" + tt.spec}
				}
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err := cmd.Run()
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				}
				if code != tt.code || tt.want != "" && !strings.Contains(stderr.String(), tt.want) {
					t.Fatalf("status %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
				}
				if strings.Contains(stderr.String(), "xxxxxxxx") {
					t.Fatal("the error shows the value")
				}
			})
		}
	}
}

// TestExecSizeMatchesKernel fills the environment up to the limit
// checkExecSize computes, and one byte over: the kernel's execve must
// accept and refuse exactly the same.
func TestExecSizeMatchesKernel(t *testing.T) {
	path, argv := "/bin/true", []string{"/bin/true"}
	const n = 40 // variables, each under the limit for one
	for _, over := range []int{0, 1} {
		room := execStringsLimit() - (1+n)*int(unsafe.Sizeof(uintptr(0))) - 2*(len(path)+1)
		var env []string
		for i := range n {
			size := room / n
			if i == n-1 {
				size = room - room/n*(n-1) + over
			}
			k := fmt.Sprintf("V%02d", i)
			env = append(env, k+"="+strings.Repeat("x", size-len(k)-2)) // with = and the NUL
		}
		checked := checkExecSize(path, argv, env)
		pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env})
		if err == nil {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
		}
		if (checked == nil) != (err == nil) || err != nil && !errors.Is(err, syscall.E2BIG) {
			t.Errorf("%d byte(s) over: checkExecSize says %v, execve %v", over, checked, err)
		}
	}
}
