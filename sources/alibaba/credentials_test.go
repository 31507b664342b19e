package alibaba

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/internal/must"
)

const (
	roleARN     = "acs:ram::1234567890123456:role/shroud-reader"
	providerARN = "acs:ram::1234567890123456:oidc-provider/ack-rrsa-c1"
)

// stsHost is the fake's HTTPS host:port, used as an STS endpoint.
func stsHost(t *testing.T) string {
	u, err := url.Parse(cloud.TLSURL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func fetchOne(t *testing.T, src *Source, ref string) (string, error) {
	t.Helper()
	res := src.Fetch(context.Background(), parse(t, ref))
	noLeak(t, res[0].Err)
	return string(res[0].Value.Data), res[0].Err
}

// TestRRSATokenFileRotation: the pod's service account token rotates on
// disk; the next STS exchange must send the new token. STS credentials
// that expire within three minutes are refreshed on every call, so two
// fetches make two exchanges.
func TestRRSATokenFileRotation(t *testing.T) {
	cloud.Put(home, "rrsa/db", []byte(canary))
	cloud.AddOIDCRole(roleARN, providerARN)
	cloud.SetSTSDuration(time.Minute)
	defer cloud.SetSTSDuration(time.Hour)
	for _, tc := range []struct {
		name  string
		creds Credentials
	}{
		// The default chain reaches sts.aliyuncs.com, through the proxy.
		{"default chain", Credentials{}},
		{"explicit rrsa", Credentials{Type: "rrsa", STSEndpoint: stsHost(t)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokenFile := filepath.Join(t.TempDir(), "token")
			t.Setenv("ALIBABA_CLOUD_ROLE_ARN", roleARN)
			t.Setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", providerARN)
			t.Setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", tokenFile)
			first, second := "jwt-1-"+tc.name, "jwt-2-"+tc.name
			cloud.AcceptOIDCToken(first)
			cloud.AcceptOIDCToken(second)
			src := newSource(Options{Credentials: tc.creds})

			must.Succeed(t, os.WriteFile(tokenFile, []byte(first), 0o600))
			if v, err := fetchOne(t, src, "kms:rrsa/db"); err != nil || v != canary {
				t.Fatalf("first fetch: %q %v", v, err)
			}
			must.Succeed(t, os.WriteFile(tokenFile, []byte(second), 0o600))
			if v, err := fetchOne(t, src, "kms:rrsa/db"); err != nil || v != canary {
				t.Fatalf("second fetch: %q %v", v, err)
			}
			tokens := cloud.OIDCTokens()
			if len(tokens) < 2 || !slices.Equal(tokens[len(tokens)-2:], []string{first, second}) {
				t.Fatalf("STS received tokens %q, want ... %q, %q", tokens, first, second)
			}
		})
	}
}

func TestRRSAErrors(t *testing.T) {
	res := newSource(Options{Credentials: Credentials{Type: "rrsa"}}).Fetch(context.Background(), parse(t, "kms:x"))
	want := "getting Alibaba Cloud credentials (rrsa): the OIDCTokenFilePath is empty: RRSA needs ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE"
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), want) {
		t.Fatalf("err = %v, want %q", res[0].Err, want)
	}
	// A token STS refuses.
	tokenFile := filepath.Join(t.TempDir(), "token")
	must.Succeed(t, os.WriteFile(tokenFile, []byte("jwt-unknown"), 0o600))
	t.Setenv("ALIBABA_CLOUD_ROLE_ARN", roleARN)
	t.Setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", providerARN)
	t.Setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", tokenFile)
	cloud.AddOIDCRole(roleARN, providerARN)
	res = newSource(Options{Credentials: Credentials{Type: "rrsa", STSEndpoint: stsHost(t)}}).Fetch(context.Background(), parse(t, "kms:x"))
	var credErr *CredentialError
	if !errors.As(res[0].Err, &credErr) || !strings.Contains(res[0].Err.Error(), "AuthenticationFail.OIDCToken.Invalid") {
		t.Fatalf("err = %v", res[0].Err)
	}
}

// TestECSRAMRole: on ECS, credentials come from the instance metadata
// service (100.100.100.200, IMDSv2 session tokens), here the fake.
func TestECSRAMRole(t *testing.T) {
	cloud.Put(home, "ecs/db", []byte(canary))
	cloud.SetInstanceRole("shroud-reader")
	defer cloud.SetInstanceRole("")
	for _, creds := range []Credentials{{}, {Type: "ecs_ram_role"}, {Type: "ecs_ram_role", RoleName: "shroud-reader"}} {
		tokens, roles, got := cloud.Calls("metadata:token"), cloud.Calls("metadata:role"), cloud.Calls("metadata:credentials")
		if v, err := fetchOne(t, newSource(Options{Credentials: creds}), "kms:ecs/db"); err != nil || v != canary {
			t.Fatalf("%+v: %q %v", creds, v, err)
		}
		if cloud.Calls("metadata:token") == tokens || cloud.Calls("metadata:credentials") == got {
			t.Errorf("%+v: the metadata service was not asked", creds)
		}
		if asked := cloud.Calls("metadata:role") - roles; (creds.RoleName == "") != (asked > 0) {
			t.Errorf("%+v: role name asked %d times", creds, asked)
		}
	}
}

func TestRAMRoleARN(t *testing.T) {
	envKeys(t)
	cloud.Put(home, "assume/db", []byte(canary))
	cloud.AddRole(roleARN)
	before := cloud.Calls("AssumeRole")
	src := newSource(Options{Credentials: Credentials{Type: "ram_role_arn", RoleARN: roleARN, STSEndpoint: stsHost(t)}})
	if v, err := fetchOne(t, src, "kms:assume/db"); err != nil || v != canary {
		t.Fatalf("%q %v", v, err)
	}
	if cloud.Calls("AssumeRole") != before+1 {
		t.Fatal("AssumeRole was not called")
	}
	src = newSource(Options{Credentials: Credentials{Type: "ram_role_arn", RoleARN: "acs:ram::1234567890123456:role/other", STSEndpoint: stsHost(t)}})
	if _, err := fetchOne(t, src, "kms:assume/db"); err == nil || !strings.Contains(err.Error(), "EntityNotExist.Role") {
		t.Fatalf("err = %v", err)
	}
}

// TestAssumeRoleWrongKey: STS checks AssumeRole's signature (RPC,
// HMAC-SHA1) against the AccessKey's secret; a wrong secret gets no role
// credentials, and so no secret.
func TestAssumeRoleWrongKey(t *testing.T) {
	envKeys(t)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-"+akSec)
	cloud.Put(home, "assume/wrong", []byte(canary))
	cloud.AddRole(roleARN)
	before := cloud.Calls("AssumeRole")
	src := newSource(Options{Credentials: Credentials{Type: "ram_role_arn", RoleARN: roleARN, STSEndpoint: stsHost(t)}})
	v, err := fetchOne(t, src, "kms:assume/wrong")
	var credErr *CredentialError
	if !errors.As(err, &credErr) || !strings.Contains(err.Error(), "SignatureDoesNotMatch") || v != "" {
		t.Fatalf("value %q, err = %v; want STS's SignatureDoesNotMatch", v, err)
	}
	if cloud.Calls("AssumeRole") == before {
		t.Fatal("AssumeRole was not called")
	}
}

func TestProfileAndSTS(t *testing.T) {
	cloud.Put(home, "profile/db", []byte(canary))
	file := filepath.Join(t.TempDir(), "credentials")
	must.Succeed(t, os.WriteFile(file, []byte("[default]\ntype = access_key\naccess_key_id = nope\naccess_key_secret = nope\n\n[reader]\ntype = access_key\naccess_key_id = "+akID+"\naccess_key_secret = "+akSec+"\n"), 0o600))
	t.Setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", file)
	if v, err := fetchOne(t, newSource(Options{Credentials: Credentials{Type: "profile", Profile: "reader"}}), "kms:profile/db"); err != nil || v != canary {
		t.Fatalf("profile: %q %v", v, err)
	}

	// sts: a temporary key and its token from the environment.
	cloud.AddSTSToken("STS.envkey", "env-sts-secret", "env-sts-token", time.Hour)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.envkey")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-sts-secret")
	if _, err := fetchOne(t, newSource(Options{Credentials: Credentials{Type: "sts"}}), "kms:profile/db"); err == nil {
		t.Fatal("sts without ALIBABA_CLOUD_SECURITY_TOKEN succeeded")
	}
	t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "env-sts-token")
	for _, typ := range []string{"sts", "env", ""} {
		if v, err := fetchOne(t, newSource(Options{Credentials: Credentials{Type: typ}}), "kms:profile/db"); err != nil || v != canary {
			t.Fatalf("%q: %q %v", typ, v, err)
		}
	}
}

// TestChainFailsOnce: with no credentials anywhere, every reference fails
// with the chain's error, and the chain is walked once, not per reference.
func TestChainFailsOnce(t *testing.T) {
	tokens := cloud.Calls("metadata:token")
	src := newSource(Options{})
	res := src.Fetch(context.Background(), parse(t, "kms:a", "kms:b", "kms:c", "kms:d"))
	for _, r := range res {
		var credErr *CredentialError
		if !errors.As(r.Err, &credErr) || !strings.Contains(r.Err.Error(), "getting Alibaba Cloud credentials (credentials-go default chain): unable to get credentials from any of the providers in the chain") {
			t.Fatalf("err = %v", r.Err)
		}
	}
	if n := cloud.Calls("metadata:token") - tokens; n > 2 {
		t.Fatalf("the chain asked the metadata service %d times for one resolve", n)
	}
	if _, err := fetchOne(t, newSource(Options{Credentials: Credentials{Type: "nope"}}), "kms:a"); err == nil || !strings.Contains(err.Error(), `unknown credentials type "nope"`) {
		t.Fatalf("err = %v", err)
	}
}
