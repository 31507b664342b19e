package awsfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/shroud-dev/shroud/internal/policyeval"
)

// IAM-style authorization. A principal (the fake's own access key, a user
// of AddUser, or a role whose sessions AssumeRole issued) that has a policy
// attached with SetPolicy may make only the calls the policy allows, as IAM
// evaluates identity-based policies (internal/policyeval). A principal
// without a policy may do everything, as before any policy was set.
//
// What is authorized against what follows the services:
//   - GetSecretValue, and each secret of BatchGetSecretValue (denied ones
//     go to Errors), against the secret's ARN; BatchGetSecretValue itself
//     against "*"; DescribeSecret against the secret's ARN;
//   - GetParameters against each parameter's ARN (one denied name fails the
//     call); GetParametersByPath against the path's ARN, not the parameters
//     it returns; DescribeParameters against "*";
//   - kms:Decrypt against the customer-managed key of a secret or a
//     SecureString parameter (SetSecretKey, SetParameterKey) when its value
//     is read; AWS managed keys need nothing;
//   - sts:AssumeRole against the role's ARN, and the role's trust policy
//     (SetTrustPolicy) must trust the caller; GetCallerIdentity needs
//     nothing.

// iamState holds the policies; the zero value has none.
type iamState struct {
	policies map[string]*policyeval.Policy // principal -> identity-based policy
	trust    map[string]*trustPolicy       // role ARN -> trust policy
}

// AddUser creates an IAM user with a long-term access key of its own. It
// has no policy until SetPolicy gives it one.
func (f *Fake) AddUser(name string) (accessKeyID, secretAccessKey string) {
	return f.AddAccountUser(Account, name)
}

// AddAccountUser is AddUser in another account: its calls count against
// that account's quotas.
func (f *Fake) AddAccountUser(account, name string) (accessKeyID, secretAccessKey string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	accessKeyID = fmt.Sprintf("AKIAFAKE%012d", f.nextID)
	secretAccessKey = fmt.Sprintf("fake-user-secret-%d", f.nextID)
	f.creds[accessKeyID] = credential{secret: secretAccessKey, principal: fmt.Sprintf("arn:aws:iam::%s:user/%s", account, name)}
	return accessKeyID, secretAccessKey
}

// UserARN is the ARN of the fake's IAM user name.
func UserARN(name string) string { return fmt.Sprintf("arn:aws:iam::%s:user/%s", Account, name) }

// accountOf is the account a principal belongs to, whose quotas its calls
// spend: the account in its ARN; the fake's own for its access key.
func accountOf(principal string) string {
	if parts := strings.Split(principal, ":"); len(parts) >= 6 && parts[0] == "arn" {
		return parts[4]
	}
	return Account
}

// SetPolicy attaches an identity-based policy document to a principal: an
// access key id (the fake's own AccessKeyID or one of AddUser), a user ARN,
// or a role ARN, which governs every session of the role. From then on
// every call of the principal must be allowed by it. An empty document
// removes the policy.
func (f *Fake) SetPolicy(principal, document string) error {
	var p *policyeval.Policy
	if document != "" {
		var err error
		if p, err = policyeval.Parse(document, "2012-10-17", "2008-10-17"); err != nil {
			return fmt.Errorf("awsfake: %w", err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.creds[principal]; ok {
		principal = c.principal
	}
	if f.iam.policies == nil {
		f.iam.policies = map[string]*policyeval.Policy{}
	}
	if p == nil {
		delete(f.iam.policies, principal)
		return nil
	}
	f.iam.policies[principal] = p
	return nil
}

// SetTrustPolicy gives roleARN a trust policy, which then decides who may
// assume it instead of AllowRole. It understands Principal "AWS" (a
// principal's ARN, or an account's root: any principal of that account
// whose own policy allows sts:AssumeRole on the role) and the condition
// StringEquals sts:ExternalId. An empty document trusts no one.
func (f *Fake) SetTrustPolicy(roleARN, document string) error {
	t := &trustPolicy{}
	if document != "" {
		var err error
		if t, err = parseTrust(document); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.iam.trust == nil {
		f.iam.trust = map[string]*trustPolicy{}
	}
	f.iam.trust[roleARN] = t
	return nil
}

// SetSecretKey encrypts the secret name in region with a customer-managed
// KMS key (a key ARN, or a key id of the region): DescribeSecret reports it
// as KmsKeyId, and reading a value needs kms:Decrypt on it.
func (f *Fake) SetSecretKey(region, name, key string) {
	f.secretFlags(region, name, func(s *secret) { s.kmsKey = keyARN(region, key) })
}

// SetParameterKey is SetSecretKey for a SecureString parameter; its KeyId
// is "alias/aws/ssm" until then.
func (f *Fake) SetParameterKey(region, name, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.region(region).params[name]; p != nil {
		p.kmsKey = keyARN(region, key)
	}
}

func keyARN(region, key string) string {
	if strings.HasPrefix(key, "arn:") {
		return key
	}
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, Account, key)
}

// principalARN is the ARN error messages name a principal by.
func principalARN(principal string) string {
	if principal == "user" {
		return UserARN("test")
	}
	return principal
}

// isRole reports whether the principal is a role's session.
func isRole(principal string) bool { return strings.Contains(principal, ":role/") }

// authorizer evaluates the calls of one request; nil allows everything.
type authorizer struct {
	principal string
	policy    *policyeval.Policy
}

// authorizer returns the principal's authorizer, nil when it has no
// policy. Called with f.mu held.
func (f *Fake) authorizer(principal string) *authorizer {
	p := f.iam.policies[principal]
	if p == nil {
		return nil
	}
	return &authorizer{principal: principal, policy: p}
}

// allow answers AccessDeniedException, as Secrets Manager and Parameter
// Store do, unless the policy allows action on resource.
func (a *authorizer) allow(action, resource string) *apiError {
	if a == nil {
		return nil
	}
	why := ""
	switch a.policy.Decide(action, resource) {
	case policyeval.Allowed:
		return nil
	case policyeval.Denied:
		why = "with an explicit deny in an identity-based policy"
	default:
		why = "because no identity-based policy allows the " + action + " action"
	}
	return clientErr("AccessDeniedException", "User: %s is not authorized to perform: %s on resource: %s %s",
		principalARN(a.principal), action, resource, why)
}

// Messages of a read whose customer-managed key the caller may not use.
const (
	secretKMSDenied = "Access to KMS is not allowed"
	paramKMSDenied  = "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access. (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: 00000000-fake-4000-8000-000000000000; Proxy: null)"
)

// decrypt checks kms:Decrypt on a customer-managed key ("" is an AWS
// managed key, which needs nothing); the service answers with msg.
func (a *authorizer) decrypt(key, msg string) *apiError {
	if key == "" || a.allow("kms:Decrypt", key) == nil {
		return nil
	}
	return clientErr("AccessDeniedException", "%s", msg)
}

// secretResource is what a secret id is authorized against: the secret's
// ARN when it exists, else the ARN the id names.
func (r *region) secretResource(id string, s *secret) string {
	switch {
	case s != nil:
		return s.arn
	case strings.HasPrefix(id, "arn:"):
		return id
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s", r.name, Account, id)
}

// pathARN is what GetParametersByPath is authorized against: the path as
// requested, as a parameter ARN.
func (r *region) pathARN(path string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", r.name, Account, strings.TrimPrefix(path, "/"))
}

// mayAssume decides AssumeRole of roleARN: the caller's policy must allow
// sts:AssumeRole on it (unless the trust policy names the caller itself),
// and the role must trust the caller: its trust policy, or AllowRole.
// Called with f.mu held.
func (f *Fake) mayAssume(req *request, roleARN, externalID string) *apiError {
	deny := &apiError{status: http.StatusForbidden, code: "AccessDenied",
		msg: fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", principalARN(req.principal), roleARN)}
	caller := principalARN(req.principal)
	if t, ok := f.iam.trust[roleARN]; ok {
		named, root := t.trusts(caller, externalID)
		switch {
		case named:
			return nil
		case !root:
			return deny
		}
	} else if want, ok := f.roles[roleARN]; !ok || want != externalID {
		return deny
	}
	if a := f.authorizer(req.principal); a != nil && a.allow("sts:AssumeRole", roleARN) != nil {
		return deny
	}
	return nil
}

// trustPolicy is a role's trust policy.
type trustPolicy struct{ statements []trustStatement }

type trustStatement struct {
	principals  []string
	externalIDs []string // the StringEquals sts:ExternalId condition; nil: none
}

// trusts reports whether the trust policy names caller itself, or the
// root of caller's account, with a matching external id.
func (t *trustPolicy) trusts(caller, externalID string) (named, root bool) {
	account := strings.SplitN(caller, ":", 6)[4]
	for _, s := range t.statements {
		if s.externalIDs != nil && !slices.Contains(s.externalIDs, externalID) {
			continue
		}
		for _, p := range s.principals {
			switch p {
			case caller:
				named = true
			case "arn:aws:iam::" + account + ":root", account:
				root = true
			}
		}
	}
	return named, root
}

// parseTrust reads a trust policy, refusing what the fake does not
// evaluate.
func parseTrust(doc string) (*trustPolicy, error) {
	raws, err := policyeval.Statements(doc, "2012-10-17")
	if err != nil {
		return nil, fmt.Errorf("awsfake: %w", err)
	}
	t := &trustPolicy{}
	for i, raw := range raws {
		s, err := parseTrustStatement(raw)
		if err != nil {
			return nil, fmt.Errorf("awsfake: trust statement %d: %w", i, err)
		}
		t.statements = append(t.statements, s)
	}
	return t, nil
}

func parseTrustStatement(raw json.RawMessage) (trustStatement, error) {
	var s trustStatement
	fields, err := policyeval.Fields(raw, "Sid", "Effect", "Principal", "Action", "Condition")
	if err != nil {
		return s, err
	}
	if allow, err := policyeval.Effect(fields); err != nil || !allow {
		return s, errors.New("the fake evaluates Allow trust statements only")
	}
	if actions, err := policyeval.List(fields["Action"]); err != nil || len(actions) != 1 || actions[0] != "sts:AssumeRole" {
		return s, errors.New(`Action must be "sts:AssumeRole"`)
	}
	var p map[string]json.RawMessage
	if err := policyeval.Decode(fields["Principal"], &p); err != nil || len(p) != 1 || p["AWS"] == nil {
		return s, errors.New(`Principal must be {"AWS": ARN or [ARN...]}`)
	}
	if s.principals, err = policyeval.List(p["AWS"]); err != nil {
		return s, err
	}
	if fields["Condition"] == nil {
		return s, nil
	}
	var c map[string]map[string]json.RawMessage
	if err := policyeval.Decode(fields["Condition"], &c); err != nil || len(c) != 1 || len(c["StringEquals"]) != 1 || c["StringEquals"]["sts:ExternalId"] == nil {
		return s, errors.New(`the fake evaluates only the condition {"StringEquals": {"sts:ExternalId": ...}}`)
	}
	s.externalIDs, err = policyeval.List(c["StringEquals"]["sts:ExternalId"])
	return s, err
}
