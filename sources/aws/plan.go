package aws

import (
	"cmp"

	"github.com/shroud-dev/shroud/sources"
)

var (
	_ sources.Planner = (*SSM)(nil)
	_ sources.Planner = (*SSMPath)(nil)
	_ sources.Planner = (*SecretsManager)(nil)
)

// planGroups groups objects by region as plan does, without asking for
// the default region: "default" stands for it when neither --region nor
// the config gives it.
func (s *Session) planGroups(objects []sources.Ref) []*group {
	var groups []*group
	byRegion := map[string]*group{}
	for i, ref := range objects {
		groups = addToGroup(groups, byRegion, cmp.Or(ref.Region, s.opts.Region, "default"), ref, i)
	}
	return groups
}

// PlanCalls implements sources.Planner: GetParameters, ten names a call.
func (src *SSM) PlanCalls(objects []sources.Ref) []sources.PlannedCall {
	var calls []sources.PlannedCall
	for _, g := range src.s.planGroups(objects) {
		calls = sources.CountCalls(calls, g.region, "GetParameters", len(splitSSM(g)))
	}
	return calls
}

// PlanCalls implements sources.Planner: one listing a path (more when it
// has several pages).
func (src *SSMPath) PlanCalls(objects []sources.Ref) []sources.PlannedCall {
	var calls []sources.PlannedCall
	for _, g := range src.s.planGroups(objects) {
		calls = sources.CountCalls(calls, g.region, "GetParametersByPath", len(g.refs))
	}
	return calls
}

// PlanCalls implements sources.Planner: BatchGetSecretValue for current
// versions, twenty a call, and GetSecretValue for the others (and for all
// where batches were refused).
func (src *SecretsManager) PlanCalls(objects []sources.Ref) []sources.PlannedCall {
	var calls []sources.PlannedCall
	for _, g := range src.s.planGroups(objects) {
		src.s.mu.Lock()
		noBatch := src.s.noBatch[g.region]
		src.s.mu.Unlock()
		_, chunks, singles := planReads(g.refs, noBatch)
		calls = sources.CountCalls(calls, g.region, "BatchGetSecretValue", len(chunks))
		calls = sources.CountCalls(calls, g.region, "GetSecretValue", len(singles))
	}
	return calls
}
