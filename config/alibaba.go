package config

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/sources/alibaba"
)

// rawAlibaba is the [alibaba] table: where KMS is reached and where
// credentials come from. It has no place for an AccessKey: keys come from
// the environment or the credentials file, and RRSA or an instance RAM role
// need none.
type rawAlibaba struct {
	// Region is the default region of kms: names; else ALIBABA_CLOUD_REGION_ID.
	Region string `toml:"region"`
	// Endpoint replaces the default region's KMS endpoint: a host (a KMS
	// instance endpoint) or a URL.
	Endpoint string `toml:"endpoint"`
	// Endpoints replaces other regions' endpoints, by region ID.
	Endpoints map[string]string `toml:"endpoints"`
	// CAFile is the PEM CA bundle for HTTPS to Endpoint and Endpoints.
	CAFile string `toml:"ca_file"`
	// VPC selects the kms-vpc.REGION.aliyuncs.com endpoints.
	VPC bool `toml:"vpc"`
	// Credentials is default, env, sts, ram_role_arn, rrsa, ecs_ram_role or
	// profile.
	Credentials     string `toml:"credentials"`
	Profile         string `toml:"profile"`
	RoleARN         string `toml:"role_arn"`
	RoleSessionName string `toml:"role_session_name"`
	ECSRoleName     string `toml:"ecs_role_name"`
	STSEndpoint     string `toml:"sts_endpoint"`
	// Timeout bounds all KMS fetches of one resolve; CallTimeout one call.
	Timeout     string `toml:"timeout"`
	CallTimeout string `toml:"call_timeout"`
}

// alibaba checks [alibaba] and returns the KMS backend's options; every
// problem names its key's line.
func (b *builder) alibaba(a rawAlibaba) alibaba.Options {
	add := b.add
	at := func(key ...string) string { return b.key(append([]string{"alibaba"}, key...)...) }
	if a.Region != "" && !sources.ValidAlibabaRegion(a.Region) {
		add("%s: [alibaba] region %q is not an Alibaba Cloud region ID like cn-hangzhou", at("region"), a.Region)
	}
	if a.Endpoint != "" {
		if _, _, err := sources.ParseEndpoint(a.Endpoint); err != nil {
			add("%s: [alibaba] %v", at("endpoint"), err)
		}
	}
	for _, region := range slices.Sorted(maps.Keys(a.Endpoints)) {
		where := at("endpoints", region)
		if where == b.path {
			where = at("endpoints")
		}
		if !sources.ValidAlibabaRegion(region) {
			add("%s: [alibaba.endpoints] %q is not an Alibaba Cloud region ID like cn-shanghai", where, region)
		}
		if _, _, err := sources.ParseEndpoint(a.Endpoints[region]); err != nil {
			add("%s: [alibaba.endpoints] %s: %v", where, region, err)
		}
	}
	if a.CAFile != "" && a.Endpoint == "" && len(a.Endpoints) == 0 {
		add("%s: [alibaba] ca_file applies to endpoint and endpoints, and neither is set", at("ca_file"))
	}
	// Each credentials type has its own keys; a key for another type is a
	// mistake worth pointing out.
	uses := map[string][]string{
		"profile":           {"profile"},
		"role_arn":          {"ram_role_arn", "rrsa"},
		"role_session_name": {"ram_role_arn", "rrsa"},
		"sts_endpoint":      {"ram_role_arn", "rrsa"},
		"ecs_role_name":     {"ecs_ram_role"},
	}
	values := map[string]string{"profile": a.Profile, "role_arn": a.RoleARN, "role_session_name": a.RoleSessionName, "sts_endpoint": a.STSEndpoint, "ecs_role_name": a.ECSRoleName}
	switch a.Credentials {
	case "", "default", "env", "sts", "ram_role_arn", "rrsa", "ecs_ram_role", "profile":
		for _, key := range slices.Sorted(maps.Keys(uses)) {
			if values[key] != "" && !slices.Contains(uses[key], a.Credentials) {
				add("%s: [alibaba] %s is used only with credentials = %s", at(key), key, quoteAll(uses[key]))
			}
		}
	default:
		add("%s: [alibaba] credentials %q: want default, env, sts, ram_role_arn, rrsa, ecs_ram_role or profile", at("credentials"), a.Credentials)
	}
	if a.Credentials == "ram_role_arn" && a.RoleARN == "" {
		add("%s: [alibaba] credentials = \"ram_role_arn\" needs role_arn, the role to assume", at("credentials"))
	}
	if a.RoleARN != "" && !validRAMRoleARN(a.RoleARN) {
		add("%s: [alibaba] role_arn %q is not a RAM role ARN like acs:ram::1234567890123456:role/app-secrets-reader", at("role_arn"), a.RoleARN)
	}
	if a.STSEndpoint != "" && strings.ContainsAny(a.STSEndpoint, "/ ") {
		add("%s: [alibaba] sts_endpoint %q: want a host[:port] such as sts-vpc.cn-hangzhou.aliyuncs.com (STS is always reached over HTTPS)", at("sts_endpoint"), a.STSEndpoint)
	}
	timeout, err := parsePositiveDuration(a.Timeout)
	if err != nil {
		add("%s: [alibaba] timeout %v", at("timeout"), err)
	}
	callTimeout, err := parsePositiveDuration(a.CallTimeout)
	if err != nil {
		add("%s: [alibaba] call_timeout %v", at("call_timeout"), err)
	}
	caFile := a.CAFile
	if caFile != "" {
		caFile = b.resolvePath(caFile)
	}
	return alibaba.Options{
		Region: a.Region, Endpoint: a.Endpoint, Endpoints: a.Endpoints, CAFile: caFile, VPC: a.VPC,
		Credentials: alibaba.Credentials{Type: a.Credentials, Profile: a.Profile, RoleARN: a.RoleARN,
			RoleSessionName: a.RoleSessionName, RoleName: a.ECSRoleName, STSEndpoint: a.STSEndpoint},
		Timeout: timeout, CallTimeout: callTimeout,
	}
}

// validRAMRoleARN accepts acs:ram::ACCOUNT:role/NAME.
func validRAMRoleARN(s string) bool {
	rest, ok := strings.CutPrefix(s, "acs:ram::")
	account, role, ok2 := strings.Cut(rest, ":role/")
	return ok && ok2 && account != "" && strings.Trim(account, "0123456789") == "" && role != ""
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, " or ")
}
