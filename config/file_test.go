package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-multierror"
	"github.com/shroud-dev/shroud/internal/bounded"
)

func parse(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return ParseFile("/etc/shroud/shroud.toml", []byte(text))
}

func TestConfigValid(t *testing.T) {
	cfg, err := parse(t, `
region = "eu-west-1"

[[secrets]]
name = "DB_PASSWORD"
value_from = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf:password::"

[[files]]
path = "certs/tls.key"
value_from = "file:./tls.key"
mode = "0440"
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || len(cfg.Env) != 1 || len(cfg.Files) != 1 {
		t.Fatalf("cfg = %+v", cfg)
	}
	spec := cfg
	f := spec.Files[0]
	if f.Path != "/etc/shroud/certs/tls.key" || f.Mode != 0o440 || f.Ref.ID != "/etc/shroud/tls.key" {
		t.Fatalf("file = %+v: paths must be relative to the config file", f)
	}
	if f.Origin != "/etc/shroud/shroud.toml:8 [[files]] #1" {
		t.Fatalf("origin = %q", f.Origin)
	}
}

func TestConfigUnknownKeys(t *testing.T) {
	_, err := parse(t, `region = "us-east-1"
[[secrets]]
name = "A"
value_from = "sm:a"

[[secrets]]
nmae = "B"
value_from = "sm:b"

[rotaton]
interval = "5m"
`)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`shroud.toml:7: unknown key "secrets.nmae"; known keys in [secrets]: name, value_from`,
		`shroud.toml:10: unknown key "rotaton"; known keys at the top level:`,
		`shroud.toml:6 [[secrets]] #2: name "" is not a valid environment variable name`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestConfigReportsEveryProblem checks that validation lists all problems in
// one error, each with its line.
func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := parse(t, `region = "mars-1"

[[secrets]]
name = "1BAD"
value_from = "sm:a"

[[secrets]]
name = "DUP"
value_from = ""

[[secrets]]
name = "DUP"
value_from = "vault:x/y"

[[files]]
path = "/run/a"
value_from = "sm:a"
mode = "0999"

[[files]]
path = "/run/b/../a"
value_from = "sm:a"
mode = "0200"

[[files]]
path = ""
value_from = "arn:aws:s3:::bucket/key"
`)
	if err == nil {
		t.Fatal("no error")
	}
	wants := []string{
		"8 problems:",
		`region "mars-1" is not an AWS region`,
		`:3 [[secrets]] #1: name "1BAD" is not a valid environment variable name`,
		`:7 [[secrets]] #2: value_from is empty`,
		`:11 [[secrets]] #3: DUP is already bound at /etc/shroud/shroud.toml:7 [[secrets]] #2`,
		`:11 [[secrets]] #3: reference "vault:x/y": unknown scheme "vault:"`,
		`:15 [[files]] #1: mode "0999" is not an octal permission`,
		`:20 [[files]] #2: /run/b/../a is already written by the file at /etc/shroud/shroud.toml:15 [[files]] #1`,
		`:20 [[files]] #2: mode "0200" does not let the owner read the file`,
		`:25 [[files]] #3: path is empty`,
	}
	for _, want := range wants[1:] {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	// Count: region, 1BAD, empty value_from, DUP, vault, 0999, dup path, 0200, empty path, s3.
	if !strings.Contains(err.Error(), "10 problems:") {
		t.Errorf("want 10 problems listed:\n%v", err)
	}
}

// TestConfigSyntaxError: a TOML error is one line naming the line of the
// offending byte, even when that byte is a newline (the decoder counts it
// on the next line); a mode written as a number gets the quoted fix.
func TestConfigSyntaxError(t *testing.T) {
	const file = "[[files]]\npath = \"/a\"\nvalue_from = \"sm:a\"\n"
	for text, want := range map[string]string{
		"[aws\nregion = \"x\"\n":                           `shroud.toml:1: expected '.' or ']' to end table name, but got '\n' instead`,
		"region = \"us-east-1\"\n[[secrets]]\nname = DB\n": `shroud.toml:3: expected value but found "DB" instead`,
		"region = \"us-east-1\nx = 1\n":                    `shroud.toml:1: strings cannot contain newlines`,
		"a = 1\n\nb = \n":                                  `shroud.toml:3: expected value but found '\n' instead`,
		file + "mode = 400\n":                              `shroud.toml:4: mode is the number 400, not octal text; write the mode as a quoted string: mode = "0400"`,
		file + "mode = 640 # rw-r-----\n":                  `shroud.toml:4: mode is the number 640, not octal text; write the mode as a quoted string: mode = "0640"`,
		file + "mode = 0o600\n":                            `shroud.toml:4: mode is the number 384, not octal text; write the mode as a quoted string: mode = "0600"`,
		file + "mode = 0400\n":                             `shroud.toml:4: Invalid integer "0400": cannot have leading zeroes; write the mode as a quoted string: mode = "0400"`,
		file + "mode = true\n":                             `shroud.toml:4: mode is a bool, not octal text; write the mode as a quoted string: mode = "0400"`,
	} {
		_, err := parse(t, text)
		if err == nil || err.Error() != "/etc/shroud/"+want {
			t.Errorf("%q:\n got  %v\n want /etc/shroud/%s", text, err, want)
		}
	}
}

func TestLoadConfigMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "none.toml"))
	if err == nil || !strings.Contains(err.Error(), "none.toml") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigExampleFilesLoad(t *testing.T) {
	for _, path := range []string{"../config.example.toml", "../examples/local/shroud.toml"} {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if _, err := LoadFile(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// FuzzParseConfig checks that no input panics the loader, that accepted
// configs give a valid Spec, that a single
// problem is reported in one line, and that nesting past bounded.MaxDepth is
// refused before the TOML parser recurses into it.
//
//	go test ./config -run '^$' -fuzz FuzzParseConfig -fuzztime 60s
func FuzzParseConfig(f *testing.F) {
	for _, path := range []string{"../config.example.toml", "../examples/local/shroud.toml"} {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("[[secrets]]\nname = \"A\"\nvalue_from = \"sm:a\"\n[[files]]\npath = \"x\"\nvalue_from = \"file:y#k\"\nmode = \"0600\"\n"))
	f.Add([]byte("region = \"us-east-1\"\n[x]\ny = 1\n"))
	f.Add([]byte("[aws\n[[files]]\npath = \"x\"\nvalue_from = \"file:y\"\nmode = 400\n"))
	f.Add([]byte("[aws]\nrole_arn = \"arn:aws:iam::123456789012:role/r\"\ntimeout = \"3s\"\n[[env_from]]\npath = \"/a/\"\nprefix = \"A_\"\n[[env_from]]\nvalue_from = \"sm:x\"\n"))
	deep := strings.Repeat("[", bounded.MaxDepth) + strings.Repeat("]", bounded.MaxDepth)
	f.Add([]byte("[log]\noptions = {a = " + deep + "}\n"))
	f.Add([]byte("[[files]]\npath = 'x'\n[files.values]\n" + strings.Repeat("a.", bounded.MaxDepth) + "b = 'sm:x'\n"))
	f.Add([]byte("[rotation]\ninterval = \"\"\"\n[[[\n\"\"\"\n[" + strings.Repeat("t.", bounded.MaxDepth) + "u]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseFile("/cfg/shroud.toml", data)
		if depth := bounded.CheckTOML(data); depth != nil && (err == nil || !strings.Contains(err.Error(), depth.Error())) {
			t.Fatalf("a document nested past the bound: %v", err)
		}
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			if !errors.As(err, new(*multierror.Error)) && strings.Contains(err.Error(), "\n") {
				t.Fatalf("one problem over several lines: %q", err)
			}
			return
		}
		if _, err := cfg.With(Input{}); err != nil {
			t.Fatalf("a valid config gave an invalid spec: %v", err)
		}
	})
}

func TestConfigAlibaba(t *testing.T) {
	cfg, err := parse(t, `
[alibaba]
region = "cn-hangzhou"
endpoint = "kst-hzz62ee817bvyyr5x.cryptoservice.kms.aliyuncs.com"
ca_file = "kms-ca.pem"
vpc = true
credentials = "rrsa"
role_arn = "acs:ram::1234567890123456:role/app-secrets-reader"
sts_endpoint = "sts-vpc.cn-hangzhou.aliyuncs.com"
timeout = "20s"
call_timeout = "3s"

[alibaba.endpoints]
cn-shanghai = "http://127.0.0.1:8080"
`)
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Alibaba; a.Region != "cn-hangzhou" || a.Endpoints["cn-shanghai"] != "http://127.0.0.1:8080" || !a.VPC || a.Credentials.Type != "rrsa" {
		t.Fatalf("alibaba = %+v", a)
	}
	if cfg.Alibaba.CAFile != "/etc/shroud/kms-ca.pem" {
		t.Fatalf("ca_file = %q, want it relative to the config", cfg.Alibaba.CAFile)
	}

	_, err = parse(t, `[alibaba]
region = "hangzhou"
endpoint = "https://kms.example.com/path"
credentials = "ram_role_arn"
profile = "dev"
ecs_role_name = "r"
timeout = "soon"
access_key_id = "LTAI"

[alibaba.endpoints]
"cn shanghai" = "ftp://x"
`)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`shroud.toml:2: [alibaba] region "hangzhou" is not an Alibaba Cloud region ID like cn-hangzhou`,
		`shroud.toml:3: [alibaba] endpoint "https://kms.example.com/path": want https:// (or http:// to a loopback address) with a host and an optional port, and no path`,
		`shroud.toml:4: [alibaba] credentials = "ram_role_arn" needs role_arn`,
		`shroud.toml:5: [alibaba] profile is used only with credentials = "profile"`,
		`shroud.toml:6: [alibaba] ecs_role_name is used only with credentials = "ecs_ram_role"`,
		`shroud.toml:7: [alibaba] timeout "soon" is not a positive duration`,
		`shroud.toml:8: alibaba.access_key_id holds an AccessKey, which does not belong where anyone who can read it can use it; give shroud a RAM role instead: RRSA on ACK`,
		`[alibaba.endpoints] "cn shanghai" is not an Alibaba Cloud region ID`,
		`[alibaba.endpoints] cn shanghai: endpoint "ftp://x": want https://`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for text, want := range map[string]string{
		"[alibaba]\ncredentials = \"vault\"\n":                               `shroud.toml:2: [alibaba] credentials "vault": want default, env, sts, ram_role_arn, rrsa, ecs_ram_role or profile`,
		"[alibaba]\nca_file = \"ca.pem\"\n":                                  `shroud.toml:2: [alibaba] ca_file applies to endpoint and endpoints, and neither is set`,
		"[alibaba]\ncredentials = \"rrsa\"\nrole_arn = \"arn:aws:iam::1\"\n": `shroud.toml:3: [alibaba] role_arn "arn:aws:iam::1" is not a RAM role ARN`,
	} {
		if _, err := parse(t, text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", text, err, want)
		}
	}
}

// TestConfigLinesSkipStrings: text inside strings and comments that looks
// like a header or a key (a template rendering a TOML or INI file) is never
// taken for one when errors name a line.
func TestConfigLinesSkipStrings(t *testing.T) {
	_, err := parse(t, `[[files]]   # [[secrets]] in a comment
path = "out/app.ini"
template = '''
[aws]
[[secrets]]
nmae = "{{ secret "file:pw" }}"
'''
[[files]]
path = "out/b"
template = """x \""" [[secrets]]
nmae = y"""
value_from = "file:b"

[[secrets]]
nmae = "B"

[aws]
timeout = "soon"
`)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`shroud.toml:15: unknown key "secrets.nmae"`,
		`shroud.toml:14 [[secrets]] #1: name "" is not a valid environment variable name`,
		`shroud.toml:17 [aws]: timeout "soon"`,
		`shroud.toml:8 [[files]] #2`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestStructureLines(t *testing.T) {
	doc := "a = 1 # c\nt = '''x\n[h]\ny'''  # z\ns = \"# not a comment\" # c\nu = \"\"\"q\\\"\"\"\nk = 2\n\"\"\"\n[real]"
	want := []string{"a = 1 ", "t = '''", "", "'''  ", `s = "# not a comment" `, `u = """`, "", `"""`, "[real]"}
	got := structureLines([]byte(doc))
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("structureLines:\n got %q\nwant %q", got, want)
	}
}
