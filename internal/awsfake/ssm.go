package awsfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Parameter types of Parameter Store.
const (
	String       = "String"
	StringList   = "StringList"
	SecureString = "SecureString"
)

type parameter struct {
	name     string
	typ      string
	versions []*paramVersion // versions[i].number == i+1
	deny     bool
	kmsKey   string // the ARN of its customer-managed key; "": aws/ssm
}

type paramVersion struct {
	number   int64
	value    string
	labels   []string
	modified time.Time
}

// PutParameter stores a new version of the parameter name (creating it) in
// region and returns the version number.
func (f *Fake) PutParameter(region, name, typ, value string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	reg := f.region(region)
	p := reg.params[name]
	if p == nil {
		p = &parameter{name: name}
		reg.params[name] = p
	}
	p.typ = typ
	v := &paramVersion{number: int64(len(p.versions) + 1), value: value, modified: time.Now()}
	p.versions = append(p.versions, v)
	return v.number
}

// LabelParameterVersion attaches labels to a version, moving them from any
// other version of the parameter, as the API does.
func (f *Fake) LabelParameterVersion(region, name string, version int64, labels ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.region(region).params[name]
	if p == nil || version < 1 || int(version) > len(p.versions) {
		panic(fmt.Sprintf("awsfake: no version %d of parameter %s in %s", version, name, region))
	}
	for _, v := range p.versions {
		v.labels = removeAll(v.labels, labels)
	}
	v := p.versions[version-1]
	v.labels = append(v.labels, labels...)
}

// DenyParameter makes any call that names the parameter fail with
// AccessDeniedException, as IAM authorizes GetParameters for every name
// it is given.
func (f *Fake) DenyParameter(region, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.region(region).params[name]; p != nil {
		p.deny = true
	}
}

func removeAll(list, drop []string) []string {
	var out []string
	for _, s := range list {
		keep := true
		for _, d := range drop {
			keep = keep && s != d
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
}

type getParametersInput struct {
	Names          []string `json:"Names"`
	WithDecryption *bool    `json:"WithDecryption,omitempty"`
}

type parameterOut struct {
	Name             string  `json:"Name"`
	Type             string  `json:"Type"`
	Value            string  `json:"Value"`
	Version          int64   `json:"Version"`
	Selector         string  `json:"Selector,omitempty"`
	SourceResult     string  `json:"SourceResult,omitempty"`
	LastModifiedDate float64 `json:"LastModifiedDate"`
	ARN              string  `json:"ARN"`
	DataType         string  `json:"DataType"`
}

type getParametersOutput struct {
	Parameters        []parameterOut `json:"Parameters"`
	InvalidParameters []string       `json:"InvalidParameters"`
}

const secretsManagerReference = "/aws/reference/secretsmanager/"

func (r *region) getParameters(in getParametersInput, principal string) (any, *apiError) {
	if len(in.Names) == 0 || len(in.Names) > 10 {
		return nil, clientErr("ValidationException", "1 validation error detected: Value '%v' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10", len(in.Names))
	}
	decrypt := in.WithDecryption != nil && *in.WithDecryption
	// IAM authorizes every name before anything is read.
	for _, raw := range in.Names {
		name, _, _ := r.parseParamName(raw)
		if err := r.authz.allow("ssm:GetParameters", r.paramARN(name)); err != nil {
			return nil, err
		}
		if p := r.params[name]; p != nil && decrypt && p.typ == SecureString {
			if err := r.authz.decrypt(p.kmsKey, paramKMSDenied); err != nil {
				return nil, err
			}
		}
		if p := r.params[name]; p != nil && p.deny {
			return nil, clientErr("AccessDeniedException", "User: %s is not authorized to perform: ssm:GetParameters on resource: %s because no identity-based policy allows the ssm:GetParameters action", principal, r.paramARN(name))
		}
	}
	out := getParametersOutput{Parameters: []parameterOut{}, InvalidParameters: []string{}}
	for _, raw := range in.Names {
		name, selector, ok := r.parseParamName(raw)
		if !ok {
			out.InvalidParameters = append(out.InvalidParameters, raw)
			continue
		}
		if strings.HasPrefix(name, secretsManagerReference) {
			p, err := r.secretReference(name, selector, decrypt)
			if err != nil {
				return nil, err
			}
			if p == nil {
				out.InvalidParameters = append(out.InvalidParameters, raw)
				continue
			}
			out.Parameters = append(out.Parameters, *p)
			continue
		}
		p := r.params[name]
		if p == nil {
			out.InvalidParameters = append(out.InvalidParameters, raw)
			continue
		}
		v := p.pick(selector)
		if v == nil {
			out.InvalidParameters = append(out.InvalidParameters, raw)
			continue
		}
		po := r.out(p, v, decrypt)
		if selector != "" {
			po.Selector = ":" + selector
		}
		out.Parameters = append(out.Parameters, po)
	}
	return out, nil
}

// parseParamName splits NAME[:selector] or a parameter ARN of this region
// and account into the parameter name and selector.
func (r *region) parseParamName(raw string) (name, selector string, ok bool) {
	if strings.HasPrefix(raw, "arn:") {
		parts := strings.SplitN(raw, ":", 6)
		if len(parts) != 6 || parts[2] != "ssm" || parts[3] != r.name || parts[4] != Account || !strings.HasPrefix(parts[5], "parameter/") {
			return "", "", false
		}
		raw = strings.TrimPrefix(parts[5], "parameter/")
		if strings.Contains(strings.SplitN(raw, ":", 2)[0], "/") {
			raw = "/" + raw
		}
	}
	name, selector, _ = strings.Cut(raw, ":")
	return name, selector, true
}

// pick returns the version a selector names: latest, a number or a label.
func (p *parameter) pick(selector string) *paramVersion {
	if selector == "" {
		return p.versions[len(p.versions)-1]
	}
	if n, err := strconv.ParseInt(selector, 10, 64); err == nil {
		if n < 1 || int(n) > len(p.versions) {
			return nil
		}
		return p.versions[n-1]
	}
	for _, v := range p.versions {
		for _, l := range v.labels {
			if l == selector {
				return v
			}
		}
	}
	return nil
}

func (r *region) out(p *parameter, v *paramVersion, decrypt bool) parameterOut {
	value := v.value
	if p.typ == SecureString && !decrypt {
		// What the API returns without decryption: ciphertext, never the value.
		value = base64.StdEncoding.EncodeToString([]byte("fake-ciphertext-" + strconv.FormatInt(v.number, 10)))
	}
	return parameterOut{
		Name: p.name, Type: p.typ, Value: value, Version: v.number,
		LastModifiedDate: float64(v.modified.UnixMilli()) / 1000,
		ARN:              r.paramARN(p.name), DataType: "text",
	}
}

func (r *region) paramARN(name string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", r.name, Account, strings.TrimPrefix(name, "/"))
}

// secretReference reads a Secrets Manager secret through Parameter Store
// (/aws/reference/secretsmanager/NAME); the selector is a version id or a
// staging label.
func (r *region) secretReference(name, selector string, decrypt bool) (*parameterOut, *apiError) {
	if !decrypt {
		return nil, clientErr("ValidationException", "WithDecryption flag must be True for retrieving a Secret Manager secret.")
	}
	s := r.lookup(strings.TrimPrefix(name, secretsManagerReference))
	if s == nil {
		return nil, nil
	}
	id, stage := "", ""
	if selector != "" {
		if _, ok := s.versions[selector]; ok {
			id = selector
		} else {
			stage = selector
		}
	}
	v, err := s.version(id, stage)
	if err != nil {
		return nil, nil
	}
	if s.deny {
		return nil, clientErr("AccessDeniedException", "not authorized to perform secretsmanager:GetSecretValue on %s", s.arn)
	}
	if err := r.authz.allow("secretsmanager:GetSecretValue", s.arn); err != nil {
		return nil, err
	}
	if err := r.authz.decrypt(s.kmsKey, secretKMSDenied); err != nil {
		return nil, err
	}
	value := ""
	if v.str != nil {
		value = *v.str
	} else {
		value = base64.StdEncoding.EncodeToString(v.bin)
	}
	src, _ := json.Marshal(map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": v.id, "VersionStages": s.labels(v.id)})
	return &parameterOut{
		Name: name, Type: SecureString, Value: value, Version: 0, SourceResult: string(src),
		LastModifiedDate: float64(v.created.UnixMilli()) / 1000,
		ARN:              s.arn, DataType: "text",
	}, nil
}

type getParametersByPathInput struct {
	Path             string `json:"Path"`
	Recursive        *bool  `json:"Recursive,omitempty"`
	WithDecryption   *bool  `json:"WithDecryption,omitempty"`
	MaxResults       *int   `json:"MaxResults,omitempty"`
	NextToken        string `json:"NextToken,omitempty"`
	ParameterFilters []any  `json:"ParameterFilters,omitempty"`
}

type getParametersByPathOutput struct {
	Parameters []parameterOut `json:"Parameters"`
	NextToken  string         `json:"NextToken,omitempty"`
}

// getParametersByPath lists parameters under a path, at most MaxResults
// (10 by default and at most) a page.
func (r *region) getParametersByPath(in getParametersByPathInput, principal string) (any, *apiError) {
	if !strings.HasPrefix(in.Path, "/") {
		return nil, clientErr("ValidationException", "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\".")
	}
	if strings.HasPrefix(in.Path, "/aws/reference/") {
		return nil, clientErr("ValidationException", "GetParametersByPath does not support /aws/reference paths")
	}
	limit := 10
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 10 {
			return nil, clientErr("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10", *in.MaxResults)
		}
		limit = *in.MaxResults
	}
	if err := r.authz.allow("ssm:GetParametersByPath", r.pathARN(in.Path)); err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(in.Path, "/") + "/"
	recursive := in.Recursive != nil && *in.Recursive
	decrypt := in.WithDecryption != nil && *in.WithDecryption
	var names []string
	for _, name := range sortedKeys(r.params) {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || rest == "" || (!recursive && strings.Contains(rest, "/")) {
			continue
		}
		if r.params[name].deny {
			return nil, clientErr("AccessDeniedException", "User: %s is not authorized to perform: ssm:GetParametersByPath on resource: %s", principal, r.paramARN(name))
		}
		if p := r.params[name]; decrypt && p.typ == SecureString {
			if err := r.authz.decrypt(p.kmsKey, paramKMSDenied); err != nil {
				return nil, err
			}
		}
		names = append(names, name)
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(in.NextToken, "fake-token-"))
		if err != nil || n < 0 || n > len(names) {
			return nil, clientErr("ValidationException", "The specified token is not valid.")
		}
		start = n
	}
	out := getParametersByPathOutput{Parameters: []parameterOut{}}
	end := min(len(names), start+limit)
	for _, name := range names[start:end] {
		p := r.params[name]
		out.Parameters = append(out.Parameters, r.out(p, p.versions[len(p.versions)-1], decrypt))
	}
	if end < len(names) {
		out.NextToken = fmt.Sprintf("fake-token-%d", end)
	}
	return out, nil
}
