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
	"github.com/shroud-dev/shroud/internal/kmsfake"
	"github.com/shroud-dev/shroud/internal/must"
	"github.com/shroud-dev/shroud/policy"
	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/sources/alibaba"
)

// TestAlibabaPolicyIsExactlyEnough gives an AccessKey exactly the RAM
// policy Generate writes and resolves and polls every reference through
// the real KMS backend and SDK, against the fake's RAM evaluation; then
// removes each statement in turn and checks that the denials name exactly
// what that statement granted.
func TestAlibabaPolicyIsExactlyEnough(t *testing.T) {
	const region, keyID, keySecret = "cn-hangzhou", "LTAIpolicyTest0001", "policy-test-secret-0001"
	cloud, err := kmsfake.New(region)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cloud.Close)
	cloud.AddAccessKey(keyID, keySecret)
	cloud.Put(region, "prod/db", []byte(`{"password":"`+canary+`-db"}`))
	cloud.Put(region, "prod/api", []byte(canary+"-api"))
	cloud.Put(region, "prod/tls", []byte(canary+"-tls"))
	cloud.Put(region, "prod/old", []byte(canary+"-old"), kmsfake.WithVersionID("v1"))
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", keyID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", keySecret)
	t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "")

	config := fmt.Sprintf(`[alibaba]
region = %q
endpoint = %q
credentials = "env"
[rotation]
interval = "1h"
[[secrets]]
name = "DB_PASSWORD"
value_from = "kms:prod/db:password"
[[secrets]]
name = "API_KEY"
value_from = "kms:prod/api"
[[secrets]]
name = "TLS"
value_from = "acs:kms:%s:%s:secret/prod/tls"
[[secrets]]
name = "OLD"
value_from = "kms:prod/old:::v1"
`, region, cloud.URL(), region, cloud.Account)
	path := filepath.Join(t.TempDir(), "shroud.toml")
	must.Succeed(t, os.WriteFile(path, []byte(config), 0o600))
	refs, cfg := loadSpec(t, path, "", "")
	in := inputOf(refs, cfg, "")
	in.AlibabaAccount = cloud.Account // --account

	docs := policy.Generate(in)
	if len(docs) != 1 || docs[0].Cloud != policy.Alibaba {
		t.Fatalf("want one RAM policy:\n%s", render(t, docs))
	}
	checkGrammar(t, docs[0])
	reads := docs[0].Policy

	probe := func(t *testing.T) []policy.Denial {
		t.Helper()
		r := sources.NewResolver()
		r.Register(sources.KMS, kmsSource(cfg))
		ctx := context.Background()
		_, err := r.Resolve(ctx, refs)
		errs := append([]error{err}, policy.Poll(ctx, r, refs)...)
		denials := policy.Denials(in, errs, r)
		if strings.Contains(describe(denials), canary) {
			t.Fatalf("a denial quotes a value:\n%s", describe(denials))
		}
		return denials
	}
	if err := cloud.SetRAMPolicy(keyID, reads.JSON()); err != nil {
		t.Fatal(err)
	}
	listed := cloud.Calls("ListSecretVersionIds")
	if denials := probe(t); len(denials) > 0 {
		t.Fatalf("the generated policy is not enough:\n%s\n%s", describe(denials), render(t, docs))
	}
	if cloud.Calls("ListSecretVersionIds") == listed {
		t.Error("the polls did not list versions")
	}
	for j, s := range reads.Statement {
		t.Run(fmt.Sprintf("without %d %s", j, strings.Join(s.Action, "+")), func(t *testing.T) {
			if err := cloud.SetRAMPolicy(keyID, without(reads, j)); err != nil {
				t.Fatal(err)
			}
			denials := probe(t)
			if got, want := deniedGrants(denials), grantsOf(s, ""); !slices.Equal(got, want) {
				t.Errorf("denials name\n  %s\nwant what the statement granted\n  %s\ndenials:\n%s",
					strings.Join(got, "\n  "), strings.Join(want, "\n  "), describe(denials))
			}
		})
	}
}

// kmsSource is the KMS backend of a config, as shroud builds it, with a
// longer deadline.
func kmsSource(cfg *config.Config) *alibaba.Source {
	opts := cfg.Alibaba
	opts.Timeout = 10 * time.Second
	return alibaba.New(opts)
}
