package config

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// AccessKeys are long-lived secrets of their own: whoever reads a file or a
// task definition that holds one can use it. shroud refuses them there and
// points to a role; in the environment they still work.

// Names an AccessKey goes by, upper-cased with only letters and digits
// kept: a cloud's prefix and a credential's suffix
// (AWS_SECRET_ACCESS_KEY, aws.access_key_id, ALIBABA_CLOUD_ACCESS_KEY_SECRET),
// or one of the unambiguous suffixes alone (access_key_id).
var (
	awsPrefixes        = []string{"AWS"}
	alibabaPrefixes    = []string{"ALIBABACLOUD", "ALIBABA", "ALICLOUD", "ALIYUN"}
	credentialSuffixes = []string{"ACCESSKEYID", "SECRETACCESSKEY", "ACCESSKEYSECRET", "SESSIONTOKEN", "SECURITYTOKEN", "ACCESSKEY", "SECRETKEY"}
	unambiguous        = []string{"ACCESSKEYID", "SECRETACCESSKEY", "ACCESSKEYSECRET"}
)

// refuseAccessKey returns the error for name, a config key
// ("aws.access_key_id") or a variable of an ECS task definition's
// environment, when it is a name an AccessKey goes by, and nil for any
// other name. where says where it was found. The error names a role to use
// instead, never the value.
func refuseAccessKey(where, name string) error {
	n := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return -1
	}, name)
	suffix := slices.IndexFunc(credentialSuffixes, func(s string) bool { return strings.HasSuffix(n, s) })
	if suffix < 0 {
		return nil
	}
	prefix := strings.TrimSuffix(n, credentialSuffixes[suffix])
	alibaba := slices.Contains(alibabaPrefixes, prefix)
	switch {
	case alibaba || slices.Contains(awsPrefixes, prefix):
	case prefix == "" && slices.Contains(unambiguous, n):
		alibaba = n == "ACCESSKEYSECRET" // Alibaba's name for the secret half
	default:
		return nil
	}
	role := "give shroud a role instead: on ECS the task role (or [aws] role_arn), on EKS IRSA or Pod Identity, on EC2 an instance profile"
	if alibaba {
		role = `give shroud a RAM role instead: RRSA on ACK ([alibaba] credentials = "rrsa"), the ECS instance RAM role ("ecs_ram_role"), or STS tokens`
	}
	return fmt.Errorf("%s: %s holds an AccessKey, which does not belong where anyone who can read it can use it; %s. "+
		"An AccessKey in shroud's environment still works", where, name, role)
}

// logEnvAccessKeys notes at debug level the long-term AccessKeys of the
// environment shroud runs with: they work, but a role would not need them.
func logEnvAccessKeys(environ []string) {
	set := map[string]bool{}
	for _, kv := range environ {
		if name, value, _ := strings.Cut(kv, "="); value != "" {
			set[name] = true
		}
	}
	for _, kt := range [][2]string{{"AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"}, {"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_SECURITY_TOKEN"}} {
		if set[kt[0]] && !set[kt[1]] {
			slog.Debug("credentials: a long-term AccessKey in the environment; a role needs none (see shroud policy)", "variable", kt[0])
		}
	}
}
