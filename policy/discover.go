package policy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// lookups bounds the metadata calls in flight.
const lookups = 8

// Discover asks AWS, with the credentials of s, what the config alone
// cannot tell: the default region and the account when in has none, and
// the customer-managed KMS keys of every AWS reference (DescribeSecret's
// KmsKeyId, DescribeParameters' KeyId: metadata, never values). What it
// cannot learn stays unknown, for a placeholder to stand for; each failure
// is a note.
func Discover(ctx context.Context, s *awssrc.Session, in *Input) (notes []string) {
	if !slices.ContainsFunc(in.Refs, isAWS) {
		return nil
	}
	account, _, err := s.Identity(ctx)
	if err != nil {
		return []string{fmt.Sprintf("no AWS lookups (%v): placeholders stand for what they would tell", err)}
	}
	in.Account = cmp.Or(in.Account, account)
	if in.Region == "" {
		region, err := s.DefaultRegion(ctx)
		if err != nil {
			notes = append(notes, fmt.Sprintf("could not look up the default AWS region: %v", err))
		}
		in.Region = region
	}
	named := map[sources.Ref]sources.Ref{} // object -> a reference reading it
	var objs []sources.Ref
	for _, ref := range in.Refs {
		if obj := ref.Object(); isAWS(ref) && named[obj].Backend == "" {
			named[obj] = ref
			objs = append(objs, obj)
		}
	}
	keys := make([][]string, len(objs))
	errs := make([]error, len(objs))
	sem := make(chan struct{}, lookups)
	var wg sync.WaitGroup
	for i, obj := range objs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			keys[i], errs[i] = in.lookupKeys(ctx, s, obj)
		})
	}
	wg.Wait()
	if in.Keys == nil {
		in.Keys = map[sources.Ref][]string{}
	}
	for i, obj := range objs {
		if errs[i] != nil {
			notes = append(notes, fmt.Sprintf("could not look up the KMS key of %s: %v", named[obj].Raw, errs[i]))
			continue
		}
		in.Keys[obj] = keys[i]
	}
	return notes
}

// lookupKeys asks for the customer-managed keys of one AWS object.
func (in *Input) lookupKeys(ctx context.Context, s *awssrc.Session, ref sources.Ref) ([]string, error) {
	region := cmp.Or(ref.Region, in.Region)
	if region == "" {
		return nil, fmt.Errorf("no default AWS region")
	}
	secret := ""
	switch ref.Backend {
	case sources.SSMPath:
		return s.ParameterKeys(ctx, region, ref.ID, true)
	case sources.SecretsManager:
		secret = ref.ID
	case sources.SSM:
		name, ok := strings.CutPrefix(ref.Name, secretsReference)
		if !ok {
			return s.ParameterKeys(ctx, region, ref.Name, false)
		}
		secret = name
	}
	k, err := s.SecretKey(ctx, region, secret)
	if err != nil || k == "" {
		return nil, err
	}
	return []string{k}, nil
}
