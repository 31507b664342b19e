package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadReadsRegularFilesOnly: a config file or task definition that is
// a device, a FIFO or too large fails at once, naming the file and what is
// wrong, instead of reading without end or waiting for a writer.
func TestLoadReadsRegularFilesOnly(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", maxConfigSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   Input
		want string
	}{
		{Input{Path: "/dev/zero"}, "reading config: /dev/zero is not a regular file (a character device)"},
		{Input{Path: fifo}, "reading config: " + fifo + " is not a regular file (a FIFO)"},
		{Input{Path: big}, "reading config: " + big + " is larger than 4 MiB"},
		{Input{TaskDefinition: "/dev/zero"}, "reading ECS task definition: /dev/zero is not a regular file (a character device)"},
		{Input{TaskDefinition: fifo}, "reading ECS task definition: " + fifo + " is not a regular file (a FIFO)"},
		{Input{TaskDefinition: big}, "reading ECS task definition: " + big + " is larger than 4 MiB"},
	}
	for _, c := range cases {
		start := time.Now()
		_, err := Load(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.in, err, c.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%+v took %v", c.in, d)
		}
	}
}

// TestLoadRefusesDeepNesting: a config or task definition nested deeper
// than any real one fails with its line, before a parser recurses into it.
func TestLoadRefusesDeepNesting(t *testing.T) {
	dir := t.TempDir()
	deep := strings.Repeat("[", 2_000_000) + strings.Repeat("]", 2_000_000)
	cfg := filepath.Join(dir, "shroud.toml")
	os.WriteFile(cfg, []byte("region = \"us-east-1\"\nx = "+deep+"\n"), 0o600)
	td := filepath.Join(dir, "task.json")
	os.WriteFile(td, []byte(`{"containerDefinitions": `+deep+"}"), 0o600)
	for in, want := range map[*Input]string{
		{Path: cfg}:          cfg + ": line 2 nests deeper than 64 levels",
		{TaskDefinition: td}: td + ": not an ECS task definition: line 1 nests deeper than 64 levels",
	} {
		if _, err := Load(*in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: err = %v, want %q", *in, err, want)
		}
	}
}
