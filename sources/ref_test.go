package sources

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestParseVectors runs the grammar's shared test vectors (DESIGN §4).
func TestParseVectors(t *testing.T) {
	f, err := os.Open("testdata/references.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var header []string
	rows := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" && header != nil && !strings.Contains(line, "\t") {
			continue
		}
		cols := strings.Split(line, "\t")
		if header == nil {
			header = cols
			continue
		}
		row := map[string]string{}
		for i, h := range header {
			v := ""
			if i < len(cols) {
				v = cols[i]
			}
			if v == "-" {
				v = ""
			}
			row[h] = v
		}
		rows++
		t.Run(row["ref"], func(t *testing.T) { checkVector(t, row) })
	}
	if rows < 25 {
		t.Fatalf("read only %d vectors", rows)
	}
}

func checkVector(t *testing.T, row map[string]string) {
	ref, err := Parse(row["ref"])
	if row["backend"] == "ERROR" {
		if err == nil {
			t.Fatalf("Parse(%q) = %+v, want an error mentioning %q", row["ref"], ref, row["error"])
		}
		if !strings.Contains(strings.ToLower(err.Error()), row["error"]) {
			t.Fatalf("Parse(%q) error %q does not mention %q", row["ref"], err, row["error"])
		}
		return
	}
	if err != nil {
		t.Fatalf("Parse(%q): %v", row["ref"], err)
	}
	region := ref.Region
	if region == "" && (ref.Backend == SSM || ref.Backend == SecretsManager || ref.Backend == KMS) {
		region = row["default_region"]
	}
	got := map[string]string{
		"backend": string(ref.Backend), "region": region, "account": ref.Account, "id": ref.ID,
		"name": ref.Name, "selector": ref.Selector, "json_key": ref.JSONKey, "stage": ref.Stage,
		"version_id": ref.VersionID,
	}
	for k, g := range got {
		if g != row[k] {
			t.Errorf("Parse(%q).%s = %q, want %q", row["ref"], k, g, row[k])
		}
	}
	if ref.Raw != row["ref"] {
		t.Errorf("Raw = %q", ref.Raw)
	}
}

// TestParseECSExamples covers every valueFrom example of the Amazon ECS
// documentation on passing sensitive data to a container.
func TestParseECSExamples(t *testing.T) {
	const sm = "arn:aws:secretsmanager:us-east-1:111122223333:secret:appauthexample-AbCdEf"
	tests := []struct {
		ref  string
		want Ref
	}{
		{"parameter_name", Ref{Backend: SSM, ID: "parameter_name", Name: "parameter_name"}},
		{"arn:aws:ssm:us-east-2:111122223333:parameter/parameter_name",
			Ref{Backend: SSM, Partition: "aws", Region: "us-east-2", Account: "111122223333",
				ID: "arn:aws:ssm:us-east-2:111122223333:parameter/parameter_name", Name: "parameter_name"}},
		{"arn:aws:ssm:us-east-2:111122223333:parameter/prod/app/db_password",
			Ref{Backend: SSM, Partition: "aws", Region: "us-east-2", Account: "111122223333",
				ID: "arn:aws:ssm:us-east-2:111122223333:parameter/prod/app/db_password", Name: "/prod/app/db_password"}},
		{"arn:aws:ssm:us-east-2:111122223333:parameter/prod/app/db_password:2",
			Ref{Backend: SSM, Partition: "aws", Region: "us-east-2", Account: "111122223333",
				ID: "arn:aws:ssm:us-east-2:111122223333:parameter/prod/app/db_password:2", Name: "/prod/app/db_password", Selector: "2"}},
		{sm, Ref{Backend: SecretsManager, Partition: "aws", Region: "us-east-1", Account: "111122223333", ID: sm}},
		{sm + ":username1::", Ref{Backend: SecretsManager, Partition: "aws", Region: "us-east-1", Account: "111122223333", ID: sm, JSONKey: "username1"}},
		{sm + "::AWSPREVIOUS:", Ref{Backend: SecretsManager, Partition: "aws", Region: "us-east-1", Account: "111122223333", ID: sm, Stage: "AWSPREVIOUS"}},
		{sm + ":::9d4cb84b-ad69-40c0-a0ab-cead3EXAMPLE", Ref{Backend: SecretsManager, Partition: "aws", Region: "us-east-1", Account: "111122223333", ID: sm, VersionID: "9d4cb84b-ad69-40c0-a0ab-cead3EXAMPLE"}},
		{sm + ":username1:AWSPREVIOUS:", Ref{Backend: SecretsManager, Partition: "aws", Region: "us-east-1", Account: "111122223333", ID: sm, JSONKey: "username1", Stage: "AWSPREVIOUS"}},
		{sm + ":username1::9d4cb84b-ad69-40c0-a0ab-cead3EXAMPLE", Ref{Backend: SecretsManager, Partition: "aws", Region: "us-east-1", Account: "111122223333", ID: sm, JSONKey: "username1", VersionID: "9d4cb84b-ad69-40c0-a0ab-cead3EXAMPLE"}},
		// A partial ARN, without the random suffix, is passed on as is.
		{"arn:aws:secretsmanager:us-east-1:111122223333:secret:appauthexample",
			Ref{Backend: SecretsManager, Partition: "aws", Region: "us-east-1", Account: "111122223333", ID: "arn:aws:secretsmanager:us-east-1:111122223333:secret:appauthexample"}},
		{"arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:db",
			Ref{Backend: SecretsManager, Partition: "aws-us-gov", Region: "us-gov-west-1", Account: "111122223333", ID: "arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:db"}},
		{"acs:kms:cn-hangzhou:1234567890123456:secret/acs/ram/user/app:AccessKeySecret:ACSCurrent:",
			Ref{Backend: KMS, Partition: "acs", Region: "cn-hangzhou", Account: "1234567890123456",
				ID: "acs:kms:cn-hangzhou:1234567890123456:secret/acs/ram/user/app", JSONKey: "AccessKeySecret", Stage: "ACSCurrent"}},
		{"acs:kms:ap-southeast-1:1234567890123456:secret/db::ACSPrevious",
			Ref{Backend: KMS, Partition: "acs", Region: "ap-southeast-1", Account: "1234567890123456",
				ID: "acs:kms:ap-southeast-1:1234567890123456:secret/db", Stage: "ACSPrevious"}},
		{"kms:db:::v-001", Ref{Backend: KMS, ID: "db", VersionID: "v-001"}},
		{"file:/run/secrets/db.json", Ref{Backend: File, ID: "/run/secrets/db.json"}},
		{"file:app.env#API_KEY", Ref{Backend: File, ID: "app.env", JSONKey: "API_KEY"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.ref)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.ref, err)
			continue
		}
		tt.want.Raw = tt.ref
		if got != tt.want {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.ref, got, tt.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"", "empty reference"},
		{"vault:secret/x", `unknown scheme "vault:"`},
		{"https://example.com/x", "unknown scheme"},
		{"arn:aws:s3:::bucket/key", `unsupported service "s3"`},
		{"arn:aws:iam::123456789012:role/x", `unsupported service "iam"`},
		{"arn:aws:ssm:US-EAST-1:123456789012:parameter/x", "invalid region"},
		{"arn:aws:ssm:us-east:123456789012:parameter/x", "invalid region"},
		{"arn:aws:ssm:us-east-1:12345678901x:parameter/x", "12-digit"},
		{"arn:aws:ssm:us-east-1:123456789012:parameter//prod/x", "no leading slash"},
		{"arn:aws:ssm:us-east-1:123456789012:param/x", `start with "parameter/"`},
		{"arn:aws:ssm:us-east-1:123456789012", "not a complete ARN"},
		{"arn:azure:ssm:us-east-1:123456789012:parameter/x", "invalid partition"},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:db:k:AWSCURRENT:v1", "not both"},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:", "empty secret name"},
		{"arn:aws:secretsmanager:us-east-1:123456789012:db", `start with "secret:"`},
		{"acs:ecs:cn-hangzhou:1234567890123456:secret/x", `unsupported service "ecs"`},
		{"acs:kms:cn_hangzhou:1234567890123456:secret/x", "invalid region"},
		{"acs:kms:cn-hangzhou:abc:secret/x", "invalid account"},
		{"acs:kms:cn-hangzhou:1234567890123456:key/x", `start with "secret/"`},
		{"kms:a:b:c:d:e", "too many fields"},
		{"sm:prod/db:a:b:c:trailing", "too many fields"},
		{"/prod/db password", "invalid character"},
		{"/prod/db:", "empty version or label"},
		{"/prod//db", "empty path segment"},
		{" /prod/db", "leading or trailing space"},
		{"/prod/db\n", "control character"},
		{"file:", "empty file path"},
		{"file:x.json#", "empty key"},
		{"env:", "invalid variable name"},
		{"env:1X", "invalid variable name"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.ref)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error containing %q", tt.ref, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %q, want it to contain %q", tt.ref, err, tt.want)
		}
		if tt.ref != "" && !strings.Contains(err.Error(), "reference ") {
			t.Errorf("Parse(%q) = %q: the message should quote the reference", tt.ref, err)
		}
	}
}

func TestIsReference(t *testing.T) {
	yes := []string{"arn:aws:ssm:us-east-1:123456789012:parameter/x", "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x",
		"acs:kms:cn-hangzhou:1:secret/x", "sm:x", "kms:x", "file:/x"}
	no := []string{"", "postgres://u@h/db", "arn:aws:s3:::b", "env:HOME", "/prod/db", "hello", "arn:aws:iam::1:role/x"}
	for _, s := range yes {
		if !IsReference(s) {
			t.Errorf("IsReference(%q) = false", s)
		}
	}
	for _, s := range no {
		if IsReference(s) {
			t.Errorf("IsReference(%q) = true", s)
		}
	}
}

func TestPinned(t *testing.T) {
	for ref, want := range map[string]bool{
		"/a:3": true, "/a:label": false, "/a": false, "sm:a:::v1": true, "sm:a::AWSPREVIOUS:": false, "kms:a:::v": true,
	} {
		r, err := Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		if r.Pinned() != want {
			t.Errorf("Pinned(%q) = %v", ref, !want)
		}
	}
}

// FuzzParse checks that Parse never panics, that accepted references are
// stable, and that errors quote the input rather than inventing text.
func FuzzParse(f *testing.F) {
	f.Add("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf:password::")
	f.Add("arn:aws:ssm:us-west-2:123456789012:parameter/prod/db")
	f.Add("acs:kms:cn-hangzhou:1234567890123456:secret/acs/ram/user/app:AccessKeyId")
	f.Add("/prod/db:label")
	f.Add("sm:a:b:c:d")
	f.Add("file:./x.json#k")
	f.Add("env:HOME")
	f.Add("kms:a::ACSPrevious:")
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := Parse(s)
		if err != nil {
			return
		}
		if ref.Raw != s {
			t.Fatalf("Raw = %q, want %q", ref.Raw, s)
		}
		if ref.ID == "" {
			t.Fatalf("Parse(%q) accepted an empty ID: %+v", s, ref)
		}
		again, err := Parse(s)
		if err != nil || again != ref {
			t.Fatalf("Parse(%q) is not deterministic", s)
		}
		switch ref.Backend {
		case SSM, SecretsManager, KMS, File, Env:
		default:
			t.Fatalf("Parse(%q): unknown backend %q", s, ref.Backend)
		}
	})
}

// TestPrevious checks that the previous-version reference is exactly what
// parsing its Raw gives, so tables and errors quote what is fetched.
func TestPrevious(t *testing.T) {
	for _, s := range []string{
		"sm:prod/db", "sm:prod/db:password",
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db:password",
		"kms:app/db", "kms:app/db:user",
		"acs:kms:cn-hangzhou:1234567890123456:secret/app/db:password",
	} {
		ref, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		prev, err := ref.Previous()
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want, err := Parse(prev.Raw)
		if err != nil {
			t.Fatalf("%s: previous %q does not parse: %v", s, prev.Raw, err)
		}
		if prev != want || prev.Stage == "" {
			t.Errorf("%s: previous = %+v\nparsed       %+v", s, prev, want)
		}
	}
	for _, s := range []string{"/prod/db", "file:/x", "env:X", "sm:db::AWSCURRENT", "kms:db:::v1"} {
		ref, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ref.Previous(); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
}
