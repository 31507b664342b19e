package inject

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/internal/awsfake"
	"github.com/shroud-dev/shroud/internal/must"
)

// TestREADMEFilesExample renders the example of README.md's "Files and
// templates" section with the values the README states, and compares each
// file with the output the README shows.
func TestREADMEFilesExample(t *testing.T) {
	config, outputs := readmeFilesExample(t)
	if config == "" || len(outputs) != 2 {
		t.Fatalf("README example: config %d bytes, %d outputs", len(config), len(outputs))
	}
	// The values the README states.
	fake, r := awsFake(t)
	fake.PutSecretString("us-east-1", "prod/db", `{"username": "orders", "password": "s3cr3t/p@ss w0rd", "host": "db.internal", "port": 5432}`)
	fake.PutParameter("us-east-1", "/prod/payments/api-key", awsfake.SecureString, "pay-7f3a9c")

	path := filepath.Join(t.TempDir(), "shroud.toml")
	must.Succeed(t, os.WriteFile(path, []byte(config), 0o600))
	_, m := materializeConfig(t, path, r)
	if len(m.Files) != len(outputs) {
		t.Fatalf("%d files rendered, the README shows %d", len(m.Files), len(outputs))
	}
	for _, f := range m.Files {
		want, ok := outputs[f.Path]
		if !ok {
			t.Errorf("the README shows no output for %s", f.Path)
		}
		if string(f.Data) != want {
			t.Errorf("%s:\n%s\nthe README shows:\n%s", f.Path, f.Data, want)
		}
	}
	if c := fake.Counts(); len(c) != 2 || c["secretsmanager.GetSecretValue"] != 1 || c["AmazonSSM.GetParameters"] != 1 {
		t.Errorf("calls %v; want one GetSecretValue and one GetParameters", c)
	}
}

// readmeFilesExample returns the section's toml block, and each code block
// that follows a line naming a file as `PATH`:.
func readmeFilesExample(t *testing.T) (config string, outputs map[string]string) {
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	outputs = map[string]string{}
	named := regexp.MustCompile("^`(/[^`]+)`:$")
	var (
		section, inBlock bool
		lang, file       string
		block            strings.Builder
	)
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = line == "## Files and templates"
		case !section:
		case strings.HasPrefix(line, "```") && !inBlock:
			inBlock, lang = true, strings.TrimPrefix(line, "```")
			block.Reset()
		case strings.HasPrefix(line, "```"):
			inBlock = false
			switch {
			case lang == "toml" && config == "":
				config = block.String()
			case file != "":
				outputs[file] = block.String()
			}
			file = ""
		case inBlock:
			block.WriteString(line + "\n")
		case named.MatchString(line):
			file = named.FindStringSubmatch(line)[1]
		}
	}
	return config, outputs
}
