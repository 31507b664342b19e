package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// rawAWS is the [aws] table: how shroud reaches AWS.
type rawAWS struct {
	// Profile selects a profile of the shared AWS config files.
	Profile string `toml:"profile"`
	// RoleARN is assumed only to fetch secrets (the ECS execution-role
	// pattern): the app's own role needs no secrets access.
	RoleARN     string `toml:"role_arn"`
	ExternalID  string `toml:"external_id"`
	SessionName string `toml:"session_name"`
	// Timeout is the deadline of each resolve of AWS values (the first
	// render and every refresh), retries included ("30s" by default).
	Timeout string `toml:"timeout"`
	// CallTimeout bounds one HTTP attempt ("5s" by default); a timed-out
	// attempt is retried.
	CallTimeout string `toml:"call_timeout"`
}

// rawEnvFrom is one [[env_from]] entry: every member of a JSON object, or
// every parameter under an SSM path, becomes an env var.
type rawEnvFrom struct {
	// Path is an SSM path, read recursively with GetParametersByPath.
	Path string `toml:"path"`
	// ValueFrom is a reference whose value is a JSON object.
	ValueFrom string `toml:"value_from"`
	// Prefix is put before every name.
	Prefix string `toml:"prefix"`
}

// EnvFrom binds many env vars at once: every member of the JSON object the
// reference resolves to (for an SSM path, every parameter under it),
// named Prefix + the key upper-cased, with every character outside
// [A-Z0-9_] turned into '_'.
type EnvFrom struct {
	Ref    sources.Ref
	Prefix string
	Origin string
}

// parsePositiveDuration is parseDuration for deadlines: "" is unset (0),
// and zero or less is an error.
func parsePositiveDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration like \"30s\" or \"2m\"", s)
	}
	return d, nil
}

// aws checks [aws] and returns the AWS backends' options, the region
// aside (Load sets it).
func (b *builder) aws(a rawAWS) awssrc.Options {
	at := b.table("aws")
	timeout, err := parsePositiveDuration(a.Timeout)
	if err != nil {
		b.add("%s: timeout %v", at, err)
	}
	callTimeout, err := parsePositiveDuration(a.CallTimeout)
	if err != nil {
		b.add("%s: call_timeout %v", at, err)
	}
	if a.RoleARN != "" && !validIAMRoleARN(a.RoleARN) {
		b.add("%s: role_arn %q is not an IAM role ARN like \"arn:aws:iam::123456789012:role/app-secrets-reader\"", at, a.RoleARN)
	}
	if a.RoleARN == "" && (a.ExternalID != "" || a.SessionName != "") {
		b.add("%s: external_id and session_name apply to role_arn, which is not set", at)
	}
	if n := a.SessionName; n != "" && (len(n) < 2 || len(n) > 64 || strings.IndexFunc(n, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || strings.ContainsRune("_+=,.@-", r))
	}) >= 0) {
		b.add("%s: session_name %q must be 2 to 64 letters, digits or _+=,.@-", at, n)
	}
	return awssrc.Options{Profile: a.Profile, RoleARN: a.RoleARN, ExternalID: a.ExternalID,
		SessionName: a.SessionName, Timeout: timeout, CallTimeout: callTimeout}
}

// envFrom checks the [[env_from]] entries and returns their bindings.
func (b *builder) envFrom(raw []rawEnvFrom) []EnvFrom {
	var out []EnvFrom
	for i, e := range raw {
		at := b.entry("env_from", i)
		var ref sources.Ref
		ok := true
		switch {
		case e.Path == "" && e.ValueFrom == "":
			b.add("%s: give path (an SSM path such as \"/prod/app/\") or value_from (a reference whose value is a JSON object)", at)
			ok = false
		case e.Path != "" && e.ValueFrom != "":
			b.add("%s: give path or value_from, not both", at)
			ok = false
		case e.Path != "":
			if err := checkSSMPath(e.Path); err != nil {
				b.add("%s: path %q %v", at, e.Path, err)
				ok = false
			}
			ref = sources.PathRef(e.Path)
		default:
			var err error
			if ref, err = b.ref(e.ValueFrom); err != nil {
				b.add("%s: %v", at, err)
				ok = false
			}
		}
		if e.Prefix != "" && !sources.ValidEnvName(e.Prefix) {
			b.add("%s: prefix %q must be letters, digits and _, not starting with a digit", at, e.Prefix)
			ok = false
		}
		if ok {
			out = append(out, EnvFrom{Ref: ref, Prefix: e.Prefix, Origin: at})
		}
	}
	return out
}

// validIAMRoleARN accepts arn:PARTITION:iam::ACCOUNT:role/NAME.
func validIAMRoleARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && strings.HasPrefix(parts[1], "aws") && parts[2] == "iam" &&
		parts[3] == "" && len(parts[4]) == 12 && strings.Trim(parts[4], "0123456789") == "" &&
		strings.HasPrefix(parts[5], "role/") && len(parts[5]) > len("role/")
}

// checkSSMPath applies GetParametersByPath's rules for a path.
func checkSSMPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return errors.New("must start with '/'")
	case strings.HasPrefix(p, "/aws/"):
		return errors.New("is reserved by AWS: GetParametersByPath cannot list /aws/ paths")
	case strings.Contains(p, "//"):
		return errors.New("has an empty segment ('//')")
	case strings.IndexFunc(p, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || strings.ContainsRune("_.-/", r))
	}) >= 0:
		return errors.New("may hold letters, digits and _ . - / only")
	}
	return nil
}
