package inject

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	composedotenv "github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/joho/godotenv"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/sources"
)

// The dotenv tests read what shroud writes with the real readers apps use,
// each a real parser run as it runs for them:
//
//   - promised (every value shroud writes reads back byte for byte, or
//     shroud refuses it naming the reader): shroud's own file: reader,
//     python-dotenv (Debian's python3-dotenv, dotenv_values), node dotenv
//     (its parse rules run by node, see testdata/dotenv-node.js: Debian
//     ships no node-dotenv), godotenv and compose-go's dotenv (the parser
//     of docker compose v2's env_file), and POSIX sh (set -a; . FILE);
//   - measured, with their known differences predicted (dotenvReader.agrees)
//     and documented in README.md: docker run --env-file, which takes values
//     literally; docker-compose v1; Debian's ruby-dotenv 2.4 (no values
//     across lines) and phpdotenv 5.4 (single-quoted values on one line
//     only).
//
// A reader that is not installed is skipped with a message, except under CI
// (.ci/run installs them all), where that fails.

// hostile are values that dotenv readers treat differently.
var hostile = []string{
	"", "plain", "a-b_c.d/e:f@g%h+i,j=k", "=leading-equals", "with space", " leading and trailing ", "\ttab\tinside",
	"it's", `say "hi"`, `"double"`, "'single'", "it's \"both\"", "it's $HOME", `it's back\slash`, "it's `id`",
	"$HOME", "$HOME ${HOME} `id` $(id)", "${HOME}", "${HOME:-x}", "${A:b}", "$", "${", "cost: $5", "`id`", "$(id)",
	`back\slash`, `\n literal`, `\t\r\a\\`, `two\\backslashes`, "trailing\\", `\'`, `\"`, `\$HOME`,
	"# not a comment", "a #b", "a#b", "#", "=", " ", "!bang", "~tilde", "a;b|c&d<e>f", "{a: b}", "[a, b]", "*?",
	"line1\nline2", "\nleading newline", "trailing newline\n", "two\n\nblank lines", "multi 'line'\nit's", "multi $HOME\nline",
	"multi \"line\"\nx", "crlf\r\nend", "cr\rinside", "trailing cr\r",
	"ünïcödé ✓ 😀", "\u00a0nbsp\u00a0", "\u2028\u2029\u0085\ufeff", "\x01\x1f\x7f", "a=\"b", "K='v'", "K=\"v\"",
	"export X=1", "PW=Xy'7$q\\Lm`9\"z", "canary-" + canary,
}

// dotenvReader is one program that reads dotenv files.
type dotenvReader struct {
	name     string
	promised bool
	// agrees predicts, for a reader not promised, whether it reads value
	// back, given the form shroud wrote it in.
	agrees func(value, written string) bool
	// read parses the file at path. Each value gets a file of its own,
	// except for a slow reader, which reads the values of one line
	// together.
	read    func(path string) (map[string]string, error)
	slow    bool
	missing string // why the reader cannot run here
}

func dotenvReaders() []*dotenvReader {
	multiline := func(v string) bool { return strings.ContainsRune(v, '\n') }
	return []*dotenvReader{
		{name: "shroud", promised: true, read: shroudRead},
		coprocessReader("python-dotenv", true, nil),
		coprocessReader("node dotenv", true, nil),
		{name: "godotenv", promised: true, read: func(path string) (map[string]string, error) { return godotenv.Read(path) }},
		{name: "compose v2", promised: true, read: func(path string) (map[string]string, error) {
			return composedotenv.GetEnvFromFile(map[string]string{}, []string{path})
		}},
		{name: "sh", promised: true, read: shRead},
		coprocessReader("ruby-dotenv 2.4", false, func(v, _ string) bool { return !multiline(v) }),
		coprocessReader("phpdotenv 5.4", false, func(v, w string) bool {
			single := strings.HasPrefix(w, "'")
			return !single || !multiline(v) && !phpMultilineStart("K="+w)
		}),
		{name: "docker-compose v1", promised: true, read: composeV1Read, slow: true},
		{name: "docker --env-file", read: dockerEnvFileRead, slow: true,
			agrees: func(v, w string) bool { return v == w }},
	}
}

// phpMultilineStart tells a line that phpdotenv 5.4 takes for the start of
// a double-quoted value across lines (its Lines::looksLikeMultilineStart):
// it holds =" and, once each \\ is dropped, one " at most that follows a
// byte other than \.
func phpMultilineStart(line string) bool {
	if !strings.Contains(line, `="`) {
		return false
	}
	l, quotes := strings.ReplaceAll(line, `\\`, ""), 0
	for i := 1; i < len(l); i++ {
		if l[i] == '"' && l[i-1] != '\\' {
			quotes++
		}
	}
	return quotes <= 1
}

func shroudRead(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fields, err := sources.ParseDotenv(data)
	m := map[string]string{}
	for k, v := range fields {
		m[k] = string(v)
	}
	return m, err
}

// shRead sources the file in a POSIX sh with an empty environment and
// returns what it exported.
func shRead(path string) (map[string]string, error) {
	cmd := exec.Command("/bin/sh", "-c", `set -a; . "$1" && exec /usr/bin/env -0`, "sh", path)
	cmd.Env = []string{}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, stderr.Bytes())
	}
	return envZero(out), nil
}

// envZero parses the output of env -0.
func envZero(out []byte) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// coprocesses are the readers that run in another language: each reads a
// path per line and answers a JSON object per line, so a fuzz run pays its
// start once.
var coprocesses = map[string][]string{
	"python-dotenv": {"python3", "-c", `
import json, logging, sys, dotenv
logging.disable(logging.WARNING)  # its warnings name the lines it skips
for path in sys.stdin:
    try:
        print(json.dumps(dotenv.dotenv_values(path.rstrip("\n"))), flush=True)
    except Exception as e:
        print(json.dumps({"error": str(e)}), flush=True)
`},
	"node dotenv": {"node", "testdata/dotenv-node.js"},
	"ruby-dotenv 2.4": {"ruby", "-e", `
require "dotenv"; require "json"; STDOUT.sync = true
STDIN.each_line do |path|
  begin
    puts JSON.generate(Dotenv::Parser.call(File.read(path.chomp, mode: "rb:bom|utf-8")))
  rescue Exception => e
    puts JSON.generate({"error" => e.message})
  end
end
`},
	"phpdotenv 5.4": {"php", "-r", `
require "/usr/share/php/Dotenv/autoload.php";
while (($path = fgets(STDIN)) !== false) {
  try {
    $out = Dotenv\Dotenv::parse(file_get_contents(rtrim($path, "\n")));
  } catch (Throwable $e) {
    $out = ["error" => $e->getMessage()];
  }
  echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
}
`},
}

type coprocess struct {
	mu  sync.Mutex
	in  io.Writer
	out *bufio.Reader
	err error
}

var (
	coprocessMu  sync.Mutex
	coprocessRun = map[string]*coprocess{}
)

// coprocessReader returns the reader name, started on first use and kept
// for the life of the test binary (it ends when its stdin closes).
func coprocessReader(name string, promised bool, agrees func(value, written string) bool) *dotenvReader {
	rd := &dotenvReader{name: name, promised: promised, agrees: agrees}
	coprocessMu.Lock()
	defer coprocessMu.Unlock()
	c, ok := coprocessRun[name]
	if !ok {
		c = &coprocess{}
		coprocessRun[name] = c
		argv := coprocesses[name]
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stderr = os.Stderr
		var err error
		if c.in, err = cmd.StdinPipe(); err == nil {
			var out io.Reader
			if out, err = cmd.StdoutPipe(); err == nil {
				c.out = bufio.NewReaderSize(out, 1<<20)
				err = cmd.Start()
			}
		}
		c.err = err
		if err == nil {
			// A reader whose library is missing exits at once, or
			// answers with an error: ask it about an empty file.
			empty := filepath.Join(os.TempDir(), fmt.Sprintf("shroud-dotenv-probe-%d.env", os.Getpid()))
			if c.err = os.WriteFile(empty, nil, 0o600); c.err == nil {
				_, c.err = c.ask(empty)
				os.Remove(empty)
			}
		}
	}
	if c.err != nil {
		rd.missing = c.err.Error()
	} else {
		rd.read = c.ask
	}
	return rd
}

func (c *coprocess) ask(path string) (map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.in, path+"\n"); err != nil {
		return nil, err
	}
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("the reader ended: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		var list []any // PHP writes an empty map as []
		if json.Unmarshal(line, &list) == nil && len(list) == 0 {
			return map[string]string{}, nil
		}
		return nil, fmt.Errorf("answer %q: %v", line, err)
	}
	out := map[string]string{}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
			out[k] = "<none>"
		}
	}
	if e, ok := out["error"]; ok && len(m) == 1 {
		return nil, errors.New(e)
	}
	return out, nil
}

// dockerImage builds, once, a FROM-scratch image holding Debian's static
// busybox, to print a container's environment.
var dockerImage = sync.OnceValues(func() (string, error) {
	if _, err := exec.LookPath("docker"); err != nil {
		return "", errors.New("no docker command")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return "", fmt.Errorf("no docker engine: %s", bytes.TrimSpace(out))
	}
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil || !bytes.Contains(busybox, []byte("BusyBox")) {
		return "", errors.New("no static /bin/busybox (Debian's busybox-static)")
	}
	dir, err := os.MkdirTemp("", "shroud-dotenv-image")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := errors.Join(os.WriteFile(filepath.Join(dir, "busybox"), busybox, 0o755),
		os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY busybox /busybox\n"), 0o644)); err != nil {
		return "", err
	}
	const tag = "shroud-test-dotenv:busybox"
	if out, err := exec.Command("docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker build: %v: %s", err, out)
	}
	return tag, nil
})

func dockerEnvFileRead(path string) (map[string]string, error) {
	image, err := dockerImage()
	if err != nil {
		return nil, err
	}
	out, err := exec.Command("docker", "run", "--rm", "--env-file", path, image, "/busybox", "env", "-0").Output()
	if err != nil {
		return nil, fmt.Errorf("docker run: %v", err)
	}
	return envZero(out), nil
}

func composeV1Read(path string) (map[string]string, error) {
	image, err := dockerImage()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		return nil, errors.New("no docker-compose command (Debian's docker-compose, v1)")
	}
	dir, err := os.MkdirTemp("", "shroud-dotenv-compose")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	compose := filepath.Join(dir, "compose.yml")
	if err := os.WriteFile(compose, fmt.Appendf(nil, "version: \"2.4\"\nservices:\n  reader:\n    image: %s\n    env_file: %s\n    command: [/busybox, env, \"-0\"]\n", image, path), 0o644); err != nil {
		return nil, err
	}
	project := fmt.Sprintf("shroud-dotenv-%d", os.Getpid())
	args := []string{"--no-ansi", "-p", project, "-f", compose}
	defer exec.Command("docker-compose", append(args, "down")...).Run()
	cmd := exec.Command("docker-compose", append(args, "run", "--rm", "-T", "reader")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("docker-compose run: %v: %s", err, stderr.Bytes())
	}
	return envZero(out), nil
}

// available runs the reader's probe and reports whether it can run; a
// missing reader fails under CI, and elsewhere is a subtest, named for it,
// that skips saying why (go test -v and .ci/testsummary.go list it).
func (r *dotenvReader) available(t *testing.T) bool {
	if r.missing == "" {
		return true
	}
	msg := fmt.Sprintf("reader %s cannot run: %s (.ci/run installs it)", r.name, r.missing)
	if os.Getenv("CI") != "" {
		t.Error(msg)
	} else {
		t.Run(r.name, func(t *testing.T) { t.Skip(msg) })
	}
	return false
}

// TestDotenvReaders writes every hostile value to a dotenv file and reads it
// back with every reader; it prints the table of value × reader.
func TestDotenvReaders(t *testing.T) {
	readers := dotenvReaders()
	dir := t.TempDir()
	type row struct {
		value, written string
		refused        error
		cells          []string
	}
	rows := make([]*row, len(hostile))
	var batch, oneLine []entry
	for i, v := range hostile {
		key := fmt.Sprintf("V%02d", i)
		r := &row{value: v, cells: make([]string, len(readers))}
		rows[i] = r
		data, err := encode(config.Dotenv, []entry{{key: key, value: []byte(v), ref: "file:hostile"}})
		if err != nil {
			r.refused = err
			continue
		}
		r.written = strings.TrimSuffix(strings.TrimPrefix(string(data), key+"="), "\n")
		batch = append(batch, entry{key: key, value: []byte(v), ref: "file:hostile"})
		if !strings.ContainsRune(v, '\n') {
			oneLine = append(oneLine, entry{key: key, value: []byte(v), ref: "file:hostile"})
		}
	}
	batchPath, oneLinePath := filepath.Join(dir, "all.env"), filepath.Join(dir, "one-line.env")
	for path, entries := range map[string][]entry{batchPath: batch, oneLinePath: oneLine} {
		data, err := encode(config.Dotenv, entries)
		if err != nil {
			t.Fatal(err)
		}
		must.Succeed(t, os.WriteFile(path, data, 0o600))
	}

	for j, rd := range readers {
		if !rd.available(t) {
			for _, r := range rows {
				r.cells[j] = "skip"
			}
			continue
		}
		// A slow reader reads every value in one file; docker run
		// --env-file refuses a file whose values span lines, so it reads
		// the others together and those alone.
		var all map[string]string
		var err error
		alone := !rd.slow
		if rd.slow {
			if all, err = rd.read(batchPath); err != nil {
				if all, err = rd.read(oneLinePath); err != nil {
					rd.missing = err.Error()
					rd.available(t)
					continue
				}
				alone = true
			}
		}
		for i, r := range rows {
			key := fmt.Sprintf("V%02d", i)
			if r.refused != nil {
				r.cells[j] = "refused"
				continue
			}
			got, ok := all[key]
			var err error
			if !rd.slow || alone && strings.ContainsRune(r.value, '\n') {
				got, ok, err = readAlone(rd, dir, key, r.value)
			}
			equal := err == nil && ok && got == r.value
			r.cells[j] = map[bool]string{true: "=", false: "≠"}[equal]
			want := rd.promised || rd.agrees(r.value, r.written)
			if equal != want {
				t.Errorf("%s reads %s=%s as %q (err %v); want equal: %v", rd.name, key, r.written, got, err, want)
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\n%-34s %-38s", "value", "written")
	for _, rd := range readers {
		fmt.Fprintf(&b, " | %s", rd.name)
	}
	for _, r := range rows {
		written := r.written
		if r.refused != nil {
			written = "(refused)"
		}
		fmt.Fprintf(&b, "\n%-34.34q %-38.38q", r.value, written)
		for j, rd := range readers {
			fmt.Fprintf(&b, " | %-*s", utf8.RuneCountInString(rd.name), r.cells[j])
		}
	}
	t.Log(b.String())
}

// readAlone writes key=value in its own file, between two plain entries
// that must survive it too, and reads it.
func readAlone(rd *dotenvReader, dir, key, value string) (string, bool, error) {
	data, err := encode(config.Dotenv, []entry{
		{key: "BEFORE", value: []byte("b")}, {key: key, value: []byte(value)}, {key: "AFTER", value: []byte("a")},
	})
	if err != nil {
		return "", false, err
	}
	path := filepath.Join(dir, key+".env")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", false, err
	}
	m, err := rd.read(path)
	if err != nil {
		return "", false, err
	}
	got, ok := m[key]
	if m["BEFORE"] != "b" || m["AFTER"] != "a" {
		return got, false, fmt.Errorf("the entries around it read back as %q and %q", m["BEFORE"], m["AFTER"])
	}
	return got, ok, nil
}

// TestDotenvRefusals checks each refusal: the error names the variable, the
// reference and a promised reader, never the value; and the refusal is
// needed: in every form a writer could try (single quotes, double quotes
// raw or with sh's escapes), some promised reader reads the value back
// wrong.
func TestDotenvRefusals(t *testing.T) {
	var promised []*dotenvReader
	for _, rd := range dotenvReaders() {
		if rd.promised && !rd.slow && rd.available(t) {
			promised = append(promised, rd)
		}
	}
	dir := t.TempDir()
	refused := 0
	for i, v := range hostile {
		_, err := encode(config.Dotenv, []entry{{key: "DB_PASSWORD", value: []byte(v), ref: "file:/run/secrets/db"}})
		if err == nil {
			continue
		}
		refused++
		msg := err.Error()
		if !strings.Contains(msg, `"file:/run/secrets/db" for DB_PASSWORD`) || !regexpAny(msg, "python-dotenv", "node dotenv", "godotenv", "POSIX sh") ||
			len(v) > 3 && strings.Contains(msg, v) {
			t.Errorf("value %d: the error must name the variable, the reference and a reader, not the value: %v", i, err)
		}
		shEscaped := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`").Replace(v)
		forms := []string{`"` + v + `"`, `"` + shEscaped + `"`}
		if !strings.ContainsRune(v, '\'') {
			forms = append(forms, "'"+v+"'")
		}
		for f, form := range forms {
			path := filepath.Join(dir, fmt.Sprintf("refused-%d-%d.env", i, f))
			must.Succeed(t, os.WriteFile(path, []byte("BEFORE=b\nK="+form+"\nAFTER=a\n"), 0o600))
			var wrong []string
			for _, rd := range promised {
				m, err := rd.read(path)
				if err != nil || m["K"] != v || m["BEFORE"] != "b" || m["AFTER"] != "a" {
					wrong = append(wrong, rd.name)
				}
			}
			if len(wrong) == 0 {
				t.Errorf("%q is refused, yet every reader reads it back from K=%s", v, form)
			}
		}
	}
	if refused == 0 {
		t.Fatal("no hostile value was refused")
	}
}

func regexpAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// TestDotenvFileSource checks that a dotenv file shroud writes reads back
// through shroud's own file:PATH#KEY references, as a config would use it.
func TestDotenvFileSource(t *testing.T) {
	var entries []entry
	var refs []sources.Ref
	dir := t.TempDir()
	path := filepath.Join(dir, "app.env")
	for i, v := range hostile {
		key := fmt.Sprintf("V%02d", i)
		if _, err := dotenvValue(v); err != nil {
			continue
		}
		entries = append(entries, entry{key: key, value: []byte(v)})
		ref, err := sources.Parse("file:" + path + "#" + key)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	data, err := encode(config.Dotenv, entries)
	if err != nil {
		t.Fatal(err)
	}
	must.Succeed(t, os.WriteFile(path, data, 0o600))
	results, err := sources.NewResolver().Resolve(context.Background(), refs)
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range results {
		if got := string(res.Value.Data); got != string(entries[i].value) {
			t.Errorf("file:…#%s = %q, want %q", entries[i].key, got, entries[i].value)
		}
	}
}

// FuzzDotenvReaders round-trips any value through every promised reader
// that runs here: each accepted value must read back byte for byte from all
// of them, and each refusal must keep the value out of its error.
//
//	go test ./inject -run '^$' -fuzz FuzzDotenvReaders -fuzztime 60s -fuzzminimizetime 2s
func FuzzDotenvReaders(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	var promised []*dotenvReader
	for _, rd := range dotenvReaders() {
		switch {
		case !rd.promised || rd.slow: // docker: TestDotenvReaders
		case rd.missing != "":
			f.Logf("SKIPPED: reader %s cannot run: %s", rd.name, rd.missing)
		default:
			promised = append(promised, rd)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return // binary values are refused before (TestFormatsRefuseBinary)
		}
		data, err := encode(config.Dotenv, []entry{{key: "BEFORE", value: []byte("b")}, {key: "K", value: []byte(v), ref: "file:x"}, {key: "AFTER", value: []byte("a")}})
		if err != nil {
			if len(v) > 3 && strings.Contains(err.Error(), v) {
				t.Fatalf("the error shows the value: %v", err)
			}
			return
		}
		path := filepath.Join(dir, "fuzz.env")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, rd := range promised {
			m, err := rd.read(path)
			if err != nil || m["K"] != v || m["BEFORE"] != "b" || m["AFTER"] != "a" {
				t.Fatalf("%s reads %s as %q (err %v; around it %q, %q)", rd.name, data, m["K"], err, m["BEFORE"], m["AFTER"])
			}
		}
	})
}
