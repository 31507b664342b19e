//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageErrors: every usage error is one line on stderr that points to
// the command's --help, with no help dumped, and exits 2; run exits 125
// (DESIGN §6: shroud failed before the child started).
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"render"}, 2, "--config is required (or $SHROUD_CONFIG) (see shroud render --help)"},
		{[]string{"sidecar"}, 2, "--config is required (or $SHROUD_CONFIG) (see shroud sidecar --help)"},
		{[]string{"check", "--container", "app"}, 2, "--container needs --ecs-task-definition (see shroud check --help)"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate" (see shroud --help)`},
		{[]string{"help", "frobnicate"}, 2, `unknown command "frobnicate" (see shroud --help)`},
		{[]string{"--bogus"}, 2, "(see shroud --help)"},
		{[]string{"render", "--bogus"}, 2, "(see shroud render --help)"},
		{[]string{"get"}, 2, "give exactly one reference"},
		{[]string{"check", "--log-level", "loud"}, 2, `--log-level "loud": want debug, info, warn or error (see shroud check --help)`},
		{[]string{"--log-format", "xml", "check"}, 2, `--log-format "xml": want text or json (see shroud check --help)`},
		{[]string{"sidecar", "--config", "missing.toml", "--notify-signal", "SIGHUP"}, 2, "--notify-signal needs a process to signal"},
		{[]string{"sidecar", "--config", "missing.toml", "--notify-pid", "7", "--notify-process", "nginx"}, 2, "give one of --notify-pid"},
		{[]string{"sidecar", "--config", "missing.toml", "--notify-url", "ftp://host/x"}, 2, "want an http:// or https:// URL (see shroud sidecar --help)"},
		{[]string{"sidecar", "--config", "missing.toml", "--notify-signal", "SIGNOPE", "--notify-pid", "7"}, 2, "--notify-signal"},
		{[]string{"policy", "--format", "gcp"}, 2, "(see shroud policy --help)"},
		{[]string{"completion", "tcsh"}, 2, "give the shell: bash, zsh or fish (see shroud completion --help)"},
		{[]string{"run", "--bogus", "--", "true"}, 125, "(see shroud run --help)"},
		{[]string{"run"}, 125, "no command to run: give one after --"},
		{[]string{"run", "--container", "app", "--", "true"}, 125, "--container needs --ecs-task-definition (see shroud run --help)"},
	} {
		r := shroud(t, dir, nil, c.args...)
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if r.code != c.code || len(lines) != 1 || !strings.HasPrefix(r.stderr, "shroud: ") || !strings.Contains(r.stderr, c.says) ||
			!strings.HasSuffix(r.stderr, " --help)\n") || r.stdout != "" {
			t.Errorf("shroud %s: exit %d (want %d), want one line saying %q and pointing to --help:\nstderr: %s\nstdout: %s",
				strings.Join(c.args, " "), r.code, c.code, c.says, r.stderr, r.stdout)
		}
	}
	// SHROUD_CONFIG gives the required --config.
	write(t, dir, "shroud.toml", "[[files]]\npath = \"out/x\"\nvalue_from = \"env:X\"\n")
	if r := shroud(t, dir, []string{"SHROUD_CONFIG=shroud.toml", "X=x"}, "render"); r.code != 0 {
		t.Errorf("render with SHROUD_CONFIG: exit %d: %s", r.code, r.stderr)
	}
	// Help is asked for: exit 0.
	for _, args := range [][]string{{}, {"help"}, {"help", "run"}, {"run", "--help"}} {
		if r := shroud(t, dir, nil, args...); r.code != 0 || !strings.Contains(r.stdout, "USAGE:") {
			t.Errorf("shroud %s: exit %d, stdout %q", strings.Join(args, " "), r.code, r.stdout)
		}
	}
}

// TestGlobalFlagsFromEnv: every global flag has an environment variable,
// and a flag, before or after the command, wins over it.
func TestGlobalFlagsFromEnv(t *testing.T) {
	dir := localExample(t)
	debug := []string{"SHROUD_LOG_LEVEL=debug"}
	if r := shroud(t, dir, debug, "render", "--dry-run", "--config", "shroud.toml"); r.code != 0 || !strings.Contains(r.stderr, "level=DEBUG") {
		t.Errorf("SHROUD_LOG_LEVEL=debug: exit %d, no debug line:\n%s", r.code, r.stderr)
	}
	for _, args := range [][]string{{"--log-level", "warn", "render"}, {"render", "--log-level", "warn"}} {
		r := shroud(t, dir, debug, append(args, "--dry-run", "--config", "shroud.toml")...)
		if r.code != 0 || strings.Contains(r.stderr, "level=") {
			t.Errorf("%v over SHROUD_LOG_LEVEL=debug: exit %d:\n%s", args, r.code, r.stderr)
		}
	}
	r := shroud(t, dir, []string{"SHROUD_LOG_FORMAT=json"}, "check", "--config", "missing.toml")
	var rec struct {
		Msg    string   `json:"msg"`
		Errors []string `json:"errors"`
	}
	if r.code != 1 || json.Unmarshal([]byte(r.stderr), &rec) != nil || rec.Msg != "shroud failed" || len(rec.Errors) != 1 {
		t.Errorf("SHROUD_LOG_FORMAT=json: exit %d, not one JSON record:\n%s", r.code, r.stderr)
	}
	if r := shroud(t, dir, []string{"SHROUD_LOG_FORMAT=json"}, "--log-format", "text", "check", "--config", "missing.toml"); !strings.HasPrefix(r.stderr, "shroud: ") {
		t.Errorf("--log-format text over SHROUD_LOG_FORMAT=json:\n%s", r.stderr)
	}
	help := shroud(t, dir, nil, "--help").stdout
	for _, v := range []string{"$SHROUD_LOG_FORMAT", "$SHROUD_LOG_LEVEL"} {
		if !strings.Contains(help, v) {
			t.Errorf("shroud --help does not name %s:\n%s", v, help)
		}
	}
}

// TestCheckHelpTableAligned: the sample table in check --help has its
// columns where check prints them: every field of every row starts at the
// column of its header.
func TestCheckHelpTableAligned(t *testing.T) {
	help := shroud(t, t.TempDir(), nil, "check", "--help").stdout
	var table []string
	for _, line := range strings.Split(help, "\n") {
		if strings.Contains(line, "TARGET ") || len(table) > 0 && strings.Contains(line, "  ok") {
			table = append(table, line)
		}
	}
	if len(table) < 2 {
		t.Fatalf("no sample table in check --help:\n%s", help)
	}
	starts := func(line string) []int {
		var at []int
		for i := range line {
			if line[i] != ' ' && (i == 0 || line[i-1] == ' ' && (i < 2 || line[i-2] == ' ')) {
				at = append(at, i)
			}
		}
		return at
	}
	header := starts(table[0])
	if len(header) != 6 {
		t.Fatalf("header %q has %d columns", table[0], len(header))
	}
	for _, row := range table[1:] {
		if got := starts(row); fmt.Sprint(got) != fmt.Sprint(header) {
			t.Errorf("row not aligned with the header:\n%s\n%s\ncolumns %v, header %v", table[0], row, got, header)
		}
	}
}

// TestCheckNothingToResolve: a config that binds nothing says so and
// exits 0, rather than printing an empty table.
func TestCheckNothingToResolve(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "shroud.toml", "region = \"us-east-1\"\n")
	r := shroud(t, dir, nil, "check", "--config", "shroud.toml")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "nothing to resolve") || strings.Contains(r.stdout, "TARGET") {
		t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestCompletion: shroud completion prints scripts the real shells accept
// (bash -n, zsh -n, fish -n), and that complete commands and flags by
// asking shroud; after --, where the child's command begins, they ask
// nothing (asking would run it).
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	// Were completion asked for after --, shroud would run this.
	if err := os.WriteFile(filepath.Join(dir, "ask.sh"), []byte("#!/bin/sh\ntouch asked\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + filepath.Dir(shroudBin) + ":" + os.Getenv("PATH")}
	for _, c := range []struct {
		shell, exercise string
	}{
		{"bash", `source <(shroud completion bash)
complete -p shroud
for line in "shroud re" "shroud run --li" "shroud run -- ./ask.sh x"; do
  read -ra COMP_WORDS <<< "$line"; COMP_CWORD=$((${#COMP_WORDS[@]}-1))
  _shroud_complete; echo "$line => ${COMPREPLY[*]}"
done`},
		{"zsh", `compdef() { print "compdef $*"; }
_describe() { local w; for w in "${(@P)2}"; do [[ $w == ${words[CURRENT]}* ]] && print -n -- "$w "; done; print; }
_files() { print FILES; }
source <(shroud completion zsh)
for line in "shroud re" "shroud run --li" "shroud run -- ./ask.sh x"; do
  words=(${=line}); CURRENT=${#words}
  print -n "$line => "; _shroud
done`},
		{"fish", `shroud completion fish | source
for line in "shroud re" "shroud run --li"
  echo "$line => "(complete -C "$line" | string replace -r '\t.*' '')
end`},
	} {
		if _, err := exec.LookPath(c.shell); err != nil {
			msg := c.shell + " is not installed (Debian package " + c.shell + "; .ci/run installs it)"
			if os.Getenv("CI") != "" {
				t.Error(msg)
			} else {
				t.Log("SKIPPED: " + msg)
			}
			continue
		}
		script := shroud(t, dir, nil, "completion", c.shell)
		if script.code != 0 || script.stdout == "" {
			t.Errorf("completion %s: exit %d: %s", c.shell, script.code, script.stderr)
			continue
		}
		check := exec.Command(c.shell, "-n")
		check.Stdin = strings.NewReader(script.stdout)
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("%s -n rejects the script: %v\n%s", c.shell, err, out)
		}
		run := exec.Command(c.shell, "-c", c.exercise)
		run.Dir, run.Env = dir, append(os.Environ(), env...)
		out, err := run.CombinedOutput()
		got := string(out)
		if err != nil || !strings.Contains(got, "shroud re => render") || !strings.Contains(got, "shroud run --li => --listen") {
			t.Errorf("%s completion: %v\n%s", c.shell, err, got)
		}
		if _, err := os.Stat(filepath.Join(dir, "asked")); err == nil {
			t.Errorf("%s completion after -- ran the child's command:\n%s", c.shell, got)
			os.Remove(filepath.Join(dir, "asked"))
		}
	}
}
