package policy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/internal/awsfake"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/policy"
	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

const (
	canary     = "canary-policy-Vq8Lk2"
	roleARN    = "arn:aws:iam::" + awsfake.Account + ":role/secrets-reader"
	externalID = "ext-42"
)

// awsWorld is a fake AWS holding every kind of object a config reads, some
// under customer-managed keys, and a user "app" for shroud's own
// credentials; profiles "app" and "admin" (the fake's unrestricted key)
// select them.
type awsWorld struct {
	fake   *awsfake.Fake
	config string // a config reading all of it through roleARN
}

func newAWSWorld(t *testing.T) *awsWorld {
	t.Helper()
	f := awsfake.New()
	t.Cleanup(f.Close)
	east, west := "us-east-1", "eu-west-1"
	f.PutParameter(east, "/prod/app/db/url", awsfake.SecureString, canary+"-url")
	f.SetParameterKey(east, "/prod/app/db/url", "key-path")
	f.PutParameter(east, "/prod/app/flag", awsfake.String, "on")
	f.PutParameter(east, "/prod/api/key", awsfake.SecureString, canary+"-api")
	f.SetParameterKey(east, "/prod/api/key", "key-api")
	f.PutParameter(east, "plain", awsfake.String, "plain")
	f.PutParameter(west, "/shared/fx", awsfake.String, "fx")
	f.PutSecretString(east, "prod/db", `{"password":"`+canary+`-db"}`)
	f.SetSecretKey(east, "prod/db", "key-db")
	f.PutSecretString(east, "prod/cache", `{"url":"`+canary+`-old"}`)
	f.PutSecretString(east, "prod/cache", `{"url":"`+canary+`-new"}`)
	tls, _ := f.PutSecretString(east, "prod/tls", canary+"-tls")
	old, oldVersion := f.PutSecretString(east, "prod/old", canary+"-pinned")
	f.PutSecretString(east, "prod/legacy", canary+"-legacy")
	westDB, _ := f.PutSecretString(west, "west/db", canary+"-west")

	appKey, appSecret := f.AddUser("app")
	dir := t.TempDir()
	creds := fmt.Sprintf("[app]\naws_access_key_id = %s\naws_secret_access_key = %s\n[admin]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		appKey, appSecret, awsfake.AccessKeyID, awsfake.SecretAccessKey)
	credsFile := filepath.Join(dir, "credentials")
	must.Succeed(t, os.WriteFile(credsFile, []byte(creds), 0o600))
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": f.URL(), "AWS_SHARED_CREDENTIALS_FILE": credsFile, "AWS_CONFIG_FILE": "/nonexistent/aws-config",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": east, "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_MAX_ATTEMPTS": "",
		"ECS_CONTAINER_METADATA_URI_V4": "",
	} {
		t.Setenv(k, v)
	}

	partial := strings.TrimSuffix(old, old[len(old)-7:])
	config := fmt.Sprintf(`region = "us-east-1"
[aws]
profile = "app"
role_arn = %q
external_id = %q
[rotation]
interval = "1h"
[[env_from]]
path = "/prod/app/"
prefix = "APP_"
[[secrets]]
name = "DB_PASSWORD"
value_from = "sm:prod/db:password"
[[secrets]]
name = "CACHE"
value_from = "sm:prod/cache:url"
[[secrets]]
name = "CACHE_PREVIOUS"
value_from = "sm:prod/cache:url:AWSPREVIOUS"
[[secrets]]
name = "TLS"
value_from = %q
[[secrets]]
name = "OLD"
value_from = "%s:::%s"
[[secrets]]
name = "WEST"
value_from = %q
[[secrets]]
name = "API_KEY"
value_from = "/prod/api/key"
[[secrets]]
name = "PLAIN"
value_from = "plain"
[[secrets]]
name = "FX"
value_from = "arn:aws:ssm:eu-west-1:%s:parameter/shared/fx"
[[secrets]]
name = "LEGACY"
value_from = "/aws/reference/secretsmanager/prod/legacy"
`, roleARN, externalID, tls, partial, oldVersion, westDB, awsfake.Account)
	path := filepath.Join(dir, "shroud.toml")
	must.Succeed(t, os.WriteFile(path, []byte(config), 0o600))
	return &awsWorld{fake: f, config: path}
}

// attach gives the documents to their principals: the reading policy to
// the role, the trust policy to the role, the assume policy to app.
func (w *awsWorld) attach(t *testing.T, reads, trust, assume string) {
	t.Helper()
	if err := w.fake.SetPolicy(roleARN, reads); err != nil {
		t.Fatal(err)
	}
	if err := w.fake.SetTrustPolicy(roleARN, trust); err != nil {
		t.Fatal(err)
	}
	if err := w.fake.SetPolicy(awsfake.UserARN("app"), assume); err != nil {
		t.Fatal(err)
	}
}

// probe resolves every reference as shroud check --permissions does, with
// fresh backends and app's credentials: values, then the versions rotation
// polls. It returns the denials.
func probe(t *testing.T, in policy.Input, cfg *config.Config) []policy.Denial {
	t.Helper()
	r := sources.NewResolver()
	awssrc.New(awssrc.Options{Profile: cfg.AWS.Profile, RoleARN: cfg.AWS.RoleARN, ExternalID: cfg.AWS.ExternalID,
		Timeout: 10 * time.Second}).Register(r)
	ctx := context.Background()
	_, err := r.Resolve(ctx, in.Refs)
	errs := append([]error{err}, policy.Poll(ctx, r, in.Refs)...)
	denials := policy.Denials(in, errs, r)
	if strings.Contains(describe(denials), canary) {
		t.Fatalf("a denial quotes a value:\n%s", describe(denials))
	}
	return denials
}

// TestAWSPolicyIsExactlyEnough gives the role, its trust and shroud's own
// credentials exactly the policies Generate writes (keys looked up by
// Discover) and resolves everything through the real AWS backend and SDK,
// against the fake's IAM evaluation; then removes each statement in turn
// and checks that the denials name exactly what that statement granted.
func TestAWSPolicyIsExactlyEnough(t *testing.T) {
	w := newAWSWorld(t)
	refs, cfg := loadSpec(t, w.config, "", "")
	in := inputOf(refs, cfg, "")
	if notes := policy.Discover(context.Background(), awssrc.New(awssrc.Options{Profile: "admin"}), &in); len(notes) > 0 {
		t.Fatalf("lookups failed: %q", notes)
	}
	docs := policy.Generate(in)
	if len(docs) != 3 {
		t.Fatalf("%d documents, want the reading policy, the trust policy and the assume policy:\n%s", len(docs), render(t, docs))
	}
	for _, d := range docs {
		checkGrammar(t, d)
	}
	text := render(t, docs)
	for _, want := range []string{"key/key-db", "key/key-api", "key/key-path", "secretsmanager:BatchGetSecretValue", "secretsmanager:DescribeSecret", "ssm:GetParametersByPath", `"sts:ExternalId": "ext-42"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the policies lack %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "KEY_ID") || strings.Contains(text, "ACCOUNT_ID") {
		t.Errorf("placeholders left although AWS was asked:\n%s", text)
	}

	reads, trust, assume := docs[0].Policy, docs[1].Policy, docs[2].Policy
	w.attach(t, reads.JSON(), trust.JSON(), assume.JSON())
	w.fake.Reset()
	if denials := probe(t, in, cfg); len(denials) > 0 {
		t.Fatalf("the generated policies are not enough:\n%s\n%s", describe(denials), text)
	}
	if w.fake.Count("secretsmanager.BatchGetSecretValue", "") == 0 || w.fake.Count("secretsmanager.DescribeSecret", "") == 0 {
		t.Errorf("calls: %v; the batch and the polls were not exercised", w.fake.Counts())
	}

	for i, doc := range docs {
		for j, s := range doc.Policy.Statement {
			t.Run(fmt.Sprintf("without %d.%d %s", i, j, strings.Join(s.Action, "+")), func(t *testing.T) {
				docsNow := []string{reads.JSON(), trust.JSON(), assume.JSON()}
				docsNow[i] = without(doc.Policy, j)
				w.attach(t, docsNow[0], docsNow[1], docsNow[2])
				denials := probe(t, in, cfg)
				if got, want := deniedGrants(denials), grantsOf(s, roleARN); !slices.Equal(got, want) {
					t.Errorf("denials name\n  %s\nwant what the statement granted\n  %s\ndenials:\n%s",
						strings.Join(got, "\n  "), strings.Join(want, "\n  "), describe(denials))
				}
			})
		}
	}
}
