package alibaba

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alibabacloud-go/tea/tea"

	"github.com/shroud-dev/shroud/internal/backoff"
	"github.com/shroud-dev/shroud/sources"
)

// APIError is an error answer of the KMS API: its code names the problem
// (Forbidden.ResourceNotFound, Forbidden.NoPermission, Rejected.Throttling,
// ...). It never holds a secret value.
type APIError struct {
	Action    string
	Code      string
	Status    int
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "KMS %s: %s", e.Action, e.Code)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": " + strings.TrimSuffix(e.Message, "."))
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	return b.String()
}

// call runs one API call with a client of the pool, with retries:
// throttling is retried until the context's deadline, however many
// attempts that takes (a fleet starting at once must wait its turn in the
// quota, not fail); 5xx answers and network errors until MaxAttempts.
// Waits are exponential with full jitter (fullJitter).
// The SDK takes no context, so a call runs in its own goroutine and is
// abandoned, bounded by CallTimeout, when the deadline passes first; the
// client returns to the pool when its call is done.
func call[T any](ctx context.Context, s *Source, clients *pool, action string, fn func(*client) (T, error)) (T, error) {
	var (
		zero T
		last error // what the previous attempt met
	)
	for attempt := 1; ; attempt++ {
		type result struct {
			v   T
			err error
		}
		done := make(chan result, 1)
		go func() {
			c, err := clients.get()
			if err != nil {
				done <- result{err: err}
				return
			}
			defer clients.put(c)
			v, err := fn(c)
			done <- result{v, err}
		}()
		var err error
		select {
		case r := <-done:
			if r.err == nil {
				return r.v, nil
			}
			err = apiError(action, r.err)
		case <-ctx.Done():
			if last != nil {
				return zero, fmt.Errorf("%w; then %v", last, deadlineError(ctx, s, attempt))
			}
			return zero, deadlineError(ctx, s, attempt)
		}
		last = err
		throttled := isThrottling(err)
		if !retryable(err) || (!throttled && attempt >= s.opts.MaxAttempts) {
			if attempt > 1 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt)
			}
			return zero, err
		}
		select {
		case <-time.After(s.backoff(attempt, throttled)):
		case <-ctx.Done():
			return zero, fmt.Errorf("%w; then %v", err, deadlineError(ctx, s, attempt))
		}
	}
}

func deadlineError(ctx context.Context, s *Source, attempts int) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer from KMS within the %s deadline ([alibaba] timeout), %d attempt(s)", s.opts.Timeout, attempts)
	}
	return ctx.Err()
}

// fullJitter is exponential backoff with full jitter, so that a fleet of
// wrappers throttled together does not retry together: a random wait up to
// base·2^attempt, from 1s up to 20s after throttling (a wrapper waiting its
// turn in a saturated quota asks less often), else from 100ms up to 5s.
func fullJitter(attempt int, throttled bool) time.Duration {
	base, ceiling := 100*time.Millisecond, 5*time.Second
	if throttled {
		base, ceiling = time.Second, 20*time.Second
	}
	return backoff.FullJitter(attempt+1, backoff.Scale(base), backoff.Scale(ceiling))
}

// isThrottling reports whether KMS refused the call over a QPS quota
// (Rejected.Throttling, Throttling.User, ...).
func isThrottling(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && (strings.Contains(apiErr.Code, "Throttling") || apiErr.Status == http.StatusTooManyRequests)
}

// retryable reports whether another attempt may succeed.
func retryable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status >= 500 || isThrottling(err) || apiErr.Code == "ServiceUnavailable"
	}
	var credErr *CredentialError
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &credErr) || errors.As(err, &certErr) {
		return false // will not heal by itself
	}
	var netErr net.Error
	var urlErr *url.Error
	return errors.As(err, &netErr) || errors.As(err, &urlErr)
}

// apiError turns the SDK's error into an *APIError when KMS answered.
// The SDK's own message is multi-line and repeats the whole answer; only its
// fields are kept.
func apiError(action string, err error) error {
	var sdkErr *tea.SDKError
	if !errors.As(err, &sdkErr) || sdkErr.Code == nil {
		return opaque(action, err)
	}
	e := &APIError{Action: action, Code: tea.StringValue(sdkErr.Code), Status: tea.IntValue(sdkErr.StatusCode)}
	var data struct{ Message, RequestId string }
	if sdkErr.Data != nil && json.Unmarshal([]byte(*sdkErr.Data), &data) == nil {
		e.Message, e.RequestID = data.Message, data.RequestId
	}
	return e
}

// opaque keeps errors that cannot hold a response body (network, TLS,
// credentials) and replaces any other: a decoding error of the SDK's JSON
// parser quotes the text around the fault, which may be the secret value.
func opaque(action string, err error) error {
	var (
		urlErr  *url.Error
		netErr  net.Error
		credErr *CredentialError
	)
	if errors.As(err, &urlErr) || errors.As(err, &netErr) || errors.As(err, &credErr) {
		return err
	}
	return fmt.Errorf("KMS %s: the answer could not be decoded (the decoder's message is not shown: it may quote the value)", action)
}

// explain adds what a person needs to fix the most common failures.
func (s *Source) explain(err error, ref sources.Ref, region string) error {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.Code {
	case "Forbidden.ResourceNotFound":
		what := "the secret " + ref.ID
		switch {
		case ref.VersionID != "":
			what += " with version id " + ref.VersionID
		case ref.Stage != "":
			what += " with stage " + ref.Stage
		}
		hint := fmt.Sprintf(": %s does not exist in region %s", what, region)
		if ref.Region == "" {
			hint += "; a kms: name is looked up in the default region only: for a secret in another region or account, use its full ARN acs:kms:REGION:ACCOUNT:secret/NAME"
		}
		return &hinted{err, hint}
	case "Forbidden.NoPermission":
		return &hinted{err, fmt.Sprintf(": the credentials (%s) may not read this secret; grant kms:GetSecretValue on its ARN in a RAM policy", s.credentialName())}
	}
	return err
}

// hinted is an error with advice appended; it unwraps to the error, so
// errors.As still finds the *APIError.
type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string { return h.err.Error() + h.hint }
func (h *hinted) Unwrap() error { return h.err }
