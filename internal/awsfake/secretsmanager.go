package awsfake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Staging labels of Secrets Manager.
const (
	Current  = "AWSCURRENT"
	Previous = "AWSPREVIOUS"
	Pending  = "AWSPENDING"
)

type secret struct {
	name, arn string
	versions  map[string]*secretVersion
	stages    map[string]string // staging label -> version id
	// deny makes every read of the secret fail with AccessDeniedException;
	// undecryptable, with DecryptionFailure.
	deny, undecryptable bool
	// kmsKey is the ARN of its customer-managed key; "": aws/secretsmanager.
	kmsKey string
}

type secretVersion struct {
	id      string
	str     *string
	bin     []byte
	created time.Time
}

// PutSecretString stores a new version of the secret name in region, with
// the AWSCURRENT label (the previous AWSCURRENT becomes AWSPREVIOUS), and
// creates the secret if needed. It returns the secret's ARN and the new
// version id.
func (f *Fake) PutSecretString(region, name, value string) (arn, versionID string) {
	return f.putSecret(region, name, &value, nil, Current)
}

// PutSecretBinary is PutSecretString for a SecretBinary value.
func (f *Fake) PutSecretBinary(region, name string, value []byte) (arn, versionID string) {
	return f.putSecret(region, name, nil, append([]byte(nil), value...), Current)
}

// PutSecretPending stores a new version with the AWSPENDING label only, as
// a rotation's first step does.
func (f *Fake) PutSecretPending(region, name, value string) (arn, versionID string) {
	return f.putSecret(region, name, &value, nil, Pending)
}

// DenySecret makes reads of the secret fail with AccessDeniedException.
func (f *Fake) DenySecret(region, name string) {
	f.secretFlags(region, name, func(s *secret) { s.deny = true })
}

// BreakSecretKey makes reads of the secret fail with DecryptionFailure, as
// when its KMS key is disabled.
func (f *Fake) BreakSecretKey(region, name string) {
	f.secretFlags(region, name, func(s *secret) { s.undecryptable = true })
}

func (f *Fake) secretFlags(region, name string, set func(*secret)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.region(region).secretByName(name); s != nil {
		set(s)
	}
}

func (f *Fake) putSecret(region, name string, str *string, bin []byte, stage string) (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reg := f.region(region)
	s := reg.secretByName(name)
	if s == nil {
		sum := sha256.Sum256([]byte(region + "/" + name))
		suffix := hex.EncodeToString(sum[:])[:6]
		s = &secret{
			name:     name,
			arn:      fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", region, Account, name, suffix),
			versions: map[string]*secretVersion{},
			stages:   map[string]string{},
		}
		reg.secrets = append(reg.secrets, s)
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", s.arn, len(s.versions))))
	h := hex.EncodeToString(sum[:])
	id := fmt.Sprintf("%s-%s-4%s-8%s-%s", h[0:8], h[8:12], h[12:15], h[15:18], h[18:30])
	s.versions[id] = &secretVersion{id: id, str: str, bin: bin, created: time.Now()}
	if stage == Current {
		if cur, ok := s.stages[Current]; ok {
			s.stages[Previous] = cur
		}
	}
	s.stages[stage] = id
	return s.arn, id
}

func (r *region) secretByName(name string) *secret {
	for _, s := range r.secrets {
		if s.name == name {
			return s
		}
	}
	return nil
}

// lookup finds a secret by name, full ARN or partial ARN (no -XXXXXX).
func (r *region) lookup(id string) *secret {
	for _, s := range r.secrets {
		if id == s.name || id == s.arn || id == strings.TrimSuffix(s.arn, s.arn[len(s.arn)-7:]) {
			return s
		}
	}
	return nil
}

func (r *region) readable(id, principal string) (*secret, *apiError) {
	s := r.lookup(id)
	if err := r.authz.allow("secretsmanager:GetSecretValue", r.secretResource(id, s)); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, clientErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	}
	if s.deny {
		return nil, clientErr("AccessDeniedException", "User: %s is not authorized to perform: secretsmanager:GetSecretValue on resource: %s because no identity-based policy allows the secretsmanager:GetSecretValue action", principal, id)
	}
	if err := r.authz.decrypt(s.kmsKey, secretKMSDenied); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *secret) labels(id string) []string {
	var out []string
	for _, st := range sortedKeys(s.stages) {
		if s.stages[st] == id {
			out = append(out, st)
		}
	}
	return out
}

type getSecretValueInput struct {
	SecretID     string `json:"SecretId"`
	VersionID    string `json:"VersionId,omitempty"`
	VersionStage string `json:"VersionStage,omitempty"`
}

type secretValue struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	SecretString  *string  `json:"SecretString,omitempty"`
	SecretBinary  []byte   `json:"SecretBinary,omitempty"` // base64, as the protocol wants
	VersionStages []string `json:"VersionStages"`
	CreatedDate   float64  `json:"CreatedDate"`
}

func (r *region) getSecretValue(in getSecretValueInput, principal string) (any, *apiError) {
	if in.SecretID == "" {
		return nil, clientErr("ValidationException", "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	s, err := r.readable(in.SecretID, principal)
	if err != nil {
		return nil, err
	}
	v, err := s.version(in.VersionID, in.VersionStage)
	if err != nil {
		return nil, err
	}
	if s.undecryptable {
		return nil, clientErr("DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the provided KMS key.")
	}
	return s.value(v), nil
}

func (s *secret) version(id, stage string) (*secretVersion, *apiError) {
	if id != "" {
		v, ok := s.versions[id]
		if !ok {
			return nil, clientErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", id)
		}
		if stage != "" && s.stages[stage] != id {
			return nil, clientErr("InvalidRequestException", "You provided a VersionStage that is not associated to the provided VersionId.")
		}
		return v, nil
	}
	if stage == "" {
		stage = Current
	}
	vid, ok := s.stages[stage]
	if !ok {
		return nil, clientErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
	}
	return s.versions[vid], nil
}

func (s *secret) value(v *secretVersion) secretValue {
	return secretValue{
		ARN: s.arn, Name: s.name, VersionID: v.id,
		SecretString: v.str, SecretBinary: v.bin,
		VersionStages: s.labels(v.id),
		CreatedDate:   float64(v.created.UnixMilli()) / 1000,
	}
}

type batchGetSecretValueInput struct {
	SecretIDList []string `json:"SecretIdList"`
	Filters      []any    `json:"Filters,omitempty"`
	MaxResults   *int     `json:"MaxResults,omitempty"`
	NextToken    string   `json:"NextToken,omitempty"`
}

type batchError struct {
	SecretID  string `json:"SecretId"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

type batchGetSecretValueOutput struct {
	SecretValues []secretValue `json:"SecretValues"`
	Errors       []batchError  `json:"Errors"`
	NextToken    string        `json:"NextToken,omitempty"`
}

// batchGetSecretValue answers for each id the AWSCURRENT value, or an entry
// in Errors. omit leaves the last n ids out of both lists.
func (r *region) batchGetSecretValue(in batchGetSecretValueInput, principal string, omit int) (any, *apiError) {
	if len(in.Filters) > 0 {
		return nil, clientErr("InvalidParameterException", "the fake supports SecretIdList only")
	}
	if len(in.SecretIDList) == 0 || len(in.SecretIDList) > 20 {
		return nil, clientErr("ValidationException", "1 validation error detected: Value at 'secretIdList' failed to satisfy constraint: Member must have length less than or equal to 20 and greater than or equal to 1")
	}
	if in.MaxResults != nil {
		return nil, clientErr("InvalidParameterException", "MaxResults needs Filters")
	}
	if err := r.authz.allow("secretsmanager:BatchGetSecretValue", "*"); err != nil {
		return nil, err
	}
	out := batchGetSecretValueOutput{SecretValues: []secretValue{}, Errors: []batchError{}}
	ids := in.SecretIDList
	if omit > 0 {
		ids = ids[:max(0, len(ids)-omit)]
	}
	for _, id := range ids {
		s, err := r.readable(id, principal)
		if err == nil && s.undecryptable {
			err = clientErr("DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the provided KMS key.")
		}
		if err == nil {
			v, verr := s.version("", Current)
			if verr != nil {
				err = verr
			} else {
				out.SecretValues = append(out.SecretValues, s.value(v))
				continue
			}
		}
		out.Errors = append(out.Errors, batchError{SecretID: id, ErrorCode: err.code, Message: err.msg})
	}
	return out, nil
}

type describeSecretInput struct {
	SecretID string `json:"SecretId"`
}

type describeSecretOutput struct {
	ARN                string              `json:"ARN"`
	Name               string              `json:"Name"`
	VersionIDsToStages map[string][]string `json:"VersionIdsToStages"`
	LastChangedDate    float64             `json:"LastChangedDate"`
	KmsKeyID           string              `json:"KmsKeyId,omitempty"`
}

func (r *region) describeSecret(in describeSecretInput, principal string) (any, *apiError) {
	s := r.lookup(in.SecretID)
	if err := r.authz.allow("secretsmanager:DescribeSecret", r.secretResource(in.SecretID, s)); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, clientErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
	}
	if s.deny {
		return nil, clientErr("AccessDeniedException", "User: %s is not authorized to perform: secretsmanager:DescribeSecret on resource: %s", principal, in.SecretID)
	}
	out := describeSecretOutput{ARN: s.arn, Name: s.name, VersionIDsToStages: map[string][]string{}, KmsKeyID: s.kmsKey}
	for id := range s.versions {
		if l := s.labels(id); len(l) > 0 {
			out.VersionIDsToStages[id] = l
		}
	}
	out.LastChangedDate = float64(time.Now().Unix())
	return out, nil
}
