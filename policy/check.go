package policy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-multierror"

	"github.com/shroud-dev/shroud/sources"
	"github.com/shroud-dev/shroud/sources/alibaba"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// Denial is a permission that refused calls lacked: the action, the
// resources to allow it on, and the references that need it. It never
// holds a value.
type Denial struct {
	Action    string
	Resources []string
	// Refs are the references as written, or what a call served for many
	// ("secrets in us-east-1").
	Refs []string
	// Note says what shroud did instead, when it worked around the refusal.
	Note string
}

func (d Denial) String() string {
	s := fmt.Sprintf("%s: denied %s on %s", strings.Join(d.Refs, ", "), d.Action, strings.Join(d.Resources, " and "))
	if d.Note != "" {
		s += " (" + d.Note + ")"
	}
	return s
}

// Poll asks each backend for the versions of refs, as rotation's polls
// do: DescribeSecret, ListSecretVersionIds, GetParameters,
// GetParametersByPath. Pinned and local references are never polled. It
// returns the failures, each a *sources.Error.
func Poll(ctx context.Context, r *sources.Resolver, refs []sources.Ref) []error {
	byBackend := map[sources.Backend][]sources.Ref{}
	named := map[sources.Ref]sources.Ref{} // object -> a reference reading it
	for _, ref := range refs {
		obj := ref.Object()
		if _, seen := named[obj]; seen || ref.Pinned() || ref.Backend == sources.Env || ref.Backend == sources.File {
			continue
		}
		named[obj] = ref
		byBackend[ref.Backend] = append(byBackend[ref.Backend], obj)
	}
	var errs []error
	for _, b := range slices.Sorted(maps.Keys(byBackend)) {
		src, _ := r.Source(b)
		v, ok := src.(sources.Versioner)
		if !ok {
			continue
		}
		objs := byBackend[b]
		for i, res := range v.Versions(ctx, objs) {
			if res.Err != nil {
				ref := named[objs[i]]
				errs = append(errs, &sources.Error{Ref: ref, Region: cmp.Or(res.Value.Region, ref.Region), Err: res.Err})
			}
		}
	}
	return errs
}

// Denials names the permission behind every refused call among errs (the
// failures of resolving and of Poll, *sources.Error each, or multierrors
// of them), and behind every refused call the resolver's sources worked
// around: BatchGetSecretValue (read one secret at a time instead) and
// ListSecretVersionIds (polled with GetSecretValue). Failures that are not
// refusals are left out. The resources are those Generate grants.
func Denials(in Input, errs []error, r *sources.Resolver) []Denial {
	found := map[string]*Denial{}
	add := func(action string, resources []string, who, note string) {
		key := action + " " + strings.Join(resources, " ")
		d := found[key]
		if d == nil {
			d = &Denial{Action: action, Resources: resources, Note: note}
			found[key] = d
		}
		if !slices.Contains(d.Refs, who) {
			d.Refs = append(d.Refs, who)
		}
	}
	for _, err := range flatten(errs) {
		var se *sources.Error
		if !errors.As(err, &se) {
			continue
		}
		action, resources, note, ok := in.refusal(se)
		switch {
		case !ok:
		case action == "sts:AssumeRole":
			add(action, resources, "[aws] role_arn", note) // every AWS reference failed so
		default:
			add(action, resources, se.Ref.Raw, note)
		}
	}
	if src, ok := r.Source(sources.SecretsManager); ok {
		if sm, ok := src.(*awssrc.SecretsManager); ok {
			for _, region := range sm.BatchRefused() {
				add("secretsmanager:BatchGetSecretValue", []string{"*"}, "secrets in "+region, "shroud read them with one GetSecretValue call each instead")
			}
		}
	}
	if src, ok := r.Source(sources.KMS); ok {
		if k, ok := src.(*alibaba.Source); ok && k.ListRefused() {
			for _, ref := range in.Refs {
				if ref.Backend == sources.KMS && !ref.Pinned() {
					add("kms:ListSecretVersionIds", []string{in.kmsARN(ref)}, ref.Raw, "rotation polls read values with GetSecretValue instead")
				}
			}
		}
	}
	out := make([]Denial, 0, len(found))
	for _, d := range found {
		slices.Sort(d.Refs)
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Denial) int {
		if d := rank([]string{a.Action}) - rank([]string{b.Action}); d != 0 {
			return d
		}
		return cmp.Or(strings.Compare(a.Action, b.Action), slices.Compare(a.Resources, b.Resources))
	})
	return out
}

// flatten opens multierrors.
func flatten(errs []error) []error {
	var out []error
	for _, err := range errs {
		var merr *multierror.Error
		if errors.As(err, &merr) {
			out = append(out, flatten(merr.Errors)...)
		} else if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// refusal names the permission a failed reference lacked, if the failure
// is a refusal.
func (in Input) refusal(se *sources.Error) (action string, resources []string, note string, ok bool) {
	if in.Region == "" && se.Ref.Region == "" && se.Ref.Backend != sources.KMS {
		in.Region = se.Region // the default region the backend asked
	}
	in.Polls = true // name DescribeSecret and ListSecretVersionIds too
	var ce *awssrc.CallError
	var ae *alibaba.APIError
	switch {
	case errors.As(se.Err, &ae):
		if !strings.Contains(ae.Code, "NoPermission") && !strings.HasPrefix(ae.Code, "Forbidden.RAM") {
			return "", nil, "", false
		}
		return "kms:" + ae.Action, []string{in.kmsARN(se.Ref)}, "", true
	case errors.As(se.Err, &ce):
		return in.awsRefusal(se.Ref, ce)
	}
	return "", nil, "", false
}

// awsRefusal names the permission behind an AWS refusal: STS's
// AccessDenied of AssumeRole, or AccessDeniedException of Parameter Store
// and Secrets Manager, for the call itself or for the KMS key of what it
// read.
func (in Input) awsRefusal(ref sources.Ref, ce *awssrc.CallError) (string, []string, string, bool) {
	switch {
	case ce.Code == "AccessDenied" && in.RoleARN != "":
		return "sts:AssumeRole", []string{in.RoleARN}, "shroud's own credentials need it, and the role's trust policy must trust them", true
	case ce.Code != "AccessDeniedException" && ce.Code != "AccessDenied":
		return "", nil, "", false
	case kmsRefusal(ce.Message):
		var keys []string
		for _, g := range in.awsNeeds(ref) {
			if g.action == "kms:Decrypt" {
				keys = append(keys, g.resource)
			}
		}
		if len(keys) == 0 {
			subject := in.awsNeeds(ref)[0].resource
			return "kms:Decrypt", []string{"the customer-managed KMS key of " + subject}, "shroud policy names the key, with credentials that may describe it", true
		}
		return "kms:Decrypt", keys, "", true
	}
	action := deniedAction(ce)
	var resources []string
	for _, g := range in.awsNeeds(ref) {
		if g.action == action {
			resources = append(resources, g.resource)
		}
	}
	return action, resources, "", len(resources) > 0
}

// kmsRefusal reports whether an AccessDeniedException is KMS's: the
// caller may not use the key that encrypts the value.
func kmsRefusal(msg string) bool {
	return strings.Contains(msg, "Access to KMS is not allowed") || strings.Contains(msg, "Service: AWSKMS") ||
		strings.Contains(msg, "perform: kms:")
}

// deniedAction is the action AWS names in its message ("is not authorized
// to perform: ACTION on resource"), else the one the call needs.
func deniedAction(ce *awssrc.CallError) string {
	if _, rest, ok := strings.Cut(ce.Message, "perform: "); ok {
		if action, _, ok := strings.Cut(rest, " "); ok && strings.Contains(action, ":") {
			return action
		}
	}
	switch ce.Op {
	case "GetParameters":
		return "ssm:GetParameters"
	case "GetParametersByPath":
		return "ssm:GetParametersByPath"
	case "DescribeSecret":
		return "secretsmanager:DescribeSecret"
	}
	return "secretsmanager:GetSecretValue" // GetSecretValue, or one secret of BatchGetSecretValue
}
