//go:build linux

package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRunLogDriverMasks runs a real child under `shroud run` with the
// json-file driver and masking: its output reaches the log file and the tee
// with every form of the secret masked, stream names kept, and shroud exits
// with the child's status.
func TestRunLogDriverMasks(t *testing.T) {
	dir := t.TempDir()
	const secret = "canary-e2e-Vb5nR8"
	write(t, dir, "s/db.json", `{"password":"`+secret+`"}`)
	write(t, dir, "s/logpath", filepath.Join(dir, "logs", "app-json.log")+"\n")
	write(t, dir, "shroud.toml", `
[[secrets]]
name = "PW"
value_from = "file:s/db.json#password"

[log]
driver = "json-file"
mask = true
[[log.secret_options]]
name = "path"
value_from = "file:s/logpath"
`)
	b64 := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
	script := fmt.Sprintf(`echo "pw=$PW"; printf 'half=%%s' "${PW%%????????}"; printf '%%s\n' "${PW#?????????}"; echo "b64=%s" >&2; exit 3`, b64)
	r := shroud(t, dir, nil, "run", "--config", "shroud.toml", "--", "sh", "-c", script)
	if r.code != 3 {
		t.Fatalf("exit %d, want the child's 3; stderr %q", r.code, r.stderr)
	}
	noCanary(t, "tee", r.stdout, r.stderr)
	if !strings.Contains(r.stdout, "pw=*****") {
		t.Errorf("tee stdout = %q, want the value masked", r.stdout)
	}

	f, err := os.Open(filepath.Join(dir, "logs", "app-json.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	streams := map[string]int{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var rec struct{ Log, Stream, Time string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("json-file line %q: %v", sc.Text(), err)
		}
		lines = append(lines, rec.Log)
		streams[rec.Stream]++
	}
	all := strings.Join(lines, "")
	noCanary(t, "json-file log", all)
	if strings.Contains(all, b64) || !strings.Contains(all, "pw=*****") || streams["stdout"] == 0 || streams["stderr"] == 0 {
		t.Errorf("log lines %q, streams %v", lines, streams)
	}
}

// TestRunLogNoneKeepsFastPath: without a driver or masking the child still
// replaces shroud (same PID, no pipe).
func TestRunLogNoneKeepsFastPath(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "shroud.toml", "[log]\ndriver = \"none\"\n")
	r := shroud(t, dir, nil, "run", "--config", "shroud.toml", "--", "sh", "-c", `echo $$; test -t 1 || readlink /proc/self/fd/1`)
	if r.code != 0 || !strings.HasPrefix(r.stdout, fmt.Sprintf("%d\n", r.pid)) {
		t.Fatalf("exit %d stdout %q, want the child to have shroud's pid %d", r.code, r.stdout, r.pid)
	}
}

// TestRunMaskFollowsRotation: a secret that rotates while the child runs is
// masked in the child's output by its new value too (the watch loop hands
// every new value to the masker), and the old one stays masked.
func TestRunMaskFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	v1, v2 := rotCanaries[4], rotCanaries[5]+"-rotated" // 18 and 26 bytes
	write(t, dir, "src/pw", v1)
	logPath := filepath.Join(dir, "logs", "app.log")
	write(t, dir, "shroud.toml", fmt.Sprintf(`
[rotation]
interval = "0"      # file: sources are watched
on_change = "none"  # the child reads the file each time

[[files]]
path = "out/pw"
value_from = "file:src/pw"

[log]
driver = "json-file"
mask = true
options = { path = %q }
`, logPath))
	script := `while :; do printf 'pw=%s len=%s\n' "$(cat out/pw)" "$(wc -c < out/pw)"; sleep 0.05; done`
	s := startShroud(t, nil, "run", "--config", filepath.Join(dir, "shroud.toml"), "--", "sh", "-c", "cd "+dir+" && "+script)
	logged := func() string {
		data, _ := os.ReadFile(logPath)
		return string(data)
	}
	awaitLog := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logged(), what); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %q in the log (last lines %q); shroud's stderr:\n%s", what, tail(logged()), s.stderr)
			}
		}
	}
	awaitLog(`pw=***** len=18`)
	replaceFile(t, filepath.Join(dir, "src", "pw"), v2)
	awaitLog(`pw=***** len=26`)
	s.signal(t, unix.SIGTERM)
	s.wait(t)
	noRotCanary(t, "the json-file log", logged())
	noRotCanary(t, "shroud's stderr", s.stderr.String())
	if strings.Contains(logged(), "-rotated") {
		t.Errorf("the rotated value is not masked:\n%s", logged())
	}
}

// tail is the end of a log for a failure message, with the rotation
// canaries blanked: a test output shows no secret value either.
func tail(log string) string {
	log = log[max(0, len(log)-400):]
	for _, c := range rotCanaries {
		log = strings.ReplaceAll(log, c, "<canary>")
	}
	return log
}

// TestRunMaskingStatePerRun is a restart (an env secret rotated, without
// --signal-group) whose old run left a grandchild holding the old stdout
// pipe. The new run prints a secret in two writes; between them the
// grandchild exits. The end of the old pipe must not push out the start of
// the secret that the new run's stream holds back: each run's pipe is
// masked on its own (before, the whole secret reached the log).
func TestRunMaskingStatePerRun(t *testing.T) {
	const secret = "canary-split-Qm72Zx9Kp4wR"
	half := len(secret) / 2
	dir := t.TempDir()
	write(t, dir, "src/token", rotCanaries[0])
	write(t, dir, "src/split", secret)
	logPath := filepath.Join(dir, "logs", "app.log")
	write(t, dir, "shroud.toml", fmt.Sprintf(`
[rotation]
interval = "0"   # file: sources are watched; an env secret's change restarts

[[secrets]]
name = "TOKEN"
value_from = "file:src/token"

[[secrets]]
name = "SPLIT"
value_from = "file:src/split"

[log]
driver = "json-file"
mask = true
options = { path = %q }
`, logPath))
	// Run 1 leaves a grandchild on its stdout until told to end; run 2
	// prints SPLIT in two writes, each when told.
	script := fmt.Sprintf(`cd %s
gen=$(( $(cat gen 2>/dev/null || echo 0) + 1 )); echo $gen > gen
if [ $gen = 1 ]; then
  ( while [ ! -e end-grandchild ]; do sleep 0.02; done; echo "grandchild ends" ) &
  trap 'exit 0' TERM; while :; do sleep 0.05; done
fi
printf 'pw=%%s' "$(printf '%%s' "$SPLIT" | head -c %d)"; touch first-half
while [ ! -e second-half ]; do sleep 0.02; done
printf '%%s done\n' "$(printf '%%s' "$SPLIT" | tail -c +%d)"
trap 'exit 0' TERM; while :; do sleep 0.05; done`, dir, half, half+1)
	s := startShroud(t, nil, "run", "--config", filepath.Join(dir, "shroud.toml"), "--", "sh", "-c", script)
	exists := func(name string) func() bool {
		return func() bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	}
	logged := func() string { data, _ := os.ReadFile(logPath); return string(data) }
	waitFor(t, "the first run", exists("gen"))
	replaceFile(t, filepath.Join(dir, "src", "token"), rotCanaries[1]) // a restart, after its settle time
	waitFor(t, "the second run's first write", exists("first-half"))
	write(t, dir, "end-grandchild", "")
	waitFor(t, "the old pipe's end", func() bool { return strings.Contains(logged(), "grandchild ends") })
	write(t, dir, "second-half", "")
	waitFor(t, "the second write", func() bool { return strings.Contains(logged(), " done") })
	s.signal(t, unix.SIGTERM)
	s.wait(t)
	out := logged() + s.stderr.String()
	if strings.Contains(out, secret[:half]) || strings.Contains(out, secret[half:]) || !strings.Contains(logged(), "pw=***** done") {
		t.Errorf("the secret, or a part of it, reached the log or stderr:\n%s", strings.ReplaceAll(strings.ReplaceAll(out, secret[:half], "<first half>"), secret[half:], "<second half>"))
	}
	noRotCanary(t, "the json-file log and stderr", out)
}
