// Package sources parses secret references and fetches their values from the
// backends that hold them: AWS SSM Parameter Store, AWS Secrets Manager,
// Alibaba Cloud KMS, local files and the environment.
//
// The cloud backends live in subpackages and register themselves with a
// Resolver, so a program that resolves only local references links no cloud
// SDK.
package sources

import (
	"fmt"
	"strings"
)

// Backend names the store a reference points into.
type Backend string

// The backends of the reference grammar (DESIGN §4).
const (
	SSM            Backend = "ssm"
	SecretsManager Backend = "sm"
	KMS            Backend = "kms"
	File           Backend = "file"
	Env            Backend = "env"
)

// String returns the backend's name as users see it in tables and errors.
func (b Backend) String() string {
	switch b {
	case SSM:
		return "ssm"
	case SecretsManager:
		return "secretsmanager"
	case KMS:
		return "kms"
	}
	return string(b)
}

// Ref is a parsed secret reference. Fields that do not apply to a backend are
// empty.
type Ref struct {
	// Raw is the reference as the user wrote it; errors quote it.
	Raw     string
	Backend Backend
	// Partition is the ARN partition ("aws", "aws-cn", "acs"), empty for names.
	Partition string
	// Region is the ARN's region; empty for names, which resolve in the
	// backend's default region.
	Region  string
	Account string
	// ID is what the backend is asked for: the SSM Name (with its selector),
	// the Secrets Manager SecretId, the KMS SecretName, the file path or the
	// environment variable.
	ID string
	// Name is the normalized SSM parameter name results are keyed by.
	Name string
	// Selector is an SSM version number or label.
	Selector string
	// JSONKey selects one key of a JSON object value (for file: references,
	// of a JSON, dotenv or TOML file).
	JSONKey   string
	Stage     string
	VersionID string
}

// Object returns the reference without its JSON key: what a backend fetches.
// References that differ only in their key share one fetch.
func (r Ref) Object() Ref {
	r.JSONKey = ""
	r.Raw = ""
	return r
}

// Pinned reports whether the reference names one fixed version, which can
// never rotate.
func (r Ref) Pinned() bool {
	if r.VersionID != "" {
		return true
	}
	if r.Backend == SSM && r.Selector != "" && isDigits(r.Selector) {
		return true
	}
	return false
}

// ParseError explains why a reference was rejected.
type ParseError struct {
	Ref string
	Msg string
}

func (e *ParseError) Error() string {
	if e.Ref == "" {
		return e.Msg
	}
	return fmt.Sprintf("reference %q: %s", e.Ref, e.Msg)
}

// Parse parses one reference of the grammar in DESIGN §4.
//
// Names (bare SSM names, sm:, kms:) get an empty Region: the backend resolves
// them in its default region. Only a full ARN reaches another region.
func Parse(s string) (Ref, error) {
	fail := func(format string, args ...any) (Ref, error) {
		return Ref{}, &ParseError{Ref: s, Msg: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return Ref{}, &ParseError{Msg: "empty reference: give a name, an ARN, or a sm:, kms:, file: or env: reference"}
	}
	if strings.TrimSpace(s) != s || strings.ContainsAny(s, "\n\r\t\x00") {
		return fail("leading or trailing space or a control character; remove it")
	}
	var (
		ref Ref
		err error
	)
	switch {
	case strings.HasPrefix(s, "arn:"):
		ref, err = parseAWSARN(s)
	case strings.HasPrefix(s, "acs:"):
		ref, err = parseKMSARN(s)
	case strings.HasPrefix(s, "sm:"):
		ref, err = parseSecretFields(SecretsManager, strings.TrimPrefix(s, "sm:"))
	case strings.HasPrefix(s, "kms:"):
		ref, err = parseSecretFields(KMS, strings.TrimPrefix(s, "kms:"))
	case strings.HasPrefix(s, "file:"):
		ref, err = parseFile(strings.TrimPrefix(s, "file:"))
	case strings.HasPrefix(s, "env:"):
		ref, err = parseEnv(strings.TrimPrefix(s, "env:"))
	default:
		ref, err = parseSSMName(s)
	}
	if err != nil {
		return fail("%s", err.Error())
	}
	ref.Raw = s
	return ref, nil
}

// IsReference reports whether s is one of the explicit reference forms that
// --env-refs replaces (DESIGN §6): an ssm or secretsmanager ARN in any
// partition, acs:kms:, sm:, kms: or file:. Bare names and env: are not: any
// value could look like one.
func IsReference(s string) bool {
	for _, p := range []string{"acs:kms:", "sm:", "kms:", "file:"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	if parts := strings.SplitN(s, ":", 4); len(parts) == 4 && parts[0] == "arn" && strings.HasPrefix(parts[1], "aws") {
		return parts[2] == "ssm" || parts[2] == "secretsmanager"
	}
	return false
}

func parseAWSARN(s string) (Ref, error) {
	// arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 {
		return Ref{}, fmt.Errorf("not a complete ARN: want arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE")
	}
	partition, service, region, account, resource := parts[1], parts[2], parts[3], parts[4], parts[5]
	if service != "ssm" && service != "secretsmanager" {
		return Ref{}, fmt.Errorf("unsupported service %q in ARN: shroud reads ssm (Parameter Store) and secretsmanager ARNs", service)
	}
	if !validAWSPartition(partition) {
		return Ref{}, fmt.Errorf("invalid partition %q in ARN: want aws, aws-cn, aws-us-gov, ...", partition)
	}
	if !ValidAWSRegion(region) {
		return Ref{}, fmt.Errorf("invalid region %q in ARN: want a region code like us-east-1", region)
	}
	if len(account) != 12 || !isDigits(account) {
		return Ref{}, fmt.Errorf("invalid account %q in ARN: want a 12-digit AWS account ID", account)
	}
	ref := Ref{Partition: partition, Region: region, Account: account}
	prefix := strings.Join(parts[:5], ":") + ":"
	if service == "ssm" {
		name, ok := strings.CutPrefix(resource, "parameter/")
		if !ok {
			return Ref{}, fmt.Errorf("SSM ARN resource must start with \"parameter/\"")
		}
		name, selector, err := splitSelector(name)
		if err != nil {
			return Ref{}, err
		}
		if name == "" {
			return Ref{}, fmt.Errorf("SSM ARN has an empty parameter name")
		}
		if strings.HasPrefix(name, "/") {
			return Ref{}, fmt.Errorf("SSM ARN: a hierarchical name has no leading slash after \"parameter/\" (write parameter/%s)", strings.TrimLeft(name, "/"))
		}
		if err := checkSSMName(name); err != nil {
			return Ref{}, err
		}
		ref.Backend = SSM
		ref.Name = name
		if strings.Contains(name, "/") {
			ref.Name = "/" + name
		}
		ref.Selector = selector
		ref.ID = prefix + "parameter/" + name + withColon(selector)
		return ref, nil
	}
	rest, ok := strings.CutPrefix(resource, "secret:")
	if !ok {
		return Ref{}, fmt.Errorf("Secrets Manager ARN resource must start with \"secret:\"")
	}
	fields, err := parseSecretFields(SecretsManager, rest)
	if err != nil {
		return Ref{}, err
	}
	fields.Partition, fields.Region, fields.Account = partition, region, account
	fields.ID = prefix + "secret:" + fields.ID
	return fields, nil
}

func parseKMSARN(s string) (Ref, error) {
	// acs:kms:REGION:ACCOUNT:secret/NAME[:json-key[:version-stage[:version-id]]]
	parts := strings.SplitN(s, ":", 5)
	if len(parts) < 5 {
		return Ref{}, fmt.Errorf("not a complete Alibaba Cloud ARN: want acs:kms:REGION:ACCOUNT:secret/NAME")
	}
	if parts[1] != "kms" {
		return Ref{}, fmt.Errorf("unsupported service %q in ARN: shroud reads acs:kms: secret ARNs", parts[1])
	}
	region, account, resource := parts[2], parts[3], parts[4]
	if !ValidAlibabaRegion(region) {
		return Ref{}, fmt.Errorf("invalid region %q in ARN: want a region ID like cn-hangzhou", region)
	}
	if account == "" || len(account) > 20 || !isDigits(account) {
		return Ref{}, fmt.Errorf("invalid account %q in ARN: want the numeric Alibaba Cloud account ID", account)
	}
	rest, ok := strings.CutPrefix(resource, "secret/")
	if !ok {
		return Ref{}, fmt.Errorf("KMS ARN resource must start with \"secret/\"")
	}
	ref, err := parseSecretFields(KMS, rest)
	if err != nil {
		return Ref{}, err
	}
	ref.Partition, ref.Region, ref.Account = "acs", region, account
	ref.ID = strings.Join(parts[:4], ":") + ":secret/" + ref.ID
	return ref, nil
}

// parseSecretFields parses NAME[:json-key[:version-stage[:version-id]]], the
// tail shared by Secrets Manager and KMS references. Empty fields are allowed,
// as ECS writes them (NAME:key::).
func parseSecretFields(b Backend, s string) (Ref, error) {
	fields := strings.Split(s, ":")
	if len(fields) > 4 {
		return Ref{}, fmt.Errorf("too many fields: want NAME[:json-key[:version-stage[:version-id]]], got %d fields", len(fields))
	}
	for len(fields) < 4 {
		fields = append(fields, "")
	}
	name, key, stage, version := fields[0], fields[1], fields[2], fields[3]
	if name == "" {
		return Ref{}, fmt.Errorf("empty secret name")
	}
	if stage != "" && version != "" {
		return Ref{}, fmt.Errorf("give a version-stage or a version-id, not both")
	}
	if strings.Contains(name, "//") || strings.HasSuffix(name, "/") {
		return Ref{}, fmt.Errorf("invalid secret name %q: empty path segment", name)
	}
	return Ref{Backend: b, ID: name, JSONKey: key, Stage: stage, VersionID: version}, nil
}

// parseSSMName parses a bare parameter name with an optional :version or
// :label selector. A name cannot contain ':', so anything else with a colon
// is an unknown scheme.
func parseSSMName(s string) (Ref, error) {
	name, selector, err := splitSelector(s)
	if err != nil {
		if i := strings.IndexByte(s, ':'); i > 0 && isSchemeWord(s[:i]) {
			return Ref{}, fmt.Errorf("unknown scheme %q: use a parameter name, an ARN, or sm:, kms:, file:, env:", s[:i+1])
		}
		return Ref{}, err
	}
	if err := checkSSMName(name); err != nil {
		return Ref{}, err
	}
	return Ref{Backend: SSM, ID: s, Name: name, Selector: selector}, nil
}

// splitSelector splits NAME[:selector]; a selector is a version number or a
// label of letters, digits, '.', '-' and '_'.
func splitSelector(s string) (name, selector string, err error) {
	name, selector, found := strings.Cut(s, ":")
	if !found {
		return s, "", nil
	}
	if selector == "" {
		return "", "", fmt.Errorf("empty version or label after ':'")
	}
	for _, c := range selector {
		if !(isAlnum(c) || c == '.' || c == '-' || c == '_') {
			return "", "", fmt.Errorf("invalid version or label %q: use digits or letters, '.', '-', '_'", selector)
		}
	}
	return name, selector, nil
}

// checkSSMName applies Parameter Store's naming rules.
func checkSSMName(name string) error {
	if name == "" || name == "/" {
		return fmt.Errorf("empty parameter name")
	}
	if len(name) > 2048 {
		return fmt.Errorf("parameter name longer than 2048 characters")
	}
	for _, c := range name {
		if !(isAlnum(c) || strings.ContainsRune("_.-/", c)) {
			return fmt.Errorf("invalid character %q in parameter name: use letters, digits and _ . - /", c)
		}
	}
	if strings.Contains(name, "//") {
		return fmt.Errorf("empty path segment in parameter name")
	}
	return nil
}

func parseFile(s string) (Ref, error) {
	path, key := s, ""
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		path, key = s[:i], s[i+1:]
		if key == "" {
			return Ref{}, fmt.Errorf("empty key after '#'")
		}
	}
	if path == "" {
		return Ref{}, fmt.Errorf("empty file path")
	}
	return Ref{Backend: File, ID: path, JSONKey: key}, nil
}

func parseEnv(s string) (Ref, error) {
	if !ValidEnvName(s) {
		return Ref{}, fmt.Errorf("invalid variable name %q: use letters, digits and _, not starting with a digit", s)
	}
	return Ref{Backend: Env, ID: s}, nil
}

// ValidEnvName reports whether s is a portable environment variable name.
func ValidEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(isAlnum(c) || c == '_') {
			return false
		}
	}
	return true
}

func validAWSPartition(p string) bool {
	if p != "aws" && !strings.HasPrefix(p, "aws-") {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return !strings.HasSuffix(p, "-")
}

// ValidAWSRegion accepts region codes like us-east-1, us-gov-west-1,
// us-isob-east-1: lowercase words joined by '-', ending in a number.
func ValidAWSRegion(r string) bool {
	words := strings.Split(r, "-")
	if len(words) < 3 || len(words[0]) != 2 || !isDigits(words[len(words)-1]) {
		return false
	}
	for _, w := range words[:len(words)-1] {
		if w == "" || !isLower(w) {
			return false
		}
	}
	return true
}

// ValidAlibabaRegion accepts region IDs like cn-hangzhou, ap-southeast-1,
// cn-shenzhen-finance-1.
func ValidAlibabaRegion(r string) bool {
	words := strings.Split(r, "-")
	if len(words) < 2 || len(words[0]) != 2 || !isLower(words[0]) {
		return false
	}
	for _, w := range words[1:] {
		if w == "" {
			return false
		}
		for _, c := range w {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// isSchemeWord reports whether s looks like a URI scheme (RFC 3986).
func isSchemeWord(s string) bool {
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

func withColon(s string) string {
	if s == "" {
		return ""
	}
	return ":" + s
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func isLower(s string) bool {
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Previous is the reference to the version before the current one of a
// Secrets Manager or KMS secret (the AWSPREVIOUS or ACSPrevious stage), as
// a template's secretPrevious asks for it. Its Raw is a reference of the
// grammar, so errors and tables show what is fetched.
func (r Ref) Previous() (Ref, error) {
	stage, scheme := "", ""
	switch r.Backend {
	case SecretsManager:
		stage, scheme = "AWSPREVIOUS", "sm:"
	case KMS:
		stage, scheme = "ACSPrevious", "kms:"
	default:
		return Ref{}, fmt.Errorf("secretPrevious %q: only Secrets Manager and KMS secrets keep a previous version (AWSPREVIOUS, ACSPrevious); %s has none, use secret", r.Raw, r.Backend)
	}
	if r.Stage != "" || r.VersionID != "" {
		return Ref{}, fmt.Errorf("secretPrevious %q: the reference already names a version; secretPrevious chooses %s itself", r.Raw, stage)
	}
	if r.Partition != "" { // an ARN: ID holds all of it but the tail
		scheme = ""
	}
	r.Stage = stage
	r.Raw = scheme + r.ID + ":" + r.JSONKey + ":" + stage
	return r, nil
}
