package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/shroud-dev/shroud/internal/plural"
)

// CallError is a failed AWS call, reduced to what a person needs to fix it:
// the operation, the AWS error code, AWS's message and shroud's hint.
// AWS error messages name resources and principals, never secret values,
// and nothing of a response body beyond them is kept.
type CallError struct {
	// Op is the API operation, such as "GetSecretValue".
	Op string
	// Code is the AWS error code ("ResourceNotFoundException",
	// "ParameterNotFound", "AccessDeniedException", ...); empty when no
	// answer came (timeouts, network errors).
	Code     string
	Message  string
	Hint     string
	Attempts int
}

func (e *CallError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Code != "" {
		b.WriteString(e.Code)
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(strings.TrimSuffix(e.Message, "."))
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Error codes shroud reports for answers that carry none of their own.
const (
	codeParameterNotFound = "ParameterNotFound"
	codeResourceNotFound  = "ResourceNotFoundException"
)

// call runs one SDK call and turns its failure into a *CallError with the
// retries it took.
func (s *Session) call(ctx context.Context, op string, do func(ctx context.Context) error) error {
	rec := &attempts{}
	err := do(context.WithValue(ctx, attemptsKey{}, rec))
	if err == nil {
		return nil
	}
	failed, last := rec.get()
	return s.describe(ctx, op, err, failed, last)
}

// describe explains err, the failure of a call whose retryable attempts
// failed failed times, the last with last.
func (s *Session) describe(ctx context.Context, op string, err error, failed int, last error) *CallError {
	ce := &CallError{Op: op, Attempts: failed + 1}
	var maxErr *retry.MaxAttemptsError
	switch {
	case errors.Is(err, errGaveUp):
		// The retryer's sentinel, joined to the last failure by the SDK
		// (with a newline), is no cause: the last failure is.
		ce.Attempts = failed
		if last != nil {
			err = last
		}
	case errors.As(err, &maxErr):
		ce.Attempts = maxErr.Attempt
	}
	if ctx.Err() != nil {
		// The deadline of the resolve (at start-up or in a refresh), or
		// the caller, stopped the call: say what the last attempt met, if
		// any.
		ce.Attempts = 0
		if errors.Is(context.Cause(ctx), errDeadline) {
			ce.Message = fmt.Sprintf("no answer within the deadline of %s ([aws] timeout)", s.opts.Timeout)
			ce.Hint = "raise [aws] timeout, or check the network and the endpoint"
		} else {
			ce.Message = "canceled"
		}
		if last != nil {
			ce.Code = apiCode(last)
			ce.Message += fmt.Sprintf(" (%s failed, the last with: %s)", plural.Count(failed, "attempt"), shortCause(s, last))
		}
		return ce
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		ce.Code = ae.ErrorCode()
		ce.Message = ae.ErrorMessage()
		ce.Hint = hintFor(ce.Code, op)
		return ce
	}
	ce.Message = shortCause(s, err)
	return ce
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// shortCause describes a failure that is not an AWS answer: a timed-out
// attempt, a network error, an undecodable answer, missing credentials.
func shortCause(s *Session, err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return strings.TrimSuffix(ae.ErrorMessage(), ".")
	}
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var de *smithy.DeserializationError
	switch {
	case errors.As(err, &de) && status >= 300:
		// An error answer without AWS's error document: a proxy's or a
		// load balancer's page. Its body may hold anything; not shown.
		return fmt.Sprintf("an answer that is not AWS's (HTTP %d %s) could not be decoded", status, http.StatusText(status))
	case errors.As(err, &de):
		return "the answer could not be decoded" // its snapshot may hold a value
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("no answer within the call timeout of %s ([aws] call_timeout)", s.opts.CallTimeout)
	}
	if status >= 500 {
		return fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error() // "dial tcp HOST:PORT: connect: connection refused"
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	msg := err.Error()
	if strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found") {
		return "no AWS credentials: set AWS_PROFILE or [aws] profile, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with a role (ECS task role, IRSA, EKS Pod Identity, instance profile)"
	}
	return msg
}

func hintFor(code, op string) string {
	switch code {
	case "AccessDeniedException", "AccessDenied":
		return "the credentials in use (or [aws] role_arn) lack this permission; shroud check --permissions names it, shroud policy prints the policy shroud needs"
	case "DecryptionFailure":
		return "the KMS key that encrypts the secret is disabled, or the credentials lack kms:Decrypt on it"
	case "UnrecognizedClientException", "InvalidSignatureException", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredTokenException", "ExpiredToken":
		return "the AWS credentials are invalid or expired"
	}
	if _, throttled := retry.DefaultThrottleErrorCodes[code]; throttled {
		return "the account's request quota in this region is exhausted; see docs/aws.md for the call volume and quotas"
	}
	return ""
}

// notFound is the error of a name or ARN that has no object in region.
func notFound(op, code, what, region string, byName bool) *CallError {
	ce := &CallError{Op: op, Code: code, Message: fmt.Sprintf("%s not found in %s", what, region)}
	if byName {
		ce.Message += ", the default region"
		ce.Hint = "a name resolves in the default region only; a reference to another region needs the full ARN"
	}
	return ce
}
