package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/shroud-dev/shroud/sources"
)

// ssmBatch is the most names GetParameters takes in one call.
const ssmBatch = 10

// ssmParallel bounds the GetParameters calls in flight; 100 references
// make 10 calls, all at once.
const ssmParallel = 32

// SSM is the Parameter Store source. It reads every reference with
// GetParameters (decrypted), ten names a call, and makes the calls of every
// region at once.
type SSM struct{ s *Session }

// ssmCall is one GetParameters call: up to ten references of one region.
type ssmCall struct {
	region string
	refs   []sources.Ref
	idx    []int
}

// Fetch implements sources.Source.
func (src *SSM) Fetch(ctx context.Context, refs []sources.Ref) []sources.Result {
	ctx, cancel := src.s.withDeadline(ctx)
	defer cancel()
	out := make([]sources.Result, len(refs))
	var calls []ssmCall
	for _, g := range src.s.plan(ctx, refs, out) {
		calls = append(calls, splitSSM(g)...)
	}
	parallel(ssmParallel, len(calls), func(i int) { src.getParameters(ctx, calls[i], out) })
	return out
}

// Versions implements sources.Versioner. Parameter Store has no cheaper
// read than GetParameters, so it is Fetch: the values come along with the
// versions, at one call per ten references.
func (src *SSM) Versions(ctx context.Context, refs []sources.Ref) []sources.Result {
	return src.Fetch(ctx, refs)
}

// splitSSM cuts a region's references into calls of at most ten names. Two
// references that the answer could not tell apart (the same name and
// selector, e.g. by name and by ARN) go to different calls.
func splitSSM(g *group) []ssmCall {
	var calls []ssmCall
	var keys []map[string]bool
	for i, ref := range g.refs {
		k := paramKey(ref.Name, ref.Selector)
		c := 0
		for c < len(calls) && (len(calls[c].refs) == ssmBatch || keys[c][k]) {
			c++
		}
		if c == len(calls) {
			calls = append(calls, ssmCall{region: g.region})
			keys = append(keys, map[string]bool{})
		}
		calls[c].refs = append(calls[c].refs, ref)
		calls[c].idx = append(calls[c].idx, g.idx[i])
		keys[c][k] = true
	}
	return calls
}

// paramKey identifies a parameter in an answer: its normalized name (an ARN
// is reduced to it, DESIGN §4) and the selector without its colon.
func paramKey(name, selector string) string {
	if strings.HasPrefix(name, "arn:") {
		if ref, err := sources.Parse(name); err == nil && ref.Backend == sources.SSM {
			name = ref.Name
		}
	}
	return name + "\x00" + strings.TrimPrefix(selector, ":")
}

func (src *SSM) getParameters(ctx context.Context, c ssmCall, out []sources.Result) {
	fail := func(err error) {
		for _, i := range c.idx {
			out[i] = sources.Result{Err: err, Value: sources.Value{Region: c.region}}
		}
	}
	client, err := src.s.ssmClient(ctx, c.region)
	if err != nil {
		fail(err)
		return
	}
	names := make([]string, len(c.refs))
	for i, ref := range c.refs {
		names[i] = ref.ID
	}
	var resp *ssm.GetParametersOutput
	err = src.s.call(ctx, "GetParameters", func(ctx context.Context) (err error) {
		resp, err = client.GetParameters(ctx, &ssm.GetParametersInput{Names: names, WithDecryption: awssdk.Bool(true)})
		return err
	})
	if err != nil {
		if ce, ok := err.(*CallError); ok && ce.Code == "AccessDeniedException" && len(c.refs) > 1 {
			// IAM denies the whole call for one name it may not read: ask
			// for each name alone, so only the denied ones fail.
			parallel(ssmParallel, len(c.refs), func(i int) {
				src.getParameters(ctx, ssmCall{region: c.region, refs: c.refs[i : i+1], idx: c.idx[i : i+1]}, out)
			})
			return
		}
		fail(err)
		return
	}
	found := make(map[string]*ssmtypes.Parameter, len(resp.Parameters))
	for i := range resp.Parameters {
		p := &resp.Parameters[i]
		found[paramKey(awssdk.ToString(p.Name), awssdk.ToString(p.Selector))] = p
	}
	invalid := make(map[string]bool, len(resp.InvalidParameters))
	for _, name := range resp.InvalidParameters {
		invalid[name] = true
	}
	for j, ref := range c.refs {
		i := c.idx[j]
		p, ok := found[paramKey(ref.Name, ref.Selector)]
		if !ok {
			ce := notFound("GetParameters", codeParameterNotFound, describeParam(ref), c.region, ref.Region == "")
			if !invalid[ref.ID] {
				ce.Message += " (the answer listed it neither in Parameters nor in InvalidParameters)"
			}
			out[i] = sources.Result{Err: ce, Value: sources.Value{Region: c.region}}
			continue
		}
		out[i] = sources.Result{Value: sources.Value{
			Data:    []byte(awssdk.ToString(p.Value)),
			Version: paramVersion(p),
			Region:  c.region,
		}}
	}
}

func describeParam(ref sources.Ref) string {
	what := "parameter " + ref.Name
	switch {
	case ref.Selector == "":
	case isNumber(ref.Selector):
		what = fmt.Sprintf("version %s of %s", ref.Selector, what)
	default:
		what = fmt.Sprintf("label %q of %s", ref.Selector, what)
	}
	return what
}

// paramVersion is the parameter's version number; for a Secrets Manager
// secret read through /aws/reference/secretsmanager/, the secret's version
// id from SourceResult.
func paramVersion(p *ssmtypes.Parameter) string {
	if p.Version > 0 {
		return strconv.FormatInt(p.Version, 10)
	}
	var src struct {
		VersionID string `json:"VersionId"`
	}
	if json.Unmarshal([]byte(awssdk.ToString(p.SourceResult)), &src) == nil {
		return src.VersionID
	}
	return ""
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 63)
	return err == nil
}

// SSMPath is the source of SSM path listings (sources.SSMPath): every
// parameter under a path, recursively and decrypted, with
// GetParametersByPath, ten a page.
type SSMPath struct{ s *Session }

// Fetch implements sources.Source: each path's value is a JSON object of
// the parameters under it, keyed by their names relative to the path. A
// path with no parameters is an error: it is most likely a typo.
func (src *SSMPath) Fetch(ctx context.Context, refs []sources.Ref) []sources.Result {
	ctx, cancel := src.s.withDeadline(ctx)
	defer cancel()
	out := make([]sources.Result, len(refs))
	groups := src.s.plan(ctx, refs, out)
	type job struct {
		region string
		ref    sources.Ref
		i      int
	}
	var jobs []job
	for _, g := range groups {
		for j, ref := range g.refs {
			jobs = append(jobs, job{g.region, ref, g.idx[j]})
		}
	}
	parallel(ssmParallel, len(jobs), func(k int) {
		j := jobs[k]
		v, err := src.list(ctx, j.region, j.ref.ID)
		out[j.i] = sources.Result{Value: v, Err: err}
		out[j.i].Value.Region = j.region
	})
	return out
}

// Versions implements sources.Versioner; a listing has no cheaper read.
func (src *SSMPath) Versions(ctx context.Context, refs []sources.Ref) []sources.Result {
	return src.Fetch(ctx, refs)
}

func (src *SSMPath) list(ctx context.Context, region, path string) (sources.Value, error) {
	client, err := src.s.ssmClient(ctx, region)
	if err != nil {
		return sources.Value{}, err
	}
	prefix := strings.TrimSuffix(path, "/") + "/"
	values := map[string]string{}
	versions := map[string]int64{}
	in := &ssm.GetParametersByPathInput{
		Path:           awssdk.String(path),
		Recursive:      awssdk.Bool(true),
		WithDecryption: awssdk.Bool(true),
		MaxResults:     awssdk.Int32(ssmBatch),
	}
	var page *ssm.GetParametersByPathOutput
	for more := true; more; more = morePages(&in.NextToken, page.NextToken) {
		err := src.s.call(ctx, "GetParametersByPath", func(ctx context.Context) (err error) {
			page, err = client.GetParametersByPath(ctx, in)
			return err
		})
		if err != nil {
			return sources.Value{}, err
		}
		for _, p := range page.Parameters {
			name := awssdk.ToString(p.Name)
			rel := strings.TrimPrefix(name, prefix)
			values[rel] = awssdk.ToString(p.Value)
			versions[rel] = p.Version
		}
	}
	if len(values) == 0 {
		return sources.Value{}, &CallError{Op: "GetParametersByPath",
			Message: fmt.Sprintf("no parameter under %s in %s, the default region", path, region),
			Hint:    "check the path and the region; a listing reads the default region only"}
	}
	data, err := json.Marshal(values)
	if err != nil {
		return sources.Value{}, fmt.Errorf("encoding the listing: %w", err)
	}
	return sources.Value{Data: data, Version: listingVersion(versions)}, nil
}

// listingVersion digests the names and version numbers (never the values)
// of a listing, so it changes when a parameter is added, removed or
// updated.
func listingVersion(versions map[string]int64) string {
	names := make([]string, 0, len(versions))
	for n := range versions {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\n", n, versions[n])
	}
	return "list-" + hex.EncodeToString(h.Sum(nil))[:16]
}
