package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/shroud-dev/shroud/sources"
)

// Placeholders written where a value is unknown; the notes name each one.
const (
	accountPlaceholder = "ACCOUNT_ID"
	regionPlaceholder  = "REGION"
	keyPlaceholder     = "KEY_ID"
)

// secretSuffix matches exactly the six random characters Secrets Manager
// appends to a secret's name in its ARN, as AWS recommends: "NAME-*" would
// also match other secrets whose names start with NAME-.
const secretSuffix = "-??????"

// secretsReference is the SSM name prefix that reads a Secrets Manager
// secret through Parameter Store.
const secretsReference = "/aws/reference/secretsmanager/"

// awsPlace is where an AWS reference lives.
type awsPlace struct{ partition, region, account string }

// awsPlace is an ARN's own place, or the default region and account for a
// name.
func (in *Input) awsPlace(ref sources.Ref) awsPlace {
	if ref.Region != "" {
		return awsPlace{ref.Partition, ref.Region, ref.Account}
	}
	region := cmp.Or(in.Region, regionPlaceholder)
	return awsPlace{partitionOf(region), region, cmp.Or(in.Account, accountPlaceholder)}
}

func (p awsPlace) arn(service, resource string) string {
	return "arn:" + p.partition + ":" + service + ":" + p.region + ":" + p.account + ":" + resource
}

// partitionOf is the ARN partition of a region.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

func isAWS(ref sources.Ref) bool {
	return ref.Backend == sources.SSM || ref.Backend == sources.SSMPath || ref.Backend == sources.SecretsManager
}

// awsNeeds lists what the calls shroud makes for one AWS reference need
// (sources/aws is the code that makes them): each action on its resource.
//   - SSM: GetParameters, authorized for each parameter; for run and for
//     polls alike. /aws/reference/secretsmanager/NAME also reads the
//     secret with the caller's GetSecretValue.
//   - SSM path: GetParametersByPath, authorized against the path itself,
//     not the parameters it returns; its ARN with and without the
//     trailing slash are both granted (parameter/PATH, parameter/PATH/*).
//   - Secrets Manager: GetSecretValue (BatchGetSecretValue checks it for
//     each secret too), and DescribeSecret for the polls of an unpinned
//     secret that is not polled in a batch: read at a staging label, or
//     the only secret at AWSCURRENT of its region.
//   - kms:Decrypt on the customer-managed keys of in.Keys.
//
// BatchGetSecretValue, which serves many references, is batchRegions'.
func (in *Input) awsNeeds(ref sources.Ref) []grant {
	p := in.awsPlace(ref)
	var g []grant
	switch ref.Backend {
	case sources.SSM:
		g = append(g, grant{"ssm:GetParameters", p.arn("ssm", "parameter/"+strings.TrimPrefix(ref.Name, "/"))})
		if name, ok := strings.CutPrefix(ref.Name, secretsReference); ok {
			g = append(g, grant{"secretsmanager:GetSecretValue", p.arn("secretsmanager", "secret:"+name+secretSuffix)})
		}
	case sources.SSMPath:
		for _, r := range pathResources(ref.ID) {
			g = append(g, grant{"ssm:GetParametersByPath", p.arn("ssm", r)})
		}
	case sources.SecretsManager:
		arn := secretARN(p, ref)
		g = append(g, grant{"secretsmanager:GetSecretValue", arn})
		if in.Polls && ref.VersionID == "" && !(isCurrent(ref) && slices.Contains(in.batchRegions(), p.region)) {
			g = append(g, grant{"secretsmanager:DescribeSecret", arn})
		}
	}
	for _, k := range in.Keys[ref.Object()] {
		if arn, ok := keyARN(p, k); ok {
			g = append(g, grant{"kms:Decrypt", arn})
		}
	}
	return g
}

// secretARN is the resource of a secret: a full ARN as is; a name or a
// partial ARN with the wildcard of the random suffix.
func secretARN(p awsPlace, ref sources.Ref) string {
	if ref.Region == "" {
		return p.arn("secretsmanager", "secret:"+ref.ID+secretSuffix)
	}
	_, name, _ := strings.Cut(ref.ID, ":secret:")
	if hasRandomSuffix(name) {
		return ref.ID
	}
	return ref.ID + secretSuffix
}

// hasRandomSuffix reports whether a secret name in an ARN ends with the
// "-" and six characters Secrets Manager appends: a full ARN. (Secrets
// Manager itself reads such an ARN as full, so AWS advises against names
// that end so.)
func hasRandomSuffix(name string) bool {
	i := len(name) - 7
	if i <= 0 || name[i] != '-' {
		return false
	}
	for _, c := range name[i+1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// pathResources are the parameter ARN resources GetParametersByPath of a
// path is authorized against, with and without its trailing slash.
func pathResources(path string) []string {
	p := strings.Trim(path, "/")
	if p == "" {
		return []string{"parameter/*"}
	}
	return []string{"parameter/" + p, "parameter/" + p + "/*"}
}

// keyARN is the ARN of a KMS key named by its id or ARN. An alias names
// no key an identity policy can grant kms:Decrypt on.
func keyARN(p awsPlace, key string) (string, bool) {
	switch {
	case strings.Contains(key, "alias/"):
		return "", false
	case strings.HasPrefix(key, "arn:"):
		return key, true
	}
	return p.arn("kms", "key/"+key), true
}

// batchRegions are the regions where shroud reads secrets with
// BatchGetSecretValue: those with two secrets or more read at AWSCURRENT
// (sources/aws reads a lone one with GetSecretValue, and a version stage
// or id always).
func (in *Input) batchRegions() []string {
	ids := map[string]map[string]bool{}
	for _, ref := range in.Refs {
		if ref.Backend != sources.SecretsManager || !isCurrent(ref) {
			continue
		}
		region := in.awsPlace(ref).region
		if ids[region] == nil {
			ids[region] = map[string]bool{}
		}
		ids[region][ref.ID] = true
	}
	var regions []string
	for r, set := range ids {
		if len(set) > 1 {
			regions = append(regions, r)
		}
	}
	slices.Sort(regions)
	return regions
}

// isCurrent reports whether a reference reads its secret at AWSCURRENT,
// as a batch reads it: no version id, no other staging label.
func isCurrent(ref sources.Ref) bool {
	return ref.VersionID == "" && (ref.Stage == "" || ref.Stage == "AWSCURRENT")
}

// objectName names what a reference reads, without its key, selector or
// stage: a parameter, a path, a secret.
func objectName(ref sources.Ref) string {
	if ref.Backend == sources.SSM && ref.Region == "" {
		return ref.Name
	}
	switch ref.Backend {
	case sources.SSM:
		return strings.TrimSuffix(ref.ID, ":"+ref.Selector)
	case sources.SSMPath:
		return "the parameters under " + ref.ID
	}
	return ref.ID
}

// unknownKeys returns, by place, the references whose KMS keys are not
// known (not looked up, or named by an alias), and the aliases.
func (in *Input) unknownKeys(refs []sources.Ref) (byPlace map[awsPlace][]string, aliases []string) {
	byPlace = map[awsPlace][]string{}
	for _, ref := range refs {
		p := in.awsPlace(ref)
		keys, known := in.Keys[ref.Object()]
		for _, k := range keys {
			if _, ok := keyARN(p, k); !ok {
				known = false
				aliases = append(aliases, fmt.Sprintf("%s (of %s)", k, objectName(ref)))
			}
		}
		if name := objectName(ref); !known && !slices.Contains(byPlace[p], name) {
			byPlace[p] = append(byPlace[p], name)
		}
	}
	return byPlace, aliases
}

// awsDocuments writes the policy of the credentials that read and, with
// [aws] role_arn, the role's trust policy and the policy that lets
// shroud's own credentials assume it.
func (in *Input) awsDocuments() []Document {
	reads := grants{}
	var refs []sources.Ref
	for _, ref := range in.Refs {
		if isAWS(ref) {
			reads.addAll(in.awsNeeds(ref))
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	if len(in.batchRegions()) > 0 {
		reads.add("secretsmanager:BatchGetSecretValue", "*")
	}
	unknown, aliases := in.unknownKeys(refs)
	for p := range unknown {
		reads.add("kms:Decrypt", p.arn("kms", "key/"+keyPlaceholder))
	}
	doc := Document{Cloud: AWS, Title: "AWS IAM policy for the credentials shroud reads with: " + in.readerName(),
		Attach: "aws iam put-role-policy --role-name " + roleName(in.RoleARN, "ROLE") + " --policy-name shroud-secrets --policy-document file://policy.json",
		Policy: Policy{Version: "2012-10-17", Statement: reads.statements()}}
	doc.Notes = in.awsNotes(refs, reads, unknown, aliases)
	if in.RoleARN == "" {
		return []Document{doc}
	}
	return []Document{doc, in.trustDocument(), in.assumeDocument()}
}

// readerName says whose credentials read the secrets.
func (in *Input) readerName() string {
	if in.RoleARN != "" {
		return "the role " + in.RoleARN + " ([aws] role_arn)"
	}
	return "the role shroud runs with (the ECS task role, the IRSA or EKS Pod Identity role, the EC2 instance profile's role)"
}

// roleName is the name in a role ARN, without its path; def without one.
func roleName(arn, def string) string {
	if arn == "" {
		return def
	}
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// awsNotes explains the reading policy.
func (in *Input) awsNotes(refs []sources.Ref, reads grants, unknown map[awsPlace][]string, aliases []string) []string {
	has := func(action string) bool {
		for _, set := range reads {
			if set[action] {
				return true
			}
		}
		return false
	}
	var notes []string
	if has("secretsmanager:BatchGetSecretValue") {
		notes = append(notes, `secretsmanager:BatchGetSecretValue has no resource-level permission: AWS requires "Resource": "*". It returns only the secrets secretsmanager:GetSecretValue allows, so it reads nothing more.`)
	}
	suffixed := func(r sources.Ref) bool {
		return r.Backend == sources.SecretsManager && strings.HasSuffix(secretARN(in.awsPlace(r), r), secretSuffix)
	}
	if slices.ContainsFunc(refs, suffixed) {
		notes = append(notes, "A secret named without its random suffix is granted as NAME-??????: exactly the six characters Secrets Manager appends, as AWS recommends (NAME-* would match other secrets too).")
	}
	if has("secretsmanager:DescribeSecret") {
		notes = append(notes, "secretsmanager:DescribeSecret serves the rotation polls ([rotation]) of secrets outside a batch: it reads version ids, never values.")
	} else if in.Polls && in.hasUnpinnedSecret(refs) {
		notes = append(notes, "secretsmanager:DescribeSecret is left out: every secret is polled in a BatchGetSecretValue ([rotation]), which GetSecretValue authorizes.")
	} else if in.hasUnpinnedSecret(refs) {
		notes = append(notes, "secretsmanager:DescribeSecret is left out: without [rotation] nothing polls versions (shroud sidecar always does: give its config a [rotation] table).")
	}
	if has("ssm:GetParametersByPath") {
		notes = append(notes, "ssm:GetParametersByPath is authorized against the path, not the parameters it returns (its ARN with and without the trailing slash is granted); shroud lists recursively, so it reads every parameter under the path.")
	}
	notes = append(notes, in.keyNotes(has("kms:Decrypt"), unknown, aliases)...)
	if in.Account == "" {
		notes = append(notes, accountPlaceholder+" stands for the AWS account the names resolve in: give --account, or run shroud policy with AWS credentials.")
	}
	if in.Region == "" && slices.ContainsFunc(refs, func(r sources.Ref) bool { return r.Region == "" }) {
		notes = append(notes, regionPlaceholder+" stands for the default AWS region: give --region, or region in the config.")
	}
	for _, r := range refs {
		if r.Account != "" && in.Account != "" && r.Account != in.Account {
			notes = append(notes, fmt.Sprintf("%s is in account %s: that account's resource policy (the secret's, the KMS key's) must allow you too.", r.Raw, r.Account))
		}
	}
	return notes
}

func (in *Input) hasUnpinnedSecret(refs []sources.Ref) bool {
	return slices.ContainsFunc(refs, func(r sources.Ref) bool { return r.Backend == sources.SecretsManager && r.VersionID == "" })
}

// keyNotes explains the kms:Decrypt statements.
func (in *Input) keyNotes(decrypt bool, unknown map[awsPlace][]string, aliases []string) []string {
	var notes []string
	if len(unknown) > 0 {
		var refs []string
		for _, rs := range unknown {
			refs = append(refs, rs...)
		}
		slices.Sort(refs)
		notes = append(notes, fmt.Sprintf("%s stands for the customer-managed KMS keys that encrypt %s, if any: shroud did not look them up "+
			"(aws secretsmanager describe-secret shows KmsKeyId, aws ssm describe-parameters KeyId). Secrets and SecureString parameters under "+
			"the AWS managed keys aws/secretsmanager and aws/ssm need no kms:Decrypt: then delete that statement.", keyPlaceholder, strings.Join(refs, ", ")))
	}
	if len(aliases) > 0 {
		slices.Sort(aliases)
		notes = append(notes, fmt.Sprintf("%s is named by an alias, which grants nothing in an identity policy: put the id of the key behind it in place of %s (aws kms describe-key --key-id ALIAS).",
			strings.Join(aliases, ", "), keyPlaceholder))
	}
	if decrypt {
		notes = append(notes, "A customer-managed key's own key policy must let IAM policies grant kms:Decrypt (the default key policy does).")
	}
	return notes
}

// trustDocument is the trust policy of [aws] role_arn.
func (in *Input) trustDocument() Document {
	parts := strings.SplitN(in.RoleARN, ":", 6) // validated: arn:PARTITION:iam::ACCOUNT:role/NAME
	account := parts[4]
	s := Statement{Effect: "Allow", Principal: map[string]List{"AWS": {"arn:" + parts[1] + ":iam::" + account + ":root"}}, Action: List{"sts:AssumeRole"}}
	notes := []string{fmt.Sprintf("It trusts the principals of account %s whose own policy allows sts:AssumeRole on the role (the next document). "+
		"If shroud starts with credentials of another account, put that account's ID; to trust one role only, put its ARN.", account)}
	if in.ExternalID != "" {
		s.Condition = map[string]map[string]List{"StringEquals": {"sts:ExternalId": {in.ExternalID}}}
		notes = append(notes, "The condition requires the external id of [aws] external_id.")
	}
	return Document{Cloud: AWS, Title: "AWS trust policy of the role " + in.RoleARN + ": who may assume it",
		Attach: "aws iam update-assume-role-policy --role-name " + roleName(in.RoleARN, "") + " --policy-document file://trust.json",
		Notes:  notes, Policy: Policy{Version: "2012-10-17", Statement: []Statement{s}}}
}

// assumeDocument lets shroud's own credentials assume [aws] role_arn.
func (in *Input) assumeDocument() Document {
	g := grants{}
	g.add("sts:AssumeRole", in.RoleARN)
	return Document{Cloud: AWS,
		Title:  "AWS IAM policy for the credentials shroud starts with (the ECS task role, the IRSA or EKS Pod Identity role, the EC2 instance profile's role): to assume the role",
		Attach: "aws iam put-role-policy --role-name ROLE --policy-name shroud-assume-role --policy-document file://assume-role.json",
		Notes:  []string{"These credentials need no access to the secrets themselves: the role they assume reads them."},
		Policy: Policy{Version: "2012-10-17", Statement: g.statements()}}
}
