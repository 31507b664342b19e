package aws

import (
	"context"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// What shroud policy asks AWS: metadata only, never a value.

// Identity returns the account and ARN of the session's credentials (STS
// GetCallerIdentity, which needs no permission): the role's, when the
// session assumes one.
func (s *Session) Identity(ctx context.Context) (account, arn string, err error) {
	ctx, cancel := s.withDeadline(ctx)
	defer cancel()
	cfg, err := s.config(ctx)
	if err != nil {
		return "", "", err
	}
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		if o.Region == "" {
			o.Region = "us-east-1" // the global endpoint's
		}
	})
	var out *sts.GetCallerIdentityOutput
	err = s.call(ctx, "GetCallerIdentity", func(ctx context.Context) (err error) {
		out, err = client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err
	})
	if err != nil {
		return "", "", err
	}
	return awssdk.ToString(out.Account), awssdk.ToString(out.Arn), nil
}

// DefaultRegion returns the region names resolve in (see Options.Region).
func (s *Session) DefaultRegion(ctx context.Context) (string, error) {
	return s.defaultRegion(ctx)
}

// SecretKey returns the customer-managed KMS key that encrypts a secret, as
// DescribeSecret's KmsKeyId gives it (a key id or ARN, or an alias); ""
// for the AWS managed key aws/secretsmanager.
func (s *Session) SecretKey(ctx context.Context, region, id string) (string, error) {
	ctx, cancel := s.withDeadline(ctx)
	defer cancel()
	client, err := s.smClient(ctx, region)
	if err != nil {
		return "", err
	}
	var out *secretsmanager.DescribeSecretOutput
	err = s.call(ctx, "DescribeSecret", func(ctx context.Context) (err error) {
		out, err = client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(id)})
		return err
	})
	if err != nil {
		return "", err
	}
	if k := awssdk.ToString(out.KmsKeyId); !awsManagedKey(k) {
		return k, nil
	}
	return "", nil
}

// ParameterKeys returns the KMS keys that encrypt the SecureString
// parameters named name, or under the path name (every depth), as
// DescribeParameters' KeyId gives them, sorted and once each. Parameters
// under the AWS managed key alias/aws/ssm are left out. A name with no
// parameter is an error.
func (s *Session) ParameterKeys(ctx context.Context, region, name string, path bool) ([]string, error) {
	ctx, cancel := s.withDeadline(ctx)
	defer cancel()
	client, err := s.ssmClient(ctx, region)
	if err != nil {
		return nil, err
	}
	filter := ssmtypes.ParameterStringFilter{Key: awssdk.String("Name"), Option: awssdk.String("Equals"), Values: []string{name}}
	if path {
		filter = ssmtypes.ParameterStringFilter{Key: awssdk.String("Path"), Option: awssdk.String("Recursive"), Values: []string{name}}
	}
	in := &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{filter}}
	var page *ssm.DescribeParametersOutput
	var keys []string
	found := 0
	for more := true; more; more = morePages(&in.NextToken, page.NextToken) {
		err := s.call(ctx, "DescribeParameters", func(ctx context.Context) (err error) {
			page, err = client.DescribeParameters(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, p := range page.Parameters {
			found++
			if k := awssdk.ToString(p.KeyId); p.Type == ssmtypes.ParameterTypeSecureString && !awsManagedKey(k) && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	if found == 0 && !path {
		return nil, notFound("DescribeParameters", codeParameterNotFound, "parameter "+name, region, false)
	}
	slices.Sort(keys)
	return keys, nil
}

// awsManagedKey reports whether a KeyId names an AWS managed key (aws/ssm,
// aws/secretsmanager), which needs no kms:Decrypt in an identity policy.
func awsManagedKey(k string) bool {
	return k == "" || strings.HasPrefix(k, "alias/aws/") || strings.Contains(k, ":alias/aws/")
}

// BatchRefused lists the regions where BatchGetSecretValue was refused
// (AccessDeniedException), so secrets were read one GetSecretValue call
// at a time instead.
func (src *SecretsManager) BatchRefused() []string {
	src.s.mu.Lock()
	defer src.s.mu.Unlock()
	var regions []string
	for r, refused := range src.s.noBatch {
		if refused {
			regions = append(regions, r)
		}
	}
	slices.Sort(regions)
	return regions
}
