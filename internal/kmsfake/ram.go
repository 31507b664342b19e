package kmsfake

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/shroud-dev/shroud/internal/policyeval"
)

// RAM-style authorization. A principal (an AccessKey ID, or the ARN of a
// RAM role, which governs every STS credential issued for it: AssumeRole,
// AssumeRoleWithOIDC, the instance's role) that has a policy from
// SetRAMPolicy may make only the KMS calls it allows, evaluated as RAM
// does (internal/policyeval), each against the secret's ARN
// acs:kms:REGION:ACCOUNT:secret/NAME; KMS answers the others
// Forbidden.NoPermission. A principal without a policy may do everything.

// ramState holds the policies; the zero value has none.
type ramState struct {
	policies map[string]*policyeval.Policy // principal -> policy
	roles    map[string]string             // STS AccessKey ID -> the role ARN it was issued for
}

// SetRAMPolicy attaches a RAM policy document to an AccessKey ID or a RAM
// role ARN. An empty document removes it.
func (s *Server) SetRAMPolicy(principal, document string) error {
	var p *policyeval.Policy
	if document != "" {
		var err error
		if p, err = policyeval.Parse(document, "1"); err != nil {
			return fmt.Errorf("kmsfake: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ram.policies == nil {
		s.ram.policies = map[string]*policyeval.Policy{}
	}
	if p == nil {
		delete(s.ram.policies, principal)
		return nil
	}
	s.ram.policies[principal] = p
	return nil
}

// bindRole records the role STS credentials were issued for. Called with
// s.mu held.
func (s *Server) bindRole(keyID, roleARN string) {
	if s.ram.roles == nil {
		s.ram.roles = map[string]string{}
	}
	s.ram.roles[keyID] = roleARN
}

// authorize decides a verified KMS call of action on the secret name (or
// ARN) in region.
func (s *Server) authorize(r *http.Request, action, region, name string) *apiError {
	keyID := credentialOf(r.Header.Get("Authorization"))
	s.mu.Lock()
	defer s.mu.Unlock()
	principal := keyID
	if role, ok := s.ram.roles[keyID]; ok {
		principal = role
	}
	p := s.ram.policies[principal]
	if p == nil {
		return nil
	}
	resource := name
	if !strings.HasPrefix(name, "acs:kms:") {
		resource = fmt.Sprintf("acs:kms:%s:%s:secret/%s", region, s.Account, name)
	}
	if p.Decide("kms:"+action, resource) == policyeval.Allowed {
		return nil
	}
	return &apiError{http.StatusForbidden, "Forbidden.NoPermission", "This operation for this resource is forbidden by permission system."}
}

// credentialOf is the AccessKey ID of an ACS3-HMAC-SHA256 Authorization
// header.
func credentialOf(auth string) string {
	_, rest, _ := strings.Cut(auth, " ")
	for _, f := range strings.Split(rest, ",") {
		if k, v, _ := strings.Cut(strings.TrimSpace(f), "="); k == "Credential" {
			return v
		}
	}
	return ""
}
