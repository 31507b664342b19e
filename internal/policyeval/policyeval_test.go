package policyeval

import (
	"regexp"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"arn:aws:secretsmanager:us-east-1:1:secret:prod/db-??????", "arn:aws:secretsmanager:us-east-1:1:secret:prod/db-AbC123", true},
		{"arn:aws:secretsmanager:us-east-1:1:secret:prod/db-??????", "arn:aws:secretsmanager:us-east-1:1:secret:prod/db-AbC12", false},
		{"arn:aws:secretsmanager:us-east-1:1:secret:prod/db-??????", "arn:aws:secretsmanager:us-east-1:1:secret:prod/db-x-AbC123", false},
		{"arn:aws:ssm:us-east-1:1:parameter/prod/app/*", "arn:aws:ssm:us-east-1:1:parameter/prod/app/", true},
		{"arn:aws:ssm:us-east-1:1:parameter/prod/app/*", "arn:aws:ssm:us-east-1:1:parameter/prod/app/db/url", true},
		{"arn:aws:ssm:us-east-1:1:parameter/prod/app/*", "arn:aws:ssm:us-east-1:1:parameter/prod/app", false},
		{"arn:aws:ssm:us-east-1:1:parameter/prod/app", "arn:aws:ssm:us-east-1:1:parameter/prod/app/", false},
		// A * that ends a segment crosses colons; one inside a segment does not.
		{"arn:aws:ssm:*:1:parameter/x", "arn:aws:ssm:eu-west-1:1:parameter/x", true},
		{"arn:aws:s3:::a*b", "arn:aws:s3:::a:b", false},
		{"arn:aws:s3:::a*b", "arn:aws:s3:::axxb", true},
		{"*", "anything:at:all", true},
		{"", "", true},
		{"?", "", false},
	} {
		if got := Match(c.pattern, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

// FuzzMatch checks Match against a regular expression built from the same
// rules.
func FuzzMatch(f *testing.F) {
	f.Add("arn:aws:ssm:*:1:parameter/a*", "arn:aws:ssm:x:1:parameter/ab:c")
	f.Add("a*b?c", "a:bxc")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 64 {
			return
		}
		var re strings.Builder
		re.WriteString(`\A`)
		for i := 0; i < len(pattern); i++ {
			switch c := pattern[i]; {
			case c == '?':
				re.WriteString(`(?s:.)`)
			case c == '*' && (i+1 == len(pattern) || pattern[i+1] == ':'):
				re.WriteString(`(?s:.*)`)
			case c == '*':
				re.WriteString(`[^:]*`)
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString(`\z`)
		rx, err := regexp.Compile(re.String())
		if err != nil {
			return // not valid UTF-8: regexp works on runes, Match on bytes
		}
		if !isASCII(pattern) || !isASCII(s) {
			return
		}
		if got, want := Match(pattern, s), rx.MatchString(s); got != want {
			t.Errorf("Match(%q, %q) = %v, the regexp %s says %v", pattern, s, got, rx, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func TestDecide(t *testing.T) {
	p, err := Parse(`{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Effect": "Allow", "Action": "ssm:GetParameter*", "Resource": "arn:aws:ssm:us-east-1:1:parameter/prod/*"},
	    {"Effect": "Deny", "Action": "ssm:GetParameters", "Resource": "arn:aws:ssm:us-east-1:1:parameter/prod/secret"},
	    {"Effect": "Allow", "NotAction": "kms:*", "Resource": "arn:aws:secretsmanager:us-east-1:1:secret:open-??????"}
	  ]
	}`, "2012-10-17")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		action, resource string
		want             Decision
	}{
		{"ssm:GetParameters", "arn:aws:ssm:us-east-1:1:parameter/prod/db", Allowed},
		{"SSM:getparameters", "arn:aws:ssm:us-east-1:1:parameter/prod/db", Allowed},  // actions ignore case
		{"ssm:GetParameters", "arn:aws:ssm:us-east-1:1:parameter/Prod/db", Implicit}, // resources do not
		{"ssm:GetParameters", "arn:aws:ssm:us-east-1:1:parameter/prod/secret", Denied},
		{"ssm:GetParametersByPath", "arn:aws:ssm:us-east-1:1:parameter/prod/secret", Allowed},
		{"ssm:PutParameter", "arn:aws:ssm:us-east-1:1:parameter/prod/db", Implicit},
		{"secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:1:secret:open-abcdef", Allowed},
		{"kms:Decrypt", "arn:aws:secretsmanager:us-east-1:1:secret:open-abcdef", Implicit},
	} {
		if got := p.Decide(c.action, c.resource); got != c.want {
			t.Errorf("Decide(%s, %s) = %v, want %v", c.action, c.resource, got, c.want)
		}
	}
}

// TestParseRefuses checks that what the fakes do not evaluate is an
// error, never silently ignored.
func TestParseRefuses(t *testing.T) {
	for _, doc := range []string{
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}`,
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "a:b", "Resource": "*"}]}`,
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}`,
		`{"Version": "2012-10-17", "Statement": [{"Effect": "allow", "Action": "a:b", "Resource": "*"}]}`,
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a:b", "NotAction": "c:d", "Resource": "*"}]}`,
		`{"Version": "2012-10-17", "Statement": []}`,
		`{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*"}]}`,
		`{"Statement": [{"Effect": "Allow", "Action": "a:b", "Resource": "*"}]}`,
	} {
		if _, err := Parse(doc, "2012-10-17"); err == nil {
			t.Errorf("Parse accepted %s", doc)
		}
	}
	if _, err := Parse(`{"Version": "1", "Statement": {"Effect": "Allow", "Action": "kms:GetSecretValue", "Resource": "*"}}`, "1"); err != nil {
		t.Errorf("a single statement object: %v", err)
	}
}
