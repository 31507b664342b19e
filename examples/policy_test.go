package examples_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/sources"
)

// policy is an IAM or RAM policy document.
type policy struct {
	Version   string
	Statement []struct {
		Sid       string
		Effect    string
		Action    stringOrList
		Resource  stringOrList
		Principal json.RawMessage
		Condition json.RawMessage
	}
}

// stringOrList is a policy field that is a string or a list of strings.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(data []byte) error {
	var one string
	if json.Unmarshal(data, &one) == nil {
		*s = []string{one}
		return nil
	}
	return json.Unmarshal(data, (*[]string)(s))
}

// readOnly are the actions shroud calls; a policy of an example grants no
// other.
var readOnly = []string{
	"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:BatchGetSecretValue",
	"ssm:GetParameters", "ssm:GetParametersByPath", "kms:Decrypt",
	"kms:GetSecretValue", "kms:ListSecretVersionIds",
}

// grant is what one reference needs: an action on a resource.
type grant struct{ action, resource string }

// grants are the permissions that resolving refs needs. A secret named
// without its ARN is matched as AWS names it, with a random suffix.
func grants(refs []sources.Ref, account, region string) []grant {
	var gs []grant
	for _, r := range refs {
		reg, acct := r.Region, r.Account
		if reg == "" {
			reg, acct = region, account
		}
		switch r.Backend {
		case sources.SecretsManager:
			arn := r.ID
			if !strings.HasPrefix(arn, "arn:") {
				arn = "arn:aws:secretsmanager:" + reg + ":" + acct + ":secret:" + r.ID + "-Ab12Cd"
			}
			gs = append(gs, grant{"secretsmanager:GetSecretValue", arn})
		case sources.SSM:
			gs = append(gs, grant{"ssm:GetParameters", "arn:aws:ssm:" + reg + ":" + acct + ":parameter/" + strings.TrimPrefix(r.Name, "/")})
		case sources.KMS:
			gs = append(gs, grant{"kms:GetSecretValue", "acs:kms:" + reg + ":" + acct + ":secret/" + r.ID})
		}
	}
	return gs
}

// checkPolicy wants the policy in file to grant exactly what refs need:
// every reference readable, no resource that none of them is, and only
// shroud's read-only actions ("*" only for BatchGetSecretValue, which
// returns only what GetSecretValue allows).
func checkPolicy(t *testing.T, file string, refs []sources.Ref, account, region string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var p policy
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if p.Version != "2012-10-17" && p.Version != "1" {
		t.Errorf("%s: Version %q", file, p.Version)
	}
	needed := grants(refs, account, region)
	if len(needed) == 0 {
		t.Fatalf("%s: the config reads nothing from a cloud", file)
	}
	allows := func(g grant) bool {
		for _, st := range p.Statement {
			if st.Effect == "Allow" && matchAny(st.Action, g.action) && matchAny(st.Resource, g.resource) {
				return true
			}
		}
		return false
	}
	for _, g := range needed {
		if !allows(g) {
			t.Errorf("%s does not allow %s on %s", file, g.action, g.resource)
		}
	}
	for _, st := range p.Statement {
		for _, a := range st.Action {
			if !slices.Contains(readOnly, a) {
				t.Errorf("%s: statement %q allows %s, which shroud never calls", file, st.Sid, a)
			}
		}
		for _, res := range st.Resource {
			if res == "*" {
				if !slices.Equal(st.Action, []string{"secretsmanager:BatchGetSecretValue"}) {
					t.Errorf("%s: statement %q allows %q on every resource", file, st.Sid, st.Action)
				}
				continue
			}
			if !slices.ContainsFunc(needed, func(g grant) bool { return glob(res, g.resource) }) {
				t.Errorf("%s: statement %q grants %s, which the config does not read", file, st.Sid, res)
			}
		}
	}
}

func matchAny(patterns []string, s string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return glob(p, s) })
}

// glob matches as IAM does: * any run of characters ("/" too), ? one.
func glob(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if glob(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}
