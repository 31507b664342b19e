package alibaba

import (
	"fmt"
	"sync"
	"time"

	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/credentials-go/credentials"
	"github.com/aliyun/credentials-go/credentials/providers"
)

// Credentials selects where the backend's Alibaba Cloud credentials come
// from. It never holds an AccessKey: long-term keys come only from the
// environment or the credentials file, and RRSA or an instance RAM role
// need none at all.
type Credentials struct {
	// Type is one of:
	//   "" or "default"  credentials-go's default chain: environment AccessKey,
	//                    RRSA (OIDC), the aliyun CLI profile, the credentials
	//                    file, the ECS instance RAM role, a credentials URI
	//   "env"            ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET, with an optional
	//                    ALIBABA_CLOUD_SECURITY_TOKEN
	//   "sts"            the same three variables, the token required
	//   "ram_role_arn"   assume RoleARN with credentials from the default chain
	//   "rrsa"           AssumeRoleWithOIDC with the pod's service account
	//                    token: ALIBABA_CLOUD_ROLE_ARN,
	//                    ALIBABA_CLOUD_OIDC_PROVIDER_ARN,
	//                    ALIBABA_CLOUD_OIDC_TOKEN_FILE (set by ACK)
	//   "ecs_ram_role"   the ECS instance RAM role, from instance metadata
	//   "profile"        a profile of the credentials file
	//                    (~/.alibabacloud/credentials or
	//                    ALIBABA_CLOUD_CREDENTIALS_FILE)
	Type string
	// Profile names the credentials file's profile; empty means
	// ALIBABA_CLOUD_PROFILE, then "default".
	Profile string
	// RoleARN is the role ram_role_arn assumes; for rrsa it replaces
	// ALIBABA_CLOUD_ROLE_ARN.
	RoleARN string
	// RoleSessionName names the assumed role's session, as audit logs show
	// it; empty means "shroud".
	RoleSessionName string
	// RoleName is the instance's RAM role for ecs_ram_role; empty means the
	// one the metadata service reports.
	RoleName string
	// STSEndpoint replaces the STS endpoint (a host) of ram_role_arn and
	// rrsa. The default chain follows ALIBABA_CLOUD_STS_REGION and
	// ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED.
	STSEndpoint string
}

// CredentialError is a failure to get credentials; it is not retried.
type CredentialError struct {
	Provider string
	Err      error
}

func (e *CredentialError) Error() string {
	return fmt.Sprintf("getting Alibaba Cloud credentials (%s): %v", e.Provider, e.Err)
}

func (e *CredentialError) Unwrap() error { return e.Err }

// credentialFailureTTL keeps a failed chain from being walked again for
// every reference of one resolve: the default chain's last step waits for
// the ECS metadata service, which is absent outside ECS.
const credentialFailureTTL = 5 * time.Second

func (s *Source) credentialName() string {
	switch t := s.opts.Credentials.Type; t {
	case "", "default":
		return "credentials-go default chain"
	case "profile":
		if p := s.opts.Credentials.Profile; p != "" {
			return "profile " + p
		}
	}
	return s.opts.Credentials.Type
}

// credential builds the selected provider once.
func (s *Source) credential() (*credential, error) {
	s.credOnce.Do(func() {
		p, err := newProvider(s.opts.Credentials)
		if err != nil {
			s.credErr = &CredentialError{Provider: s.credentialName(), Err: err}
			return
		}
		s.cred = &credential{name: s.credentialName(), provider: p}
	})
	return s.cred, s.credErr
}

func newProvider(c Credentials) (providers.CredentialsProvider, error) {
	session := c.RoleSessionName
	if session == "" {
		session = "shroud"
	}
	switch c.Type {
	case "", "default":
		return providers.NewDefaultCredentialsProvider(), nil
	case "env":
		return providers.NewEnvironmentVariableCredentialsProviderBuilder().Build()
	case "sts":
		return providers.NewStaticSTSCredentialsProviderBuilder().Build()
	case "ram_role_arn":
		if c.RoleARN == "" {
			return nil, fmt.Errorf("ram_role_arn needs [alibaba] role_arn")
		}
		return providers.NewRAMRoleARNCredentialsProviderBuilder().
			WithCredentialsProvider(providers.NewDefaultCredentialsProvider()).
			WithRoleArn(c.RoleARN).
			WithRoleSessionName(session).
			WithStsEndpoint(c.STSEndpoint).
			Build()
	case "rrsa":
		p, err := providers.NewOIDCCredentialsProviderBuilder().
			WithRoleArn(c.RoleARN).
			WithRoleSessionName(session).
			WithSTSEndpoint(c.STSEndpoint).
			Build()
		if err != nil {
			return nil, fmt.Errorf("%v: RRSA needs ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE, which ACK sets in pods whose service account has RRSA enabled", err)
		}
		return p, nil
	case "ecs_ram_role":
		return providers.NewECSRAMRoleCredentialsProviderBuilder().WithRoleName(c.RoleName).Build()
	case "profile":
		return providers.NewProfileCredentialsProviderBuilder().WithProfileName(c.Profile).Build()
	}
	return nil, fmt.Errorf("unknown credentials type %q: want default, env, sts, ram_role_arn, rrsa, ecs_ram_role or profile", c.Type)
}

// credential adapts a credentials-go provider to the SDK's Credential.
// credentials-go providers are not safe for concurrent use and refresh
// themselves when called, so calls are serialized here; one refresh serves
// every request waiting for it.
type credential struct {
	name     string
	mu       sync.Mutex
	provider providers.CredentialsProvider
	failed   time.Time
	err      error
}

// GetCredential returns current credentials, refreshing them when the
// provider decides they are close to expiry (an RRSA token file is read
// again then).
func (c *credential) GetCredential() (*credentials.CredentialModel, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil && time.Since(c.failed) < credentialFailureTTL {
		return nil, c.err
	}
	cc, err := c.provider.GetCredentials()
	if err != nil {
		c.err, c.failed = &CredentialError{Provider: c.name, Err: err}, time.Now()
		return nil, c.err
	}
	c.err = nil
	typ := "access_key"
	if cc.SecurityToken != "" {
		typ = "sts"
	}
	return &credentials.CredentialModel{
		AccessKeyId:     tea.String(cc.AccessKeyId),
		AccessKeySecret: tea.String(cc.AccessKeySecret),
		SecurityToken:   tea.String(cc.SecurityToken),
		Type:            tea.String(typ),
		ProviderName:    tea.String(cc.ProviderName),
	}, nil
}

// GetAccessKeyId is part of the SDK's interface; the SDK calls GetCredential.
func (c *credential) GetAccessKeyId() (*string, error) {
	m, err := c.GetCredential()
	if err != nil {
		return nil, err
	}
	return m.AccessKeyId, nil
}

// GetAccessKeySecret is part of the SDK's interface.
func (c *credential) GetAccessKeySecret() (*string, error) {
	m, err := c.GetCredential()
	if err != nil {
		return nil, err
	}
	return m.AccessKeySecret, nil
}

// GetSecurityToken is part of the SDK's interface.
func (c *credential) GetSecurityToken() (*string, error) {
	m, err := c.GetCredential()
	if err != nil {
		return nil, err
	}
	return m.SecurityToken, nil
}

// GetBearerToken is part of the SDK's interface; shroud uses no bearer
// tokens.
func (c *credential) GetBearerToken() *string { return tea.String("") }

// GetType is part of the SDK's interface.
func (c *credential) GetType() *string { return tea.String(c.name) }
