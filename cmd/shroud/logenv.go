package main

import (
	"strings"

	"github.com/shroud-dev/shroud/inject"
)

// plainEnv is the child's environment without the variables bound to
// secrets: what the log options env and env-regex may copy into records. A
// variable is plain when shroud's own environment (base) or a literal of
// the spec (an ECS container's environment) gives it and no binding
// (config, --secret, --env-refs, env_from) set it.
func plainEnv(base []string, spec *inject.Spec, m *inject.Materialized) map[string]string {
	bound := make(map[string]bool, len(spec.Env)+len(m.Env))
	for _, e := range spec.Env {
		bound[e.Name] = true
	}
	for name, v := range m.Env {
		if literal, ok := spec.Plain[name]; !ok || literal != v {
			bound[name] = true // a secret, or env_from's
		}
	}
	out := make(map[string]string, len(base)+len(spec.Plain))
	for _, kv := range base {
		if name, v, _ := strings.Cut(kv, "="); !bound[name] {
			out[name] = v
		}
	}
	for name, v := range spec.Plain {
		if !bound[name] {
			out[name] = v // the spec's literal wins over base, as in m.Environ
		}
	}
	return out
}
