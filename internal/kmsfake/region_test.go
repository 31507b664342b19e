package kmsfake

import (
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	credentials "github.com/aliyun/credentials-go/credentials"
)

// TestProxiedRequestKeepsItsRegion: a request proxied through the fake to
// another region's listener is served in that region, and only that
// request: the proxy's own requests stay in the proxy's region.
func TestProxiedRequestKeepsItsRegion(t *testing.T) {
	s, err := New("cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddAccessKey("LTAIregion", "region-secret")
	s.Put("cn-hangzhou", "db", []byte("home"))
	s.Put("cn-shanghai", "db", []byte("away"))

	cred, err := credentials.NewCredential(&credentials.Config{
		Type: tea.String("access_key"), AccessKeyId: tea.String("LTAIregion"), AccessKeySecret: tea.String("region-secret"),
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(endpoint, proxy string) string {
		t.Helper()
		cfg := &openapi.Config{Credential: cred, Protocol: tea.String("http"), Endpoint: tea.String(endpoint[len("http://"):]), RegionId: tea.String("cn-hangzhou")}
		if proxy != "" {
			cfg.HttpProxy = tea.String(proxy)
		}
		c, err := kms.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String("db")})
		if err != nil {
			t.Fatalf("%s via %q: %v", endpoint, proxy, err)
		}
		return tea.StringValue(out.Body.SecretData)
	}
	away := s.RegionURL("cn-shanghai")
	for range 2 {
		if v := get(away, s.URL()); v != "away" {
			t.Fatalf("proxied to the cn-shanghai listener: %q, want away", v)
		}
		if v := get(s.URL(), ""); v != "home" {
			t.Fatalf("the cn-hangzhou listener after a proxied request: %q, want home", v)
		}
	}
	if n := s.Calls("GetSecretValue"); n != 4 {
		t.Fatalf("%d GetSecretValue calls, want 4 (were the requests proxied?)", n)
	}
}
