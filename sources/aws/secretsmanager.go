package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/shroud-dev/shroud/sources"
)

// smBatch is the most secrets BatchGetSecretValue takes in one call.
const smBatch = 20

// currentStage is the staging label a reference without stage or version
// reads.
const currentStage = "AWSCURRENT"

// SecretsManager is the Secrets Manager source.
//
// In each region, secrets read at AWSCURRENT go in BatchGetSecretValue
// calls of up to 20 and the others (a version stage or id) in single
// GetSecretValue calls, all at once: one round trip. A batch call is never
// retried: when it fails (throttled, as its quota is 100 times lower than
// GetSecretValue's; denied; a 5xx) its secrets are read with GetSecretValue,
// at most Options.Parallel at a time per region, with the SDK's retries.
// docs/aws.md has the arithmetic.
type SecretsManager struct{ s *Session }

// Fetch implements sources.Source.
func (src *SecretsManager) Fetch(ctx context.Context, refs []sources.Ref) []sources.Result {
	ctx, cancel := src.s.withDeadline(ctx)
	defer cancel()
	out := make([]sources.Result, len(refs))
	groups := src.s.plan(ctx, refs, out)
	parallel(len(groups), len(groups), func(i int) { src.fetchRegion(ctx, groups[i], out, false) })
	return out
}

// fetchRegion reads one region's secrets. A poll's batches wait their turn
// in the batch quota instead of falling back to single reads: a poll has
// no start-up to hurry, and single reads would cost a call per secret.
func (src *SecretsManager) fetchRegion(ctx context.Context, g *group, out []sources.Result, poll bool) {
	client, err := src.s.smClient(ctx, g.region)
	if err != nil {
		for _, i := range g.idx {
			out[i] = sources.Result{Err: err, Value: sources.Value{Region: g.region}}
		}
		return
	}
	src.s.mu.Lock()
	noBatch := src.s.noBatch[g.region]
	src.s.mu.Unlock()

	users, chunks, singles := planReads(g.refs, noBatch)
	set := func(r smRead, res sources.Result) {
		res.Value.Region = g.region
		for _, j := range users[r] {
			out[g.idx[j]] = res
		}
	}
	sem := make(chan struct{}, src.s.opts.Parallel)
	var wg sync.WaitGroup
	single := func(r smRead) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			set(r, src.getSecretValue(ctx, client, g.region, g.refs[users[r][0]]))
		})
	}
	for _, r := range singles {
		single(r)
	}
	for _, ids := range chunks {
		wg.Go(func() {
			results, fallback, probe := src.batchGet(ctx, client, g.region, ids, poll)
			for id, res := range results {
				set(smRead{id: id}, res)
			}
			if probe && len(fallback) > 1 {
				// The batch failed on the service's side (a 5xx, no
				// answer): one read alone tells whether the service
				// answers before the others try, so an outage costs a
				// wrapper one read's retries, not every secret's.
				first := src.getSecretValue(ctx, client, g.region, g.refs[users[smRead{id: fallback[0]}][0]])
				set(smRead{id: fallback[0]}, first)
				if first.Err != nil && !perSecret(first.Err) {
					for _, id := range fallback[1:] {
						set(smRead{id: id}, sources.Result{Err: first.Err})
					}
					return
				}
				fallback = fallback[1:]
			}
			for _, id := range fallback {
				single(smRead{id: id})
			}
		})
	}
	wg.Wait()
}

// smRead is one distinct read of a secret: references that differ only in
// their JSON key, or in how they name AWSCURRENT ("sm:x" and
// "sm:x::AWSCURRENT:"), share it.
type smRead struct{ id, stage, version string }

// planReads groups a region's references into distinct reads: users maps
// each read to the positions of its references; reads of the current
// version go in chunks of up to smBatch for BatchGetSecretValue (unless
// noBatch), the others are singles for GetSecretValue.
func planReads(refs []sources.Ref, noBatch bool) (users map[smRead][]int, chunks [][]string, singles []smRead) {
	users = map[smRead][]int{}
	var batchIDs []string
	for j, ref := range refs {
		r := smRead{ref.ID, ref.Stage, ref.VersionID}
		if r.version == "" && r.stage == currentStage {
			r.stage = ""
		}
		if _, ok := users[r]; !ok {
			if r.stage == "" && r.version == "" && !noBatch {
				batchIDs = append(batchIDs, r.id)
			} else {
				singles = append(singles, r)
			}
		}
		users[r] = append(users[r], j)
	}
	for len(batchIDs) > 0 {
		n := min(smBatch, len(batchIDs))
		if n == 1 {
			// A batch of one saves no call and spends the low batch quota.
			singles = append(singles, smRead{id: batchIDs[0]})
		} else {
			chunks = append(chunks, batchIDs[:n])
		}
		batchIDs = batchIDs[n:]
	}
	return users, chunks, singles
}

// batchGet reads ids with BatchGetSecretValue, following NextToken. It
// returns a result for each id it settled and the ids to read one by one
// instead: all of them when the call failed in a way single reads may not
// (throttled, denied, a server error), or those whose entry in Errors is
// such a failure. probe says the call failed on the service's side, where
// single reads may well fail too.
func (src *SecretsManager) batchGet(ctx context.Context, client *smAPI, region string, ids []string, poll bool) (results map[string]sources.Result, fallback []string, probe bool) {
	var (
		values []smtypes.SecretValueEntry
		errs   []smtypes.APIErrorType
		token  *string
	)
	once := func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 } // the fallback is the retry
	if poll {
		once = func(*secretsmanager.Options) {} // the normal retries, then the poll fails
	}
	for {
		var (
			resp *secretsmanager.BatchGetSecretValueOutput
			raw  error
		)
		err := src.s.call(ctx, "BatchGetSecretValue", func(ctx context.Context) (err error) {
			resp, err = client.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids, NextToken: token}, once)
			raw = err
			return err
		})
		if err != nil {
			var ce *CallError
			if errors.As(err, &ce) && ce.Code == "AccessDeniedException" {
				src.s.mu.Lock()
				src.s.noBatch[region] = true
				src.s.mu.Unlock()
			}
			if ctx.Err() != nil || !fallsBack(ce, raw) || (poll && ce.Code != "AccessDeniedException") {
				results := map[string]sources.Result{}
				for _, id := range ids {
					results[id] = sources.Result{Err: err}
				}
				return results, nil, false
			}
			_, throttled := retry.DefaultThrottleErrorCodes[ce.Code]
			return nil, ids, !throttled && ce.Code != "AccessDeniedException"
		}
		values = append(values, resp.SecretValues...)
		errs = append(errs, resp.Errors...)
		token = resp.NextToken
		if awssdk.ToString(token) == "" {
			break
		}
	}
	results, fallback = batchResults(region, ids, values, errs)
	return results, fallback, false
}

// batchResults settles each id from a BatchGetSecretValue answer: its
// value, its per-secret error, or a place in fallback when its error is
// one a single read may not meet.
func batchResults(region string, ids []string, values []smtypes.SecretValueEntry, errs []smtypes.APIErrorType) (results map[string]sources.Result, fallback []string) {
	results = map[string]sources.Result{}
	wanted := make(map[string]bool, len(ids))
	for _, id := range ids {
		wanted[id] = true
	}
	for _, v := range values {
		arn, name := awssdk.ToString(v.ARN), awssdk.ToString(v.Name)
		for _, key := range []string{arn, name, partialARN(arn)} {
			if wanted[key] {
				results[key] = secretResult(v.SecretString, v.SecretBinary, v.VersionId)
			}
		}
	}
	for _, e := range errs {
		id := awssdk.ToString(e.SecretId)
		if !wanted[id] {
			continue
		}
		code := awssdk.ToString(e.ErrorCode)
		switch code {
		case codeResourceNotFound:
			results[id] = sources.Result{Err: notFound("BatchGetSecretValue", code, "secret "+id, region, !strings.HasPrefix(id, "arn:"))}
		case "AccessDeniedException", "DecryptionFailure", "InvalidParameterException", "InvalidRequestException":
			results[id] = sources.Result{Err: &CallError{Op: "BatchGetSecretValue", Code: code, Message: awssdk.ToString(e.Message), Hint: hintFor(code, "")}}
		default:
			fallback = append(fallback, id)
		}
	}
	for _, id := range ids {
		if _, ok := results[id]; !ok && !contains(fallback, id) {
			ce := notFound("BatchGetSecretValue", codeResourceNotFound, "secret "+id, region, !strings.HasPrefix(id, "arn:"))
			ce.Message += " (the answer listed it neither in SecretValues nor in Errors)"
			results[id] = sources.Result{Err: ce}
		}
	}
	return results, fallback
}

// perSecret reports whether err is about one secret (not found, denied,
// undecryptable), not about the service.
func perSecret(err error) bool {
	var ce *CallError
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Code {
	case codeResourceNotFound, "AccessDeniedException", "DecryptionFailure", "InvalidRequestException", "InvalidParameterException":
		return true
	}
	return false
}

// fallsBack reports whether single GetSecretValue calls may succeed where a
// batch call (err, as the SDK returned it) failed: after an AWS answer, but
// not when the credentials themselves are refused; and after any failure
// the retryer retries (a refused or reset connection, a timed-out attempt,
// a 5xx), since the batch had one attempt and the single calls get the
// retries every call gets: a secret is tried as often as a parameter.
func fallsBack(ce *CallError, err error) bool {
	if ce == nil {
		return false
	}
	switch ce.Code {
	case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "IncompleteSignatureException", "MissingAuthenticationTokenException":
		return false
	case "":
		var retryable *retry.MaxAttemptsError // the one attempt failed in a way retried
		return errors.As(err, &retryable)
	}
	return true
}

// partialARN is a secret's ARN without the six random characters Secrets
// Manager appends to the name, which is how a partial ARN names it.
func partialARN(arn string) string {
	if len(arn) > 7 && arn[len(arn)-7] == '-' {
		return arn[:len(arn)-7]
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func secretResult(str *string, bin []byte, version *string) sources.Result {
	v := sources.Value{Version: awssdk.ToString(version)}
	switch {
	case str != nil:
		v.Data = []byte(*str)
	case bin != nil:
		v.Data = bin
	default:
		return sources.Result{Err: errors.New("the secret version has neither SecretString nor SecretBinary")}
	}
	return sources.Result{Value: v}
}

func (src *SecretsManager) getSecretValue(ctx context.Context, client *smAPI, region string, ref sources.Ref) sources.Result {
	in := &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(ref.ID)}
	if ref.Stage != "" {
		in.VersionStage = awssdk.String(ref.Stage)
	}
	if ref.VersionID != "" {
		in.VersionId = awssdk.String(ref.VersionID)
	}
	var resp *secretsmanager.GetSecretValueOutput
	err := src.s.call(ctx, "GetSecretValue", func(ctx context.Context) (err error) {
		resp, err = client.GetSecretValue(ctx, in)
		return err
	})
	if err != nil {
		var ce *CallError
		if errors.As(err, &ce) && ce.Code == codeResourceNotFound {
			nf := notFound(ce.Op, ce.Code, describeSecretRef(ref), region, ref.Region == "")
			nf.Attempts = ce.Attempts
			return sources.Result{Err: nf}
		}
		return sources.Result{Err: err}
	}
	return secretResult(resp.SecretString, resp.SecretBinary, resp.VersionId)
}

func describeSecretRef(ref sources.Ref) string {
	what := "secret " + ref.ID
	switch {
	case ref.VersionID != "":
		what = fmt.Sprintf("version %s of %s", ref.VersionID, what)
	case ref.Stage != "":
		what = fmt.Sprintf("staging label %s of %s", ref.Stage, what)
	}
	return what
}

// Versions implements sources.Versioner with the fewest calls. In a region
// with two or more secrets read at AWSCURRENT, they are polled as they are
// fetched: BatchGetSecretValue, one call for up to 20 secrets (the values
// come along and are dropped). A lone secret, and a reference with a
// staging label, is polled with DescribeSecret, which reads no value and
// has the higher quota. A pinned reference needs no call. docs/aws.md has
// the figures behind the choice.
func (src *SecretsManager) Versions(ctx context.Context, refs []sources.Ref) []sources.Result {
	ctx, cancel := src.s.withDeadline(ctx)
	defer cancel()
	out := make([]sources.Result, len(refs))
	groups := src.s.plan(ctx, refs, out)
	parallel(len(groups), len(groups), func(gi int) {
		batched, described := src.pollPlan(groups[gi])
		var wg sync.WaitGroup
		if batched != nil {
			wg.Go(func() {
				src.fetchRegion(ctx, batched, out, true)
				for _, i := range batched.idx {
					out[i].Value.Data = nil
				}
			})
		}
		src.describe(ctx, described, out)
		wg.Wait()
	})
	return out
}

// pollPlan splits a region's references into those polled with a batch
// (nil when fewer than two distinct secrets, or batches are denied) and
// those polled with DescribeSecret.
func (src *SecretsManager) pollPlan(g *group) (batched, described *group) {
	src.s.mu.Lock()
	noBatch := src.s.noBatch[g.region]
	src.s.mu.Unlock()
	batched, described = &group{region: g.region}, &group{region: g.region}
	ids := map[string]bool{}
	for j, ref := range g.refs {
		to := described
		if !noBatch && ref.VersionID == "" && (ref.Stage == "" || ref.Stage == currentStage) {
			to = batched
			ids[ref.ID] = true
		}
		to.refs = append(to.refs, ref)
		to.idx = append(to.idx, g.idx[j])
	}
	if len(ids) < 2 {
		described.refs = append(described.refs, batched.refs...)
		described.idx = append(described.idx, batched.idx...)
		return nil, described
	}
	return batched, described
}

// describe polls a region's references with DescribeSecret, one call per
// secret; a pinned reference needs none.
func (src *SecretsManager) describe(ctx context.Context, g *group, out []sources.Result) {
	if len(g.refs) == 0 {
		return
	}
	client, err := src.s.smClient(ctx, g.region)
	users := map[string][]int{} // secret id -> positions in g.refs
	var ids []string
	for j, ref := range g.refs {
		switch {
		case err != nil:
			out[g.idx[j]] = sources.Result{Err: err}
		case ref.VersionID != "":
			out[g.idx[j]] = sources.Result{Value: sources.Value{Version: ref.VersionID}}
		default:
			if _, ok := users[ref.ID]; !ok {
				ids = append(ids, ref.ID)
			}
			users[ref.ID] = append(users[ref.ID], j)
		}
		out[g.idx[j]].Value.Region = g.region
	}
	parallel(src.s.opts.Parallel, len(ids), func(k int) {
		id := ids[k]
		var resp *secretsmanager.DescribeSecretOutput
		err := src.s.call(ctx, "DescribeSecret", func(ctx context.Context) (err error) {
			resp, err = client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(id)})
			return err
		})
		for _, j := range users[id] {
			ref := g.refs[j]
			res := sources.Result{Value: sources.Value{Region: g.region}}
			switch {
			case err != nil:
				var ce *CallError
				if errors.As(err, &ce) && ce.Code == codeResourceNotFound {
					err = notFound(ce.Op, ce.Code, "secret "+ref.ID, g.region, ref.Region == "")
				}
				res.Err = err
			default:
				res.Value.Version, res.Err = stageVersion(resp.VersionIdsToStages, ref)
			}
			out[g.idx[j]] = res
		}
	})
}

// stageVersion finds the version id that carries the reference's staging
// label (AWSCURRENT by default).
func stageVersion(stages map[string][]string, ref sources.Ref) (string, error) {
	want := ref.Stage
	if want == "" {
		want = currentStage
	}
	for id, labels := range stages {
		for _, l := range labels {
			if l == want {
				return id, nil
			}
		}
	}
	return "", &CallError{Op: "DescribeSecret", Code: codeResourceNotFound, Message: fmt.Sprintf("no version of secret %s has the staging label %s", ref.ID, want)}
}
