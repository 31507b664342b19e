package sources

import (
	"fmt"
	"strings"
)

// A Planner is a Source that can say which calls a Fetch would make,
// without making any: what --log-level debug shows of a plan.
type Planner interface {
	// PlanCalls lists the calls a Fetch of objects (as Resolve passes
	// them: unique, without JSON keys) makes when each succeeds at once.
	PlanCalls(objects []Ref) []PlannedCall
}

// PlannedCall is a number of calls of one operation in one region.
type PlannedCall struct {
	// Region is where the calls go; "default" for references by name when
	// the default region is known only by asking.
	Region string
	Op     string
	Count  int
}

// Planned is how Resolve would fetch one backend's references.
type Planned struct {
	Backend    Backend
	References int
	// Objects are the distinct objects fetched: references that differ in
	// their JSON key only share one.
	Objects int
	// Calls are the backend's calls, by region; nil for a source that is
	// not a Planner (file:, env: read locally).
	Calls []PlannedCall
}

// CallsString writes Calls as "2 GetParameters in us-east-1, 1
// BatchGetSecretValue in eu-west-1".
func (p Planned) CallsString() string {
	parts := make([]string, len(p.Calls))
	for i, c := range p.Calls {
		parts[i] = fmt.Sprintf("%d %s in %s", c.Count, c.Op, c.Region)
	}
	return strings.Join(parts, ", ")
}

// Plan says how Resolve would fetch refs, backend by backend in the order
// of their first reference. It calls nothing and holds no value.
func (r *Resolver) Plan(refs []Ref) []Planned {
	var out []Planned
	at := map[Backend]int{}
	objects := map[Backend][]Ref{}
	seen := map[Ref]bool{}
	for _, ref := range refs {
		i, ok := at[ref.Backend]
		if !ok {
			i = len(out)
			at[ref.Backend] = i
			out = append(out, Planned{Backend: ref.Backend})
		}
		out[i].References++
		if obj := ref.Object(); !seen[obj] {
			seen[obj] = true
			out[i].Objects++
			objects[ref.Backend] = append(objects[ref.Backend], obj)
		}
	}
	for i, p := range out {
		if pl, ok := r.sources[p.Backend].(Planner); ok {
			out[i].Calls = pl.PlanCalls(objects[p.Backend])
		}
	}
	return out
}

// CountCalls adds up calls of one operation per region, in the order
// regions come: a Planner's helper.
func CountCalls(calls []PlannedCall, region, op string, n int) []PlannedCall {
	if n == 0 {
		return calls
	}
	for i, c := range calls {
		if c.Region == region && c.Op == op {
			calls[i].Count += n
			return calls
		}
	}
	return append(calls, PlannedCall{Region: region, Op: op, Count: n})
}
