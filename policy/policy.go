// Package policy writes the least-privilege IAM and RAM policies that
// exactly the references of a config need, and names the missing
// permission behind every call AWS or Alibaba Cloud refused.
//
// The rules of which call needs which permission on which resource are in
// one place, needs (aws.go, alibaba.go): Generate turns them into policy
// documents, Denials into the permissions a refused call lacked.
package policy

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/shroud-dev/shroud/sources"
)

// Input is what the documents are written for.
type Input struct {
	// Refs are every reference shroud resolves (Spec.Refs()), the SSM
	// path listings of [[env_from]] path included.
	Refs []sources.Ref
	// Region is the default AWS region of names; empty writes REGION.
	Region string
	// Account is the AWS account names resolve in; empty writes
	// ACCOUNT_ID.
	Account string
	// RoleARN and ExternalID are [aws] role_arn and external_id: the role
	// shroud assumes to read.
	RoleARN, ExternalID string
	// AlibabaRegion is the default region of kms: names; empty writes
	// REGION.
	AlibabaRegion string
	// AlibabaAccount is the Alibaba Cloud account kms: names resolve in;
	// empty writes ACCOUNT_ID.
	AlibabaAccount string
	// AlibabaCredentials is [alibaba] credentials (rrsa, ecs_ram_role,
	// ram_role_arn, ...) and AlibabaRoleARN its role_arn.
	AlibabaCredentials, AlibabaRoleARN string
	// Polls is set when rotation polls versions ([rotation]): Secrets
	// Manager is then asked with DescribeSecret, KMS with
	// ListSecretVersionIds.
	Polls bool
	// Keys are the customer-managed KMS keys that encrypt each AWS
	// reference's object (by Ref.Object()), as DescribeSecret's KmsKeyId
	// or DescribeParameters' KeyId name them; AWS managed keys are left
	// out. A reference without an entry has keys nobody looked up: a
	// placeholder stands for them.
	Keys map[sources.Ref][]string
}

// The clouds of Document.Cloud.
const (
	AWS     = "aws"
	Alibaba = "alibaba"
)

// Document is one policy and where it goes.
type Document struct {
	// Cloud is AWS or Alibaba.
	Cloud string
	// Title says what the policy is for.
	Title string
	// Attach is a command that attaches it.
	Attach string
	// Notes explain what a person must know: why a grant is broad, what
	// each placeholder stands for.
	Notes  []string
	Policy Policy
}

// Policy is an IAM or RAM policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a policy. A trust policy's statements have
// a Principal and no Resource.
type Statement struct {
	Effect    string                     `json:"Effect"`
	Principal map[string]List            `json:"Principal,omitempty"`
	Action    List                       `json:"Action"`
	Resource  List                       `json:"Resource,omitempty"`
	Condition map[string]map[string]List `json:"Condition,omitempty"`
}

// List is a policy element that holds one string or several; one is
// written as a string.
type List []string

// MarshalJSON writes a single element as a string.
func (l List) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return json.Marshal(l[0])
	}
	return json.Marshal([]string(l))
}

// JSON returns the document indented, as it is pasted.
func (p Policy) JSON() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(p) // cannot fail: strings only
	return strings.TrimSuffix(b.String(), "\n")
}

// Generate writes the documents for in: those of AWS, then those of
// Alibaba Cloud, each only when a reference needs it.
func Generate(in Input) []Document {
	return append(in.awsDocuments(), in.alibabaDocuments()...)
}

// grant is one action on one resource.
type grant struct{ action, resource string }

// grants collects what to allow: resource -> actions.
type grants map[string]map[string]bool

func (g grants) add(action string, resources ...string) {
	for _, r := range resources {
		if g[r] == nil {
			g[r] = map[string]bool{}
		}
		g[r][action] = true
	}
}

func (g grants) addAll(gs []grant) {
	for _, x := range gs {
		g.add(x.action, x.resource)
	}
}

// statements merges the grants into Allow statements, one per set of
// actions, each with its resources sorted; statements come in the order
// of actionOrder.
func (g grants) statements() []Statement {
	byActions := map[string]*Statement{}
	for resource, set := range g {
		actions := make([]string, 0, len(set))
		for a := range set {
			actions = append(actions, a)
		}
		slices.Sort(actions)
		key := strings.Join(actions, " ")
		s := byActions[key]
		if s == nil {
			s = &Statement{Effect: "Allow", Action: actions}
			byActions[key] = s
		}
		s.Resource = append(s.Resource, resource)
	}
	out := make([]Statement, 0, len(byActions))
	for _, s := range byActions {
		slices.Sort(s.Resource)
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Statement) int {
		if d := rank(a.Action) - rank(b.Action); d != 0 {
			return d
		}
		if c := strings.Compare(strings.Join(a.Action, " "), strings.Join(b.Action, " ")); c != 0 {
			return c
		}
		return strings.Compare(a.Resource[0], b.Resource[0])
	})
	return out
}

// actionOrder is the order statements are written in: the flow of a
// resolve, from assuming a role to decrypting.
var actionOrder = []string{
	"sts:AssumeRole",
	"ssm:GetParameters", "ssm:GetParametersByPath",
	"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:BatchGetSecretValue",
	"kms:GetSecretValue", "kms:ListSecretVersionIds",
	"kms:Decrypt",
}

// rank is the place of a statement's first action in actionOrder.
func rank(actions []string) int {
	best := len(actionOrder)
	for _, a := range actions {
		if i := slices.Index(actionOrder, a); i >= 0 && i < best {
			best = i
		}
	}
	return best
}
