package awsfake

import (
	"context"
	"errors"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// sdkConfig is an SDK configuration for the fake, signed with a key.
func sdkConfig(f *Fake, key, secret string) awssdk.Config {
	return awssdk.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		BaseEndpoint: awssdk.String(f.URL()),
		Retryer:      func() awssdk.Retryer { return awssdk.NopRetryer{} },
	}
}

// apiErr returns the code and message of an SDK error.
func apiErr(t *testing.T, err error) (string, string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

// TestIAMDenials checks what a principal with a policy meets, in the shapes
// the services answer: GetParameters fails whole for one denied name;
// BatchGetSecretValue lists the secrets it may not read in Errors; a
// customer-managed key needs kms:Decrypt; an explicit Deny wins.
func TestIAMDenials(t *testing.T) {
	f := New()
	defer f.Close()
	f.PutParameter("us-east-1", "/a", String, "value-a")
	f.PutParameter("us-east-1", "/b", String, "value-b")
	f.PutSecretString("us-east-1", "s1", "value-s1")
	f.PutSecretString("us-east-1", "s2", "value-s2")
	f.PutSecretString("us-east-1", "cmk", "value-cmk")
	f.SetSecretKey("us-east-1", "cmk", "key-1")
	key, secret := f.AddUser("app")
	err := f.SetPolicy(key, `{"Version": "2012-10-17", "Statement": [
	  {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": "arn:aws:ssm:us-east-1:123456789012:parameter/a"},
	  {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
	   "Resource": ["arn:aws:secretsmanager:us-east-1:123456789012:secret:s1-??????", "arn:aws:secretsmanager:us-east-1:123456789012:secret:cmk-??????"]},
	  {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"},
	  {"Effect": "Deny", "Action": "secretsmanager:DescribeSecret", "Resource": "*"}
	]}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := sdkConfig(f, key, secret)
	params := ssm.NewFromConfig(cfg)
	sm := secretsmanager.NewFromConfig(cfg)

	if _, err := params.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/a"}}); err != nil {
		t.Errorf("GetParameters of an allowed name: %v", err)
	}
	_, err = params.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/a", "/b"}})
	code, msg := apiErr(t, err)
	want := "User: arn:aws:iam::123456789012:user/app is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:us-east-1:123456789012:parameter/b because no identity-based policy allows the ssm:GetParameters action"
	if code != "AccessDeniedException" || msg != want {
		t.Errorf("GetParameters with a denied name: %s: %s", code, msg)
	}

	out, err := sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"s1", "s2", "cmk"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.SecretValues) != 1 || awssdk.ToString(out.SecretValues[0].Name) != "s1" || len(out.Errors) != 2 {
		t.Fatalf("BatchGetSecretValue: %d values, errors %+v", len(out.SecretValues), out.Errors)
	}
	for _, e := range out.Errors {
		id, code, msg := awssdk.ToString(e.SecretId), awssdk.ToString(e.ErrorCode), awssdk.ToString(e.Message)
		switch {
		case id == "s2" && code == "AccessDeniedException" && strings.Contains(msg, "perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:s2-"):
		case id == "cmk" && code == "AccessDeniedException" && msg == "Access to KMS is not allowed":
		default:
			t.Errorf("BatchGetSecretValue error entry %s: %s: %s", id, code, msg)
		}
	}

	_, err = sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String("s1")})
	if code, msg := apiErr(t, err); code != "AccessDeniedException" || !strings.HasSuffix(msg, "with an explicit deny in an identity-based policy") {
		t.Errorf("DescribeSecret under an explicit Deny: %s: %s", code, msg)
	}

	if err := f.SetPolicy(key, `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}}`); err != nil {
		t.Fatal(err)
	}
	_, err = sm.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"s1", "s2"}})
	if code, msg := apiErr(t, err); code != "AccessDeniedException" || !strings.Contains(msg, "secretsmanager:BatchGetSecretValue on resource: *") {
		t.Errorf("BatchGetSecretValue not allowed: %s: %s", code, msg)
	}
}

// TestIAMMetadata checks the calls a policy generator makes: the caller's
// identity, and the keys of secrets and parameters.
func TestIAMMetadata(t *testing.T) {
	f := New()
	defer f.Close()
	f.PutSecretString("us-east-1", "cmk", "value")
	f.SetSecretKey("us-east-1", "cmk", "key-1")
	f.PutSecretString("us-east-1", "managed", "value")
	f.PutParameter("us-east-1", "/p/cmk", SecureString, "value")
	f.SetParameterKey("us-east-1", "/p/cmk", "arn:aws:kms:us-east-1:123456789012:key/key-2")
	f.PutParameter("us-east-1", "/p/managed", SecureString, "value")
	f.PutParameter("us-east-1", "/p/plain", String, "value")
	ctx := context.Background()
	cfg := sdkConfig(f, AccessKeyID, SecretAccessKey)

	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || awssdk.ToString(id.Account) != Account || awssdk.ToString(id.Arn) != UserARN("test") {
		t.Errorf("GetCallerIdentity: %+v, %v", id, err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	for name, want := range map[string]string{"cmk": "arn:aws:kms:us-east-1:123456789012:key/key-1", "managed": ""} {
		out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(name)})
		if err != nil || awssdk.ToString(out.KmsKeyId) != want {
			t.Errorf("DescribeSecret(%s): KmsKeyId %q, %v; want %q", name, awssdk.ToString(out.KmsKeyId), err, want)
		}
	}
	out, err := ssm.NewFromConfig(cfg).DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{
		{Key: awssdk.String("Path"), Option: awssdk.String("Recursive"), Values: []string{"/p"}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range out.Parameters {
		got[awssdk.ToString(p.Name)] = awssdk.ToString(p.KeyId)
	}
	want := map[string]string{"/p/cmk": "arn:aws:kms:us-east-1:123456789012:key/key-2", "/p/managed": "alias/aws/ssm", "/p/plain": ""}
	if len(got) != len(want) {
		t.Errorf("DescribeParameters: %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("DescribeParameters: KeyId of %s is %q, want %q", k, got[k], v)
		}
	}
}

// TestTrustPolicy checks AssumeRole against a role's trust policy and the
// caller's own policy, as IAM decides it within one account.
func TestTrustPolicy(t *testing.T) {
	f := New()
	defer f.Close()
	role := "arn:aws:iam::123456789012:role/reader"
	key, secret := f.AddUser("app")
	client := sts.NewFromConfig(sdkConfig(f, key, secret))
	assume := func(ext string) error {
		in := &sts.AssumeRoleInput{RoleArn: awssdk.String(role), RoleSessionName: awssdk.String("s")}
		if ext != "" {
			in.ExternalId = awssdk.String(ext)
		}
		_, err := client.AssumeRole(context.Background(), in)
		return err
	}
	trustRoot := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
	  "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "x"}}}]}`
	if err := f.SetTrustPolicy(role, trustRoot); err != nil {
		t.Fatal(err)
	}
	f.SetPolicy(key, `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "`+role+`"}]}`)
	if err := assume("x"); err != nil {
		t.Errorf("trusted account, allowed caller: %v", err)
	}
	if err := assume("y"); err == nil {
		t.Error("a wrong external id was accepted")
	}
	f.SetPolicy(key, `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}`)
	err := assume("x")
	if code, msg := apiErr(t, err); code != "AccessDenied" || !strings.Contains(msg, "sts:AssumeRole on resource: "+role) {
		t.Errorf("a caller whose policy does not allow it: %s: %s", code, msg)
	}
	f.SetTrustPolicy(role, `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"AWS": "`+UserARN("app")+`"}, "Action": "sts:AssumeRole"}}`)
	if err := assume(""); err != nil {
		t.Errorf("a trust policy naming the caller needs no identity policy: %v", err)
	}
	f.SetTrustPolicy(role, "")
	if err := assume(""); err == nil {
		t.Error("an empty trust policy trusted someone")
	}
}
