package policy

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/shroud-dev/shroud/sources"
)

// kmsNeeds lists what the calls shroud makes for one KMS reference need
// (sources/alibaba is the code that makes them): GetSecretValue on the
// secret, and ListSecretVersionIds for the polls of an unpinned secret
// (without it, polls fall back to GetSecretValue).
func (in *Input) kmsNeeds(ref sources.Ref) []grant {
	arn := in.kmsARN(ref)
	g := []grant{{"kms:GetSecretValue", arn}}
	if in.Polls && ref.VersionID == "" {
		g = append(g, grant{"kms:ListSecretVersionIds", arn})
	}
	return g
}

// kmsARN is a secret's ARN: as written, or for a name in the default
// region and account.
func (in *Input) kmsARN(ref sources.Ref) string {
	if ref.Region != "" {
		return ref.ID
	}
	return fmt.Sprintf("acs:kms:%s:%s:secret/%s", cmp.Or(in.AlibabaRegion, regionPlaceholder), cmp.Or(in.AlibabaAccount, accountPlaceholder), ref.ID)
}

// alibabaDocuments writes the RAM policy of the identity that reads and,
// for a RAM role, its trust policy.
func (in *Input) alibabaDocuments() []Document {
	reads := grants{}
	names := false
	for _, ref := range in.Refs {
		if ref.Backend == sources.KMS {
			reads.addAll(in.kmsNeeds(ref))
			names = names || ref.Region == ""
		}
	}
	if len(reads) == 0 {
		return nil
	}
	role := roleName(in.AlibabaRoleARN, "ROLE_NAME")
	doc := Document{Cloud: Alibaba, Title: "Alibaba Cloud RAM policy for the identity shroud reads with: " + in.alibabaReader(),
		Attach: `aliyun ram CreatePolicy --PolicyName shroud-secrets --PolicyDocument "$(cat policy.json)" && aliyun ram AttachPolicyToRole --PolicyType Custom --PolicyName shroud-secrets --RoleName ` + role,
		Policy: Policy{Version: "1", Statement: reads.statements()}}
	if in.Polls {
		doc.Notes = append(doc.Notes, "kms:ListSecretVersionIds lets the rotation polls read version ids, never values; without it they fall back to kms:GetSecretValue.")
	}
	doc.Notes = append(doc.Notes, "A secret encrypted with a key of your own needs kms:Decrypt on that key too (acs:kms:REGION:ACCOUNT:key/KEY_ID).")
	if names && in.AlibabaAccount == "" {
		doc.Notes = append(doc.Notes, accountPlaceholder+" stands for your Alibaba Cloud account ID: give --account, or the role's ARN in [alibaba] role_arn.")
	}
	if names && in.AlibabaRegion == "" {
		doc.Notes = append(doc.Notes, regionPlaceholder+" stands for the default Alibaba Cloud region: [alibaba] region in the config.")
	}
	switch in.AlibabaCredentials {
	case "rrsa", "ecs_ram_role", "ram_role_arn":
	default:
		doc.Notes = append(doc.Notes, `Prefer a RAM role to an AccessKey, which is a long-lived secret of its own: RRSA on ACK ([alibaba] credentials = "rrsa"), the instance RAM role on ECS ("ecs_ram_role"), or STS tokens.`)
	}
	docs := []Document{doc}
	if t, ok := in.alibabaTrust(role); ok {
		docs = append(docs, t)
	}
	if in.AlibabaCredentials == "ram_role_arn" {
		g := grants{}
		g.add("sts:AssumeRole", in.AlibabaRoleARN)
		docs = append(docs, Document{Cloud: Alibaba, Title: "Alibaba Cloud RAM policy for the identity shroud starts with: to assume the role",
			Attach: `aliyun ram CreatePolicy --PolicyName shroud-assume-role --PolicyDocument "$(cat assume-role.json)"`,
			Policy: Policy{Version: "1", Statement: g.statements()}})
	}
	return docs
}

// alibabaReader says whose credentials read the secrets.
func (in *Input) alibabaReader() string {
	switch in.AlibabaCredentials {
	case "rrsa":
		return "the RAM role of the pod's service account (RRSA)"
	case "ecs_ram_role":
		return "the ECS instance's RAM role"
	case "ram_role_arn":
		return "the role " + in.AlibabaRoleARN + " ([alibaba] role_arn)"
	}
	return "the RAM user or role of its credentials"
}

// alibabaTrust is the trust policy of the RAM role shroud reads with, for
// the credentials types that use one.
func (in *Input) alibabaTrust(role string) (Document, bool) {
	account := cmp.Or(in.AlibabaAccount, accountPlaceholder)
	s := Statement{Effect: "Allow", Action: List{"sts:AssumeRole"}}
	var notes []string
	switch in.AlibabaCredentials {
	case "rrsa":
		s.Principal = map[string]List{"Federated": {"acs:ram::" + account + ":oidc-provider/ack-rrsa-CLUSTER_ID"}}
		s.Condition = map[string]map[string]List{"StringEquals": {
			"oidc:aud": {"sts.aliyuncs.com"},
			"oidc:sub": {"system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT"},
		}}
		notes = append(notes, "CLUSTER_ID is the ACK cluster's, NAMESPACE and SERVICE_ACCOUNT the pod's: only that service account may assume the role.")
	case "ecs_ram_role":
		s.Principal = map[string]List{"Service": {"ecs.aliyuncs.com"}}
		notes = append(notes, "Attach the role to the ECS instance shroud runs on.")
	case "ram_role_arn":
		s.Principal = map[string]List{"RAM": {"acs:ram::" + account + ":root"}}
		notes = append(notes, "It trusts the RAM identities of the account whose own policy allows sts:AssumeRole on the role (the next document).")
	default:
		return Document{}, false
	}
	if in.AlibabaRoleARN == "" {
		notes = append(notes, "ROLE_NAME stands for the name of the RAM role shroud reads with.")
	}
	if in.AlibabaAccount == "" {
		notes = append(notes, accountPlaceholder+" stands for your Alibaba Cloud account ID.")
	}
	return Document{Cloud: Alibaba, Title: "Alibaba Cloud trust policy of the RAM role " + strings.TrimSpace(role) + ": who may assume it",
		Attach: `aliyun ram UpdateRole --RoleName ` + role + ` --NewAssumeRolePolicyDocument "$(cat trust.json)"`,
		Notes:  notes, Policy: Policy{Version: "1", Statement: []Statement{s}}}, true
}
