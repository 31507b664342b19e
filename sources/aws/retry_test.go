package aws_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/internal/awsfake"
	"github.com/shroud-dev/shroud/sources"
	awssrc "github.com/shroud-dev/shroud/sources/aws"
)

// TestConnectionRefusedSameRetries: with nothing listening, a Secrets
// Manager secret gets as many attempts as an SSM parameter, MaxAttempts,
// and the error says so. Before, a batch of secrets gave up after its one
// BatchGetSecretValue attempt while SSM made five.
func TestConnectionRefusedSameRetries(t *testing.T) {
	newFake(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every connection is refused
	t.Setenv("AWS_ENDPOINT_URL", "http://"+addr)
	_, err = resolve(t, resolver(awssrc.Options{MaxAttempts: 3, Timeout: 20 * time.Second}), "/x", "sm:a", "sm:b")
	msgs := errorsOf(t, err)
	for ref, op := range map[string]string{"/x": "GetParameters", "sm:a": "GetSecretValue", "sm:b": "GetSecretValue"} {
		if msg := msgs[ref]; !strings.Contains(msg, op+": ") || !strings.Contains(msg, "connection refused") || !strings.Contains(msg, "(after 3 attempts)") {
			t.Errorf("%s: %s; want %s, connection refused, after 3 attempts", ref, msg, op)
		}
	}
}

// TestDeadlineSaysWhichTimeout: a resolve cut short by [aws] timeout says
// so without calling it a start-up deadline, which a refresh (a version
// poll here) is not.
func TestDeadlineSaysWhichTimeout(t *testing.T) {
	f := newFake(t)
	f.PutSecretString("us-east-1", "x", canary)
	r := resolver(awssrc.Options{CallTimeout: 300 * time.Millisecond, Timeout: time.Second, MaxAttempts: 50})
	mustResolve(t, r, "sm:x")
	f.SetFaults("", awsfake.Faults{HangFraction: 1})
	src, _ := r.Source(sources.SecretsManager)
	res := src.(sources.Versioner).Versions(context.Background(), parse(t, "sm:x"))
	msg := res[0].Err.Error()
	if !strings.Contains(msg, "no answer within the deadline of 1s ([aws] timeout)") || strings.Contains(msg, "start-up") {
		t.Errorf("a version poll cut short: %s", msg)
	}
}
