package awsfake

import (
	"fmt"
	"strconv"
	"strings"
)

// The metadata calls a policy generator makes: who am I, and which KMS
// keys encrypt these parameters (DescribeSecret's KmsKeyId is in
// secretsmanager.go).

type callerIdentityResult struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

// callerIdentity answers STS GetCallerIdentity, which needs no permission.
func callerIdentity(principal string) callerIdentityResult {
	arn := principalARN(principal)
	if isRole(principal) {
		arn = fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/session", Account, principal[strings.LastIndexByte(principal, '/')+1:])
	}
	return callerIdentityResult{Arn: arn, UserID: "AIDAFAKE" + strings.ToUpper(strconv.Itoa(len(arn))), Account: Account}
}

type parameterFilter struct {
	Key    string   `json:"Key"`
	Option string   `json:"Option,omitempty"`
	Values []string `json:"Values"`
}

type describeParametersInput struct {
	ParameterFilters []parameterFilter `json:"ParameterFilters,omitempty"`
	MaxResults       *int              `json:"MaxResults,omitempty"`
	NextToken        string            `json:"NextToken,omitempty"`
	Shared           *bool             `json:"Shared,omitempty"`
}

type parameterMetadata struct {
	Name             string  `json:"Name"`
	ARN              string  `json:"ARN"`
	Type             string  `json:"Type"`
	KeyID            string  `json:"KeyId,omitempty"`
	Version          int64   `json:"Version"`
	LastModifiedDate float64 `json:"LastModifiedDate"`
	DataType         string  `json:"DataType"`
	Tier             string  `json:"Tier"`
}

type describeParametersOutput struct {
	Parameters []parameterMetadata `json:"Parameters"`
	NextToken  string              `json:"NextToken,omitempty"`
}

// describeParameters lists parameter metadata, never values, filtered by
// Name (Equals, BeginsWith), Path (OneLevel, Recursive) or Type, at most
// MaxResults (50 by default and at most) a page. A SecureString's KeyId is
// its customer-managed key, else alias/aws/ssm.
func (r *region) describeParameters(in describeParametersInput) (any, *apiError) {
	if err := r.authz.allow("ssm:DescribeParameters", "*"); err != nil {
		return nil, err
	}
	limit := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, clientErr("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50", *in.MaxResults)
		}
		limit = *in.MaxResults
	}
	var names []string
	for _, name := range sortedKeys(r.params) {
		ok, err := passes(in.ParameterFilters, r.params[name])
		if err != nil {
			return nil, err
		}
		if ok {
			names = append(names, name)
		}
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(in.NextToken, "fake-describe-"))
		if err != nil || n < 0 || n > len(names) {
			return nil, clientErr("InvalidNextToken", "The specified token is not valid.")
		}
		start = n
	}
	out := describeParametersOutput{Parameters: []parameterMetadata{}}
	end := min(len(names), start+limit)
	for _, name := range names[start:end] {
		p := r.params[name]
		v := p.versions[len(p.versions)-1]
		m := parameterMetadata{Name: p.name, ARN: r.paramARN(p.name), Type: p.typ, Version: v.number,
			LastModifiedDate: float64(v.modified.UnixMilli()) / 1000, DataType: "text", Tier: "Standard"}
		if p.typ == SecureString {
			m.KeyID = "alias/aws/ssm"
			if p.kmsKey != "" {
				m.KeyID = p.kmsKey
			}
		}
		out.Parameters = append(out.Parameters, m)
	}
	if end < len(names) {
		out.NextToken = fmt.Sprintf("fake-describe-%d", end)
	}
	return out, nil
}

// passes applies every filter to a parameter.
func passes(filters []parameterFilter, p *parameter) (bool, *apiError) {
	for _, f := range filters {
		ok := false
		for _, v := range f.Values {
			switch key, opt := f.Key, f.Option; {
			case key == "Name" && (opt == "" || opt == "Equals"):
				ok = ok || p.name == v
			case key == "Name" && opt == "BeginsWith":
				ok = ok || strings.HasPrefix(p.name, v)
			case key == "Path" && (opt == "" || opt == "OneLevel" || opt == "Recursive"):
				rest, under := strings.CutPrefix(p.name, strings.TrimSuffix(v, "/")+"/")
				ok = ok || under && (opt == "Recursive" || !strings.Contains(rest, "/"))
			case key == "Type" && (opt == "" || opt == "Equals"):
				ok = ok || p.typ == v
			default:
				return false, clientErr("InvalidFilterKey", "the fake does not support the filter %s with option %q", key, opt)
			}
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}
