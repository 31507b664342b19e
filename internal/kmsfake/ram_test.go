package kmsfake

import (
	"net/http"
	"testing"
)

// TestRAMAuthorize: a principal's policy decides each KMS call on the
// secret's ARN; STS credentials answer to their role's policy; a principal
// without a policy may do everything.
func TestRAMAuthorize(t *testing.T) {
	s, err := New("cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	role := "acs:ram::" + s.Account + ":role/reader"
	err = s.SetRAMPolicy(role, `{"Version": "1", "Statement": [
	  {"Effect": "Allow", "Action": "kms:GetSecretValue", "Resource": "acs:kms:cn-hangzhou:`+s.Account+`:secret/prod/*"},
	  {"Effect": "Deny", "Action": "kms:*", "Resource": "acs:kms:*:*:secret/prod/root"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.bindRole("STS.session", role)
	s.mu.Unlock()
	req := func(key string) *http.Request {
		r, _ := http.NewRequest("POST", s.URL(), nil)
		r.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential="+key+",SignedHeaders=host,Signature=00")
		return r
	}
	for _, c := range []struct {
		key, action, region, name string
		allowed                   bool
	}{
		{"STS.session", "GetSecretValue", "cn-hangzhou", "prod/db", true},
		{"STS.session", "GetSecretValue", "cn-hangzhou", "acs:kms:cn-hangzhou:" + s.Account + ":secret/prod/db", true},
		{"STS.session", "ListSecretVersionIds", "cn-hangzhou", "prod/db", false},
		{"STS.session", "GetSecretValue", "cn-shanghai", "prod/db", false},
		{"STS.session", "GetSecretValue", "cn-hangzhou", "prod/root", false},
		{"STS.session", "GetSecretValue", "cn-hangzhou", "dev/db", false},
		{"LTAIunbound", "ListSecretVersionIds", "cn-hangzhou", "dev/db", true},
	} {
		e := s.authorize(req(c.key), c.action, c.region, c.name)
		if (e == nil) != c.allowed || (e != nil && (e.code != "Forbidden.NoPermission" || e.status != http.StatusForbidden)) {
			t.Errorf("%s %s %s/%s: %+v, want allowed %v", c.key, c.action, c.region, c.name, e, c.allowed)
		}
	}
	if err := s.SetRAMPolicy(role, `{"Version": "2012-10-17", "Statement": []}`); err == nil {
		t.Error("a policy of IAM's version was accepted as a RAM policy")
	}
}
