package template

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestExecErrorUnsplittable drives execError with errors whose message is
// not text/template's "template: NAME:LINE:COL: executing ..." shape, or
// names an action not in the template, as a future Go could write them:
// such a message cannot be checked for values, so it is never shown, and
// the error has no place. Only shroud's own value-free messages come
// through.
func TestExecErrorUnsplittable(t *testing.T) {
	tmpl := mustParse(t, "t.tmpl", `{{ secret "sm:prod/db:password" }}`)
	const hidden = "the template failed; text/template's message is not shown, as it may hold a secret value"
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("template: t.tmpl: a new message about " + canary), hidden},
		{errors.New(canary), hidden},
		{fmt.Errorf("template: t.tmpl:1:3: executing %q at <nowhere>: %s", "t.tmpl", canary), hidden},
		{fmt.Errorf("template: other.tmpl:1:3: executing %q at <secret>: %s", "other.tmpl", canary), hidden},
		{fmt.Errorf("template: t.tmpl:x:3: %s", canary), hidden},
		{fmt.Errorf("%s: %w", canary, failf("the value is not valid base64")), "the value is not valid base64"},
		{fmt.Errorf("%s: %w", canary, &lookupError{errors.New(`reference "sm:prod/db:password": not found`)}), `reference "sm:prod/db:password": not found`},
	} {
		err := tmpl.execError(tc.err)
		var te *Error
		if !errors.As(err, &te) {
			t.Fatalf("%v: %T is not an *Error", tc.err, err)
		}
		if te.Msg != tc.want || te.Line != 0 || te.Col != 0 {
			t.Errorf("%v:\n  got  %q at %d:%d\n  want %q, no place", tc.err, te.Msg, te.Line, te.Col, tc.want)
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("%v: the error shows the value: %v", tc.err, err)
		}
	}
}
