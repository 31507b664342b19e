package alibaba

// ListRefused reports whether ListSecretVersionIds was refused
// (Forbidden.NoPermission), so versions were polled with GetSecretValue
// instead: what a policy that grants kms:GetSecretValue alone costs.
func (s *Source) ListRefused() bool { return s.listDenied.Load() }
