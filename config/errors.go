package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// ListErrors formats several problems one per line; nil when there are
// none.
func ListErrors(errs *multierror.Error) error {
	if errs == nil || len(errs.Errors) == 0 {
		return nil
	}
	errs.ErrorFormat = FormatErrors
	return errs
}

// FormatErrors writes one problem per line; a single problem stays on one.
func FormatErrors(es []error) string {
	if len(es) == 1 {
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(es))
	for _, e := range es {
		b.WriteString("\n  - ")
		b.WriteString(strings.ReplaceAll(e.Error(), "\n", "\n    "))
	}
	return b.String()
}

// UsageError is a problem with how shroud was invoked, such as flags that
// need each other, rather than with the config: the command line is wrong,
// and shroud exits as for a usage error.
type UsageError struct{ Err error }

// Usagef returns a *UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }
