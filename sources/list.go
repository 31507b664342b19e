package sources

import "github.com/shroud-dev/shroud/internal/jsonform"

// SSMPath is the backend of SSM path listings ([[env_from]] path): a
// reference to every parameter under a path, recursively, in the default
// region. Its value is a JSON object whose keys are the parameter names
// relative to the path and whose members are the values, so a listing is
// expanded into env vars exactly as a JSON object secret is. Its version
// changes when a parameter under the path is added, removed or updated.
//
// The reference grammar has no syntax for it; PathRef builds one.
const SSMPath Backend = "ssm-path"

// PathRef returns the reference to every parameter under the SSM path.
func PathRef(path string) Ref {
	return Ref{Raw: path, Backend: SSMPath, ID: path}
}

// ObjectFields splits a JSON object value into its members, as json-key
// selection does: a string member is its text, any other member keeps its
// compact JSON form. The error never quotes the value.
func ObjectFields(data []byte) (map[string][]byte, error) {
	return jsonform.Fields(data)
}
