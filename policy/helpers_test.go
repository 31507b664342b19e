package policy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/policy"
	"github.com/shroud-dev/shroud/sources"
)

// loadSpec returns the references shroud run would resolve for a config
// and, when ecsPath is set, a container of an ECS task definition: the one
// place these tests load a config.
func loadSpec(t *testing.T, configPath, ecsPath, container string) ([]sources.Ref, *config.Config) {
	t.Helper()
	cfg, err := config.Load(config.Input{Path: configPath, TaskDefinition: ecsPath, Container: container})
	if err != nil {
		t.Fatal(err)
	}
	return inject.NewPlan(cfg).Refs(), cfg
}

// inputOf is the input shroud policy builds from a config (engine
// policyInput; the CLI's golden test checks they agree).
func inputOf(refs []sources.Ref, cfg *config.Config, region string) policy.Input {
	in := policy.Input{Refs: refs, Region: region}
	if cfg != nil {
		in.Region = cmpOr(region, cfg.Region)
		in.RoleARN, in.ExternalID = cfg.AWS.RoleARN, cfg.AWS.ExternalID
		in.AlibabaRegion = cfg.Alibaba.Region
		in.AlibabaCredentials, in.AlibabaRoleARN = cfg.Alibaba.Credentials.Type, cfg.Alibaba.Credentials.RoleARN
		in.Polls = cfg.Rotation.Enabled
		if parts := strings.Split(cfg.AWS.RoleARN, ":"); len(parts) > 4 {
			in.Account = parts[4]
		}
		if parts := strings.Split(cfg.Alibaba.Credentials.RoleARN, ":"); len(parts) > 4 {
			in.AlibabaAccount = parts[4]
		}
	}
	return in
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// statement is a policy statement as the grammar allows it.
type statement struct {
	Sid       string                                `json:"Sid,omitempty"`
	Effect    string                                `json:"Effect"`
	Principal map[string]json.RawMessage            `json:"Principal,omitempty"`
	Action    json.RawMessage                       `json:"Action"`
	Resource  json.RawMessage                       `json:"Resource,omitempty"`
	Condition map[string]map[string]json.RawMessage `json:"Condition,omitempty"`
}

var actionName = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9]+$`)

// checkGrammar checks a document as IAM's policy grammar (RAM's, for
// Alibaba Cloud) has it: Version; a non-empty Statement list; each with
// Effect, Action and Resource (a trust policy: Principal and no
// Resource). And what Generate promises: no duplicate statements, one
// statement per set of actions, resources sorted and once each.
func checkGrammar(t *testing.T, d policy.Document) {
	t.Helper()
	var doc struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}
	dec := json.NewDecoder(strings.NewReader(d.Policy.JSON()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: not a policy document: %v\n%s", d.Title, err, d.Policy.JSON())
	}
	want := map[string]string{policy.AWS: "2012-10-17", policy.Alibaba: "1"}[d.Cloud]
	if doc.Version != want || len(doc.Statement) == 0 {
		t.Fatalf("%s: Version %q (want %q), %d statements", d.Title, doc.Version, want, len(doc.Statement))
	}
	seenActions := map[string]bool{}
	seenGrant := map[string]bool{}
	for i, s := range doc.Statement {
		actions, resources := list(t, s.Action), list(t, s.Resource)
		if s.Effect != "Allow" || len(actions) == 0 {
			t.Errorf("%s: statement %d: Effect %q, %d actions", d.Title, i, s.Effect, len(actions))
		}
		for _, a := range actions {
			if !actionName.MatchString(a) {
				t.Errorf("%s: statement %d: action %q is not SERVICE:Action", d.Title, i, a)
			}
		}
		trust := s.Principal != nil
		if trust == (len(resources) > 0) {
			t.Errorf("%s: statement %d: a statement has a Principal (trust policy) or a Resource, exactly one", d.Title, i)
		}
		if !slices.IsSorted(resources) || len(slices.Compact(slices.Clone(resources))) != len(resources) {
			t.Errorf("%s: statement %d: resources not sorted or repeated: %q", d.Title, i, resources)
		}
		key := strings.Join(actions, " ")
		if seenActions[key] && !trust {
			t.Errorf("%s: two statements for the actions %s: they should be one", d.Title, key)
		}
		seenActions[key] = true
		for _, a := range actions {
			for _, r := range resources {
				if seenGrant[a+" "+r] {
					t.Errorf("%s: %s on %s granted twice", d.Title, a, r)
				}
				seenGrant[a+" "+r] = true
			}
		}
	}
}

// list reads a string or a list of strings.
func list(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		t.Fatalf("%s is not a string or a list of strings", raw)
	}
	return many
}

// grantsOf lists a statement's grants as "ACTION RESOURCE"; a trust
// statement grants AssumeRole of role.
func grantsOf(s policy.Statement, role string) []string {
	var out []string
	resources := s.Resource
	if s.Principal != nil {
		resources = policy.List{role}
	}
	for _, a := range s.Action {
		for _, r := range resources {
			out = append(out, a+" "+r)
		}
	}
	slices.Sort(out)
	return out
}

// deniedGrants lists what denials name, as "ACTION RESOURCE".
func deniedGrants(ds []policy.Denial) []string {
	var out []string
	for _, d := range ds {
		for _, r := range d.Resources {
			if !slices.Contains(out, d.Action+" "+r) {
				out = append(out, d.Action+" "+r)
			}
		}
	}
	slices.Sort(out)
	return out
}

// without returns a copy of p without statement i. With none left, a
// trust policy is "" (it trusts no one) and an identity policy holds a
// statement shroud never needs: a principal without any policy would be
// allowed everything.
func without(p policy.Policy, i int) string {
	q := policy.Policy{Version: p.Version, Statement: slices.Delete(slices.Clone(p.Statement), i, i+1)}
	switch {
	case len(q.Statement) > 0:
		return q.JSON()
	case p.Statement[i].Principal != nil:
		return ""
	}
	q.Statement = []policy.Statement{{Effect: "Allow", Action: policy.List{"sts:GetCallerIdentity"}, Resource: policy.List{"*"}}}
	return q.JSON()
}

func render(t *testing.T, docs []policy.Document) string {
	t.Helper()
	var b bytes.Buffer
	if err := policy.Render(&b, docs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func describe(ds []policy.Denial) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintln(&b, d)
	}
	return b.String()
}
