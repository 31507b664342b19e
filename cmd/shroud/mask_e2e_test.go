//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shroud-dev/shroud/internal/awsfake"
)

// hecReceiver is a Splunk HTTP Event Collector over plain HTTP: it answers
// the driver's connection check, refuses a wrong token, and keeps the line
// of each event (Docker's inline format, shroud's default).
type hecReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	lines []string
}

func newHECReceiver(t *testing.T, token string) *hecReceiver {
	h := &hecReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodOptions:
			return // the connection check
		case r.URL.Path != "/services/collector/event/1.0" || r.Method != http.MethodPost:
			http.Error(w, `{"text":"Not found","code":404}`, http.StatusNotFound)
			return
		case r.Header.Get("Authorization") != "Splunk "+token:
			http.Error(w, `{"text":"Invalid token","code":4}`, http.StatusForbidden)
			return
		}
		for dec := json.NewDecoder(r.Body); ; {
			var ev struct {
				Event struct{ Line, Source string } `json:"event"`
			}
			if err := dec.Decode(&ev); err == io.EOF {
				break
			} else if err != nil {
				http.Error(w, `{"text":"Invalid data format","code":6}`, http.StatusBadRequest)
				return
			}
			h.mu.Lock()
			h.lines = append(h.lines, ev.Event.Source+": "+ev.Event.Line)
			h.mu.Unlock()
		}
		io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// take returns the lines received so far, sorted (stdout and stderr are
// sent apart), and forgets them.
func (h *hecReceiver) take() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	slices.Sort(h.lines)
	out := strings.Join(h.lines, "\n")
	h.lines = nil
	return out
}

// TestECSSplunkMasksByDefault runs an ECS task definition whose
// logConfiguration sends the output to Splunk (URL and token from
// secretOptions) through the built binary: the secrets the child prints
// arrive masked, with nothing in the task definition asking for it. A
// config whose [log] says only mask = false keeps the task definition's
// driver and turns masking off: the same values then arrive in clear,
// which shows the receiver sees what the child printed.
func TestECSSplunkMasksByDefault(t *testing.T) {
	const token, pw = "canary-hec-tok-Wq82", "canary-hec-pw-Lx40"
	hec := newHECReceiver(t, token)
	dir := t.TempDir()
	write(t, dir, "splunk-url", hec.srv.URL+"\n")
	write(t, dir, "splunk-token", token)
	write(t, dir, "pw", pw)
	write(t, dir, "task.json", `{"family": "app", "containerDefinitions": [{"name": "app", "image": "app",
	  "secrets": [{"name": "TOKEN", "valueFrom": "file:splunk-token"}, {"name": "PW", "valueFrom": "file:pw"}],
	  "logConfiguration": {"logDriver": "splunk", "options": {"splunk-index": "main"},
	    "secretOptions": [{"name": "splunk-url", "valueFrom": "file:splunk-url"}, {"name": "splunk-token", "valueFrom": "file:splunk-token"}]}}]}`)
	script := `echo "token=$TOKEN pw=$PW"; echo "pw=$PW" >&2`

	r := shroud(t, dir, nil, "run", "--ecs-task-definition", "task.json", "--", "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	blank := strings.NewReplacer(token, "<token>", pw, "<pw>").Replace // no value in a test's output either
	got := hec.take()
	if got != "stderr: pw=*****\nstdout: token=***** pw=*****" {
		t.Errorf("Splunk received %q, want both values masked", blank(got))
	}
	if strings.Contains(r.stdout+r.stderr, "canary") || !strings.Contains(r.stdout, "token=***** pw=*****") {
		t.Errorf("the tee: stdout %q stderr %q, want the values masked", blank(r.stdout), blank(r.stderr))
	}

	write(t, dir, "shroud.toml", "[log]\nmask = false\n")
	r = shroud(t, dir, nil, "run", "--config", "shroud.toml", "--ecs-task-definition", "task.json", "--", "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("mask = false: exit %d, stderr %q", r.code, blank(r.stderr))
	}
	if got := hec.take(); got != "stderr: pw="+pw+"\nstdout: token="+token+" pw="+pw {
		t.Errorf("mask = false: Splunk received %q, want the values in clear", blank(got))
	}
	if strings.Contains(r.stderr, "ignored") {
		t.Errorf("a [log] without a driver warned: %s", r.stderr)
	}

	// A [log] with a driver replaces the task definition's, and says so,
	// naming the options but no value.
	write(t, dir, "shroud.toml", "[log]\ndriver = \"json-file\"\noptions = { path = \"logs/app.log\" }\n")
	r = shroud(t, dir, nil, "run", "--config", "shroud.toml", "--ecs-task-definition", "task.json", "--", "sh", "-c", script)
	if got := hec.take(); r.code != 0 || got != "" {
		t.Errorf("[log] with a driver: exit %d, Splunk received %q", r.code, blank(got))
	}
	for _, want := range []string{"logConfiguration is ignored", "logDriver=splunk", "secretOptions=\"[splunk-url splunk-token]\""} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, blank(r.stderr))
		}
	}
	if strings.Contains(r.stderr, "canary") || strings.Contains(r.stderr, hec.srv.URL) {
		t.Errorf("the warning shows a value:\n%s", blank(r.stderr))
	}
}

// readmeDSNTemplate is the DSN template of README.md's "Files and
// templates" section, as written there.
func readmeDSNTemplate(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "postgres://{{") && strings.Contains(line, "urlEncode") {
			return strings.TrimSpace(line)
		}
	}
	t.Fatal("README.md has no DSN template")
	return ""
}

// TestDSNTemplateMasked renders README.md's DSN template from a Secrets
// Manager secret (the in-process AWS fake) and runs a child that prints
// the DSN and a request path with the database's name in it: the log has
// the password masked in the URL-encoded form the template wrote, and the
// user, host, database name and the path as they are. With mask_encodings
// empty, the template's form is still masked: shroud wrote it.
func TestDSNTemplateMasked(t *testing.T) {
	fake := awsfake.New()
	t.Cleanup(fake.Close)
	const pw = "s3cr3t/p@ss w0rd canary-dsn-Tz61"
	fake.PutSecretString("us-east-1", "prod/db", `{"username": "orders", "password": "`+pw+`", "host": "db.internal", "port": 5432}`)
	encoded := strings.ReplaceAll(url.QueryEscape(pw), "+", "%20")
	blank := strings.NewReplacer(encoded, "<encoded>", pw, "<pw>").Replace
	tmpl := readmeDSNTemplate(t)
	want := "connect postgres://orders:*****@db.internal:5432/orders?sslmode=verify-full\nGET /orders/42 200\n"
	for _, encodings := range []string{"", "mask_encodings = []\n"} {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "logs", "app.log")
		write(t, dir, "shroud.toml", fmt.Sprintf(`region = "us-east-1"
[[files]]
path = "run/database.url"
template = '''
%s
'''
[log]
driver = "json-file"
options = { path = %q }
%s`, tmpl, logPath, encodings))
		r := shroud(t, dir, append(fake.Env(), "AWS_REGION=us-east-1"), "run", "--config", "shroud.toml", "--",
			"sh", "-c", `echo "connect $(cat run/database.url)"; echo "GET /orders/42 200"`)
		if r.code != 0 {
			t.Fatalf("%sexit %d, stderr %q", encodings, r.code, blank(r.stderr))
		}
		data, err := os.ReadFile(filepath.Join(dir, "run", "database.url"))
		if err != nil || !strings.Contains(string(data), ":"+encoded+"@") {
			t.Fatalf("the file does not hold the URL-encoded password (%v)", err)
		}
		if logged := jsonFileLines(t, logPath); logged != want {
			t.Errorf("%sthe log holds %q, want %q", encodings, blank(logged), want)
		}
		if r.stdout != want {
			t.Errorf("%sthe tee holds %q, want %q", encodings, blank(r.stdout), want)
		}
	}
}

// TestRunMaskTemplateFormsFollowRotation: after a rotation, what the
// template makes of the new value is masked too (mask_encodings is empty,
// so only the template's own form can mask it), and the old form stays
// masked.
func TestRunMaskTemplateFormsFollowRotation(t *testing.T) {
	dir := t.TempDir()
	v1, v2 := "p@ss one/"+rotCanaries[2], "p@ss two/"+rotCanaries[3]
	write(t, dir, "src/pw", v1)
	logPath := filepath.Join(dir, "logs", "app.log")
	write(t, dir, "shroud.toml", fmt.Sprintf(`
[rotation]
interval = "0"
on_change = "none"

[[files]]
path = "out/dsn"
template = 'postgres://app:{{ secret "file:src/pw" | urlEncode }}@db/app'

[log]
driver = "json-file"
options = { path = %q }
mask_encodings = []
`, logPath))
	script := `while :; do printf 'dsn=%s\n' "$(cat out/dsn)"; sleep 0.05; done`
	s := startShroud(t, nil, "run", "--config", filepath.Join(dir, "shroud.toml"), "--", "sh", "-c", "cd "+dir+" && "+script)
	read := func(path string) string {
		data, _ := os.ReadFile(path)
		return string(data)
	}
	await := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s (the log ends %q); shroud's stderr:\n%s", what, tail(read(logPath)), s.stderr)
			}
		}
	}
	const masked = "dsn=postgres://app:*****@db/app"
	await("the DSN masked in the log", func() bool { return strings.Contains(read(logPath), masked) })
	write(t, dir, "src/pw.tmp", v2)
	if err := os.Rename(filepath.Join(dir, "src/pw.tmp"), filepath.Join(dir, "src/pw")); err != nil {
		t.Fatal(err)
	}
	newDSN := "postgres://app:" + strings.ReplaceAll(url.QueryEscape(v2), "+", "%20") + "@db/app"
	await("the new DSN in the file", func() bool { return read(filepath.Join(dir, "out", "dsn")) == newDSN })
	n := strings.Count(read(logPath), masked)
	await("the new DSN printed a few times", func() bool { return strings.Count(read(logPath), masked) >= n+5 })
	s.signal(t, unix.SIGTERM)
	s.wait(t)
	logged, _ := os.ReadFile(logPath)
	noRotCanary(t, "the json-file log", string(logged))
	if strings.Contains(string(logged), "two%2F") || strings.Contains(string(logged), "one%2F") {
		t.Errorf("a URL-encoded password reached the log:\n%s", tail(string(logged)))
	}
}

// jsonFileLines returns the lines of a json-file log, joined.
func jsonFileLines(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var rec struct{ Log string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("json-file line %q: %v", sc.Text(), err)
		}
		b.WriteString(rec.Log)
	}
	return b.String()
}
